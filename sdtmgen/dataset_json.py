"""CDISC Dataset-JSON 1.1 (``.json``) and its NDJSON form (``.ndjson``).

The column metadata is define.xml's: ``itemOID`` is the ItemDef OID (``IT.DM.USUBJID``),
``itemGroupOID`` the ItemGroupDef OID, ``studyOID`` / ``metaDataVersionOID`` those of
define.xml, and types, lengths, display formats and key sequences come from the same functions
the define writer uses, so the two cannot drift apart.

Types come from the spec alone, never from the values, so every build of a study gives every
column the same ``dataType`` (a VISITNUM with or without unscheduled visits, a DTHDTC with or
without a time): Num -> ``double`` (what an XPT numeric is; whole numbers included); Num with a
SAS date, datetime or time display format (ADaM ``--DT``/``--DTM``/``--TM``) -> ``date`` /
``datetime`` / ``time`` with ``targetDataType: integer`` and ISO 8601 values, as Dataset-JSON 1.1
represents SAS dates (days or seconds since 1960-01-01 become text, so no epoch is assumed by the
reader); Char -> ``string``, ISO 8601 ``--DTC`` text included (it may be partial, which
Dataset-JSON's date types cannot carry). define.xml's DataType stays the precise one judged from
the data (integer or float; date, datetime or partialDate...): a ``double`` column holds either.
``length`` is given for Char columns (the XPT length). Missing values are ``null``.

NDJSON: line 1 is the metadata object without ``rows``, then one JSON array per record.

Determinism: ``datasetJSONCreationDateTime`` is required; it is the same fixed instant as
define.xml's CreationDateTime (1970-01-01T00:00:00) unless ``created`` is given, so the same
inputs give the same bytes.
"""

from __future__ import annotations

import json
import math
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pandas as pd

from sdtmgen import __version__
from sdtmgen.define_xml.item_def import VariableMeta, describe_dataset
from sdtmgen.define_xml.oids import item_group_oid, study_oid
from sdtmgen.define_xml.writer import DEFAULT_CREATION, mdv_oid

DATASET_JSON_VERSION = "1.1.0"
SAS_EPOCH = datetime(1960, 1, 1)
# SAS display formats of numeric dates, datetimes and times (name without width/decimals)
_DATETIME_FORMAT = re.compile(r"(DATETIME|DATEAMPM|E8601DT|IS8601DT|B8601DT|E8601DZ|IS8601DZ|MDYAMPM)\d*\.?\d*\Z")
_TIME_FORMAT = re.compile(r"(TIME|TOD|HHMM|HOUR|MMSS|E8601TM|IS8601TM|B8601TM|TIMEAMPM)\d*\.?\d*\Z")
_DATE_FORMAT = re.compile(r"(DATE|DAY|DDMMYY[BCDNPS]?|MMDDYY[BCDNPS]?|YYMMDD[BCDNPS]?|E8601DA|IS8601DA|B8601DA|"
                          r"MONYY|MONNAME|MONTH|QTR|WEEKDATE|WEEKDAY|WORDDATE|WORDDATX|YEAR|YYMON|YYQ|JULIAN|"
                          r"NLDATE)\d*\.?\d*\Z")


def temporal_kind(display_format: str | None) -> str | None:
    """"date" / "datetime" / "time" when a Num variable's SAS format shows it as one, else None."""
    fmt = (display_format or "").strip().upper()
    for kind, pattern in (("datetime", _DATETIME_FORMAT), ("time", _TIME_FORMAT), ("date", _DATE_FORMAT)):
        if pattern.match(fmt):
            return kind
    return None


def sas_to_iso(value: float, kind: str) -> str:
    """A SAS date (days) / datetime or time (seconds) as ISO 8601 text."""
    if kind == "date":
        return (SAS_EPOCH + timedelta(days=int(math.floor(value)))).strftime("%Y-%m-%d")
    moment = SAS_EPOCH + timedelta(seconds=value)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S" if kind == "datetime" else "%H:%M:%S")
    if moment.microsecond:
        text += f".{moment.microsecond:06d}".rstrip("0")
    return text


def iso_to_sas(text: str, kind: str) -> float:
    """The inverse of ``sas_to_iso``."""
    if kind == "date":
        return float((datetime.strptime(text, "%Y-%m-%d") - SAS_EPOCH).days)
    if kind == "time":
        text = "1960-01-01T" + text
    return (datetime.fromisoformat(text) - SAS_EPOCH).total_seconds()


