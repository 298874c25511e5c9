"""--SEQ: 1..n per subject in the domain's key order."""

from __future__ import annotations

from typing import Literal

from sdtmgen.sdtm.derivations.base import DeriveContext, Derivation, register_derivation


def sort_by_keys(frame, keys: list[str]):
    """Stable sort by the key variables present, then by raw file order for ties."""
    by = [k for k in keys if k in frame.columns]
    tie = [c for c in ("_FILE", "_ROW") if c in frame.columns]
    return frame.sort_values(by + tie, kind="mergesort", na_position="first").reset_index(drop=True)


@register_derivation("seq", "sequence number 1..n within subject, in the domain's key order")
class Seq(Derivation):
    derive: Literal["seq"]
    target: str
    by: str = "USUBJID"

    def apply(self, ctx: DeriveContext) -> None:
        keys = [k for k in ctx.domain.keys if k != self.target]
        frame = sort_by_keys(ctx.frame, keys)
        frame[self.target] = (frame.groupby(self.by, sort=False).cumcount() + 1).astype("float64")
        ctx.frame = frame
