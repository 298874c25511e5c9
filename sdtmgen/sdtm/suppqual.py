"""SUPP-- datasets from the spec's supplemental qualifiers (SDTMIG 3.4 section 8.4)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from sdtmgen.arrowtext import arrow_text, as_arrow_text
from sdtmgen.errors import RawDataError

from sdtmgen.spec.models import DomainSpec, Variable

SUPP_VARIABLES = [
    Variable(name="STUDYID", label="Study Identifier", type="Char", core="Req", role="Identifier", origin="Assigned"),
    Variable(name="RDOMAIN", label="Related Domain Abbreviation", type="Char", core="Req", role="Identifier", origin="Assigned"),
    Variable(name="USUBJID", label="Unique Subject Identifier", type="Char", core="Req", role="Identifier", origin="Assigned"),
    Variable(name="IDVAR", label="Identifying Variable", type="Char", core="Exp", role="Identifier", origin="Assigned"),
    Variable(name="IDVARVAL", label="Identifying Variable Value", type="Char", core="Exp", role="Identifier", origin="Assigned"),
    Variable(name="QNAM", label="Qualifier Variable Name", type="Char", core="Req", role="Topic", origin="Assigned"),
    Variable(name="QLABEL", label="Qualifier Variable Label", type="Char", core="Req", role="Synonym Qualifier", origin="Assigned"),
    Variable(name="QVAL", label="Data Value", type="Char", core="Req", role="Result Qualifier", origin="Collected"),
    Variable(name="QORIG", label="Origin", type="Char", core="Req", role="Record Qualifier", origin="Assigned"),
    Variable(name="QEVAL", label="Evaluator", type="Char", core="Exp", role="Record Qualifier", origin="Assigned"),
]
SUPP_KEYS = ["STUDYID", "RDOMAIN", "USUBJID", "IDVAR", "IDVARVAL", "QNAM"]


def supp_name(domain: str) -> str:
    return f"SUPP{domain}"


MAX_BYTES = 200
#: parts of one value in SUPP--: QNAM suffixes 1..99 keep an 8-character QNAM readable (AETERM1..AETERM99)
MAX_PARTS = 99
#: the longest value split at all: the parent's 200 bytes and 99 SUPP parts of 200 (word boundaries may
#: need more parts, which stops the build too)
MAX_VALUE_BYTES = MAX_BYTES * (MAX_PARTS + 1)


def qnam(name: str, part: int) -> str:
    """``name`` + part number, the name shortened so the QNAM keeps 8 characters (SDTMIG 4.5.3.2)."""
    suffix = str(part)
    return name[: 8 - len(suffix)] + suffix


def qlabel(label: str, part: int) -> str:
    """The variable's label + part number, within QLABEL's 40 characters."""
    suffix = f" {part}"
    return label[: 40 - len(suffix)] + suffix


def _file(row: pd.Series) -> str:
    return str(row["_FILE"]) if "_FILE" in row.index and row["_FILE"] else ""


def _where(row: pd.Series) -> str:
    return f"{row['_FILE']} line {row['_ROW']}" if "_FILE" in row.index and row["_FILE"] else "a derived record"


def _cut(text: str, limit: int = MAX_BYTES) -> tuple[str, str]:
    """Split before ``limit`` bytes, at the last space when there is one (SDTMIG 4.5.3.2)."""
    head = text.encode("utf-8")[:limit].decode("utf-8", "ignore")
    if len(head) < len(text) and " " in head[1:]:
        head = head[: head.rindex(" ")]
    return head, text[len(head):]


def _longer_than_limit(values: pd.Series) -> np.ndarray:
    """Positions of values longer than MAX_BYTES characters.

    Usually there are none, which the byte lengths (read off the Arrow offsets, never fewer than
    the characters) show without decoding the text.
    """
    text = arrow_text(values)
    if (pc.max(pc.binary_length(text)).as_py() or 0) <= MAX_BYTES:
        return np.zeros(0, dtype=np.int64)
    lengths = pc.utf8_length(text)
    return np.flatnonzero(pc.fill_null(pc.greater(lengths, MAX_BYTES), False).to_numpy(zero_copy_only=False))


def split_long_text(domain: DomainSpec, frame: pd.DataFrame) -> list[pd.DataFrame]:
    """Move text beyond 200 bytes of Char variables into SUPP-- records (QNAM VAR1, VAR2, ...).

    Only the rare long values are touched, one by one; the parent keeps the first part. A key
    variable is never split, and a value needing more than MAX_PARTS parts stops the build.
    """
    seq_var = f"{domain.domain}SEQ"
    has_seq = seq_var in frame.columns and domain.domain != "DM"
    extra = []
    for var in domain.variables:
        if var.type != "Char" or var.name not in frame.columns:
            continue
        values = as_arrow_text(frame[var.name])
        # text reaching here is ASCII (the mapper stops on anything else): characters == bytes
        for pos in _longer_than_limit(values):
            row = frame.iloc[pos]
            value = values.iloc[pos]
            if var.name in domain.keys or var.name in ("STUDYID", "USUBJID"):
                raise RawDataError(f"{domain.domain}.{var.name}: key value of {len(value)} characters ({_where(row)}): "
                                   f"longer than {MAX_BYTES}, and a key cannot be split into SUPP{domain.domain}\n"
                                   f"  what to do: correct the value in the EDC",
                                   file=_file(row), rule="SUPP-SPLIT")
            if len(value) > MAX_VALUE_BYTES:
                raise RawDataError(f"{domain.domain}.{var.name}: text of {len(value):,} characters ({_where(row)}): "
                                   f"more than {MAX_VALUE_BYTES:,}, the most that {MAX_PARTS} SUPP{domain.domain} "
                                   f"parts of {MAX_BYTES} can carry\n  what to do: shorten the text in the EDC",
                                   file=_file(row), rule="SUPP-SPLIT")
            head, rest = _cut(value)
            frame.iloc[pos, frame.columns.get_loc(var.name)] = head
            pieces = []
            while rest:
                piece, rest = _cut(rest)
                pieces.append(piece)
            if len(pieces) > MAX_PARTS:
                raise RawDataError(f"{domain.domain}.{var.name}: text of {len(value):,} characters ({_where(row)}) "
                                   f"splits at word boundaries into {len(pieces)} SUPP{domain.domain} parts, more "
                                   f"than {MAX_PARTS}\n  what to do: shorten the text in the EDC",
                                   file=_file(row), rule="SUPP-SPLIT")
            lineage = {c: [row[c]] for c in ("_FILE", "_ROW") if c in row.index}
            extra.append(pd.DataFrame({
                "STUDYID": row["STUDYID"], "RDOMAIN": domain.domain, "USUBJID": row["USUBJID"],
                "IDVAR": seq_var if has_seq else "",
                "IDVARVAL": str(int(row[seq_var])) if has_seq else "",
                "QNAM": [qnam(var.name, part) for part in range(1, len(pieces) + 1)],
                "QLABEL": [qlabel(var.label, part) for part in range(1, len(pieces) + 1)],
                "QVAL": pieces, "QORIG": "CRF", "QEVAL": "",
                **{c: v * len(pieces) for c, v in lineage.items()}}))
    return extra


def build_supp(domain: DomainSpec, frame: pd.DataFrame, extra: list[pd.DataFrame] | None = None) -> pd.DataFrame | None:
    """One SUPP record per parent record and QNAM with a non-missing value."""
    if not domain.supplemental and not extra:
        return None
    seq_var = f"{domain.domain}SEQ"
    has_seq = seq_var in frame.columns and domain.domain != "DM"
    parts = list(extra or [])
    for supp in domain.supplemental:
        values = frame[supp.column].astype("string[pyarrow]").str.strip()
        present = (values.notna() & (values != "")).to_numpy(dtype=bool)
        rows = frame[present]
        # a parent without --SEQ (no subject number, already reported) gets a blank IDVARVAL
        idvarval = (rows[seq_var].astype("Int64").astype("string[pyarrow]").fillna("") if has_seq
                    else pd.Series("", index=rows.index))
        parts.append(pd.DataFrame({
            "STUDYID": rows["STUDYID"].to_numpy(), "RDOMAIN": domain.domain, "USUBJID": rows["USUBJID"].to_numpy(),
            "IDVAR": seq_var if has_seq else "", "IDVARVAL": idvarval.to_numpy(), "QNAM": supp.qnam,
            "QLABEL": supp.qlabel, "QVAL": values[present].to_numpy(), "QORIG": supp.qorig, "QEVAL": supp.qeval,
            **{c: rows[c].to_numpy() for c in ("_FILE", "_ROW") if c in rows},
        }))
    supp = pd.concat(parts, ignore_index=True)
    if supp.get("_FILE") is not None and supp["_FILE"].isna().any():
        supp = supp.drop(columns=["_FILE", "_ROW"])  # records of a derived parent have no raw row
    for col in SUPP_VARIABLES:
        supp[col.name] = supp[col.name].astype("string[pyarrow]").replace("", pd.NA)
    return supp


def supp_spec(domain: DomainSpec) -> DomainSpec:
    """The DomainSpec describing SUPP--, so it is validated and written like any dataset."""
    return DomainSpec.model_construct(
        domain=supp_name(domain.domain), label=f"Supplemental Qualifiers for {domain.domain}"[:40],
        dataset_class="RELATIONSHIP", structure="One record per IDVAR, IDVARVAL, and QNAM value per subject",
        keys=SUPP_KEYS, variables=SUPP_VARIABLES, sources=[], derivations=[], supplemental=[], value_level=[])
