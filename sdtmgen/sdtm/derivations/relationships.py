"""RELREC: record-level links between domains where the CRF links them (e.g. CM line -> AE line)."""

from __future__ import annotations

from typing import Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from sdtmgen.sdtm.derivations.base import DeriveContext, Derivation, register_derivation


class LinkSide(BaseModel):
    model_config = ConfigDict(extra="forbid")

    domain: str = Field(description="the domain of these records")
    key: str = Field(description="variable (or _TEMPORARY) holding the identifier the two sides share")


class Link(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="prefix of the RELIDs of this link (RELID = name-n)")
    left: LinkSide = Field(description="the records pointing at a parent record (each of its records is related)")
    right: LinkSide = Field(description="the parent records: one RELID per linked right-side record")
    reltype: str | None = Field(None, description="RELTYPE of the pairs (ONE, MANY), empty by default")


@register_derivation("record_links", "RELREC pairs for records whose link keys match within a subject",
                     example="{derive: record_links, links: [{name: AECM, left: {domain: CM, key: _AENO}, right: {domain: AE, key: AESPID}}]}")
class RecordLinks(Derivation):
    derive: Literal["record_links"]
    links: list[Link] = Field(description="each {name, left: {domain, key}, right: {domain, key}, reltype}: records whose keys are equal within a subject are related")

    def produces(self) -> set[str]:
        return {"STUDYID", "RDOMAIN", "USUBJID", "IDVAR", "IDVARVAL", "RELTYPE", "RELID"}

    def needs(self) -> set[tuple[str, str]]:
        found = set()
        for link in self.links:
            for side in (link.left, link.right):
                found |= {(side.domain, side.key), (side.domain, f"{side.domain}SEQ")}
        return found

    def apply(self, ctx: DeriveContext) -> None:
        parts = []
        for link in self.links:
            sides = []
            for side in (link.left, link.right):
                frame = ctx.datasets[side.domain]
                key = frame[side.key].astype("string[pyarrow]").str.strip()
                sides.append(pd.DataFrame({"USUBJID": frame["USUBJID"], "_K": key,
                                           "_SEQ": frame[f"{side.domain}SEQ"]}).dropna(subset=["_K"]))
            pairs = sides[0].merge(sides[1], on=["USUBJID", "_K"], suffixes=("_L", "_R"))
            pairs = pairs.sort_values(["USUBJID", "_SEQ_R", "_SEQ_L"], kind="mergesort").reset_index(drop=True)
            # one RELID per linked parent record (right side), grouping every left record that points at it
            pairs["RELID"] = link.name + "-" + (pairs.groupby(["USUBJID", "_SEQ_R"], sort=False).ngroup() + 1).astype(str)
            for side, suffix in ((link.left, "_L"), (link.right, "_R")):
                rows = pairs.drop_duplicates(["USUBJID", "_SEQ" + suffix, "RELID"])
                parts.append(pd.DataFrame({"USUBJID": rows["USUBJID"], "RDOMAIN": side.domain,
                                           "IDVAR": f"{side.domain}SEQ",
                                           "IDVARVAL": rows["_SEQ" + suffix].astype("int64").astype(str),
                                           "RELTYPE": link.reltype, "RELID": rows["RELID"]}))
        relrec = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=list(self.produces()))
        relrec.insert(0, "STUDYID", ctx.study.studyid)
        ctx.frame = relrec
