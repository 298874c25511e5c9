"""--SEQ: 1..n per subject in the domain's key order (the numbering is ``sdtmgen.finalise``'s, shared with ADaM)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from sdtmgen.finalise import number_records
from sdtmgen.sdtm.derivations.base import DeriveContext, Derivation, register_derivation


@register_derivation("seq", "sequence number 1..n within subject, in the domain's key order",
                     example="{derive: seq, target: AESEQ}")
class Seq(Derivation):
    derive: Literal["seq"]
    target: str = Field(description="the --SEQ variable")
    by: str = Field("USUBJID", description="numbering restarts for each value of this variable")

    def apply(self, ctx: DeriveContext) -> None:
        # mapped records come in raw order: sorted at once (likely_sorted=False), the columns moved, not copied
        ctx.frame = number_records(ctx.frame, ctx.domain.keys, self.target, self.by, likely_sorted=False)