def json_data_type(meta: VariableMeta) -> str:
    """The Dataset-JSON dataType of a variable from its spec (type and display format) only."""
    if meta.type == "Num":
        return temporal_kind(meta.display_format) or "double"
    return "string"


def column(meta: VariableMeta) -> dict[str, Any]:
    out: dict[str, Any] = {"itemOID": meta.oid, "name": meta.name, "label": meta.label,
                           "dataType": json_data_type(meta)}
    if meta.type == "Num" and temporal_kind(meta.display_format):
        out["targetDataType"] = "integer"
    if meta.type == "Char":
        out["length"] = meta.length
    if meta.display_format:
        out["displayFormat"] = meta.display_format
    if meta.key_sequence is not None:
        out["keySequence"] = meta.key_sequence
    return out


def metadata(name: str, frame: pd.DataFrame, spec: Any, *, study: Any, standard: str = "SDTMIG",
             lengths: dict[tuple[str, str], int] | None = None, created: datetime | str | None = None,
             metas: list[VariableMeta] | None = None) -> dict[str, Any]:
    """The Dataset-JSON object without ``rows``."""
    metas = metas if metas is not None else describe_dataset(name, frame, spec, lengths)
    created_text = created.strftime("%Y-%m-%dT%H:%M:%S") if isinstance(created, datetime) else (created or DEFAULT_CREATION)
    return {
        "datasetJSONCreationDateTime": created_text,
        "datasetJSONVersion": DATASET_JSON_VERSION,
        "fileOID": f"{study_oid(study.studyid)}/{name}",
        "originator": getattr(study, "sponsor", "") or "sdtmgen",
        "sourceSystem": {"name": "sdtmgen", "version": __version__},
        "studyOID": study_oid(study.studyid),
        "metaDataVersionOID": mdv_oid(study, standard),
        "metaDataRef": "define.xml",
        "itemGroupOID": item_group_oid(name),
        "records": int(len(frame)),
        "name": name,
        "label": spec.label,
        "columns": [column(m) for m in metas],
    }


def _column_values(series: pd.Series | None, meta: VariableMeta, n: int) -> list[Any]:
    if series is None:
        return [None] * n
    if meta.type == "Num":
        nums = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        kind = temporal_kind(meta.display_format)
        if kind:
            return [sas_to_iso(v, kind) if math.isfinite(v) else None for v in nums.tolist()]
        return [v if math.isfinite(v) else None for v in nums.tolist()]
    values = series.astype("string[pyarrow]")
    values = values.mask(values.str.strip() == "")
    return [None if v is pd.NA else v for v in values.tolist()]


def rows(frame: pd.DataFrame, metas: list[VariableMeta]) -> Iterator[list[Any]]:
    n = len(frame)
    columns = [_column_values(frame[m.name] if m.name in frame.columns else None, m, n) for m in metas]
    return (list(row) for row in zip(*columns)) if columns else iter([[]] * n)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def write_dataset_json(path: str | Path, frame: pd.DataFrame, spec: Any, *, study: Any, name: str | None = None,
                       standard: str = "SDTMIG", lengths: dict[tuple[str, str], int] | None = None,
                       ndjson: bool = False, created: datetime | str | None = None) -> None:
    """Write ``frame`` (described by ``spec``) as Dataset-JSON 1.1, or NDJSON with ``ndjson=True``."""
    name = name or getattr(spec, "domain", None) or Path(path).stem.upper()
    metas = describe_dataset(name, frame, spec, lengths)
    head = metadata(name, frame, spec, study=study, standard=standard, lengths=lengths, created=created, metas=metas)
    target = Path(path)
    tmp = target.with_name(f".{target.name}.tmp")
    with open(tmp, "w", encoding="utf-8", newline="\n") as out:
        if ndjson:
            out.write(_dumps(head) + "\n")
            for row in rows(frame, metas):
                out.write(_dumps(row) + "\n")
        else:
            text = _dumps(head)
            out.write(text[:-1] + ',"rows":[')
            for i, row in enumerate(rows(frame, metas)):
                out.write(("," if i else "") + _dumps(row))
            out.write("]}\n")
    tmp.replace(target)
