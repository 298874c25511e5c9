"""--SEQ: 1..n per subject in the domain's key order."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from pydantic import Field

from sdtmgen.sdtm.derivations.base import DeriveContext, Derivation, register_derivation
from sdtmgen.sdtm.derivations.ordering import cumcount, factorize, key_order, move_rows, sort_columns, take_rows


def sort_by_keys(frame: pd.DataFrame, keys: list[str], likely_sorted: bool = True) -> pd.DataFrame:
    """Stable sort by the key variables present (missing first), then by raw file order for ties.

    Returns ``frame`` itself (with a 0..n-1 index) when it is already in that order.
    """
    return take_rows(frame, key_order(frame, sort_columns(frame, keys), likely_sorted))


@register_derivation("seq", "sequence number 1..n within subject, in the domain's key order",
                     example="{derive: seq, target: AESEQ}")
class Seq(Derivation):
    derive: Literal["seq"]
    target: str = Field(description="the --SEQ variable")
    by: str = Field("USUBJID", description="numbering restarts for each value of this variable")

    def apply(self, ctx: DeriveContext) -> None:
        keys = [k for k in ctx.domain.keys if k != self.target]
        # mapped records come in raw order: sort at once, moving the columns rather than copying the frame
        frame = move_rows(ctx.frame, key_order(ctx.frame, sort_columns(ctx.frame, keys), likely_sorted=False))
        codes, _ = factorize(frame[self.by])
        frame[self.target] = np.where(codes >= 0, cumcount(codes) + 1.0, np.nan)
        ctx.frame = frame
