"""A domain taken from a delivered SDTM dataset (e.g. DM from a CRO) instead of mapped from raw forms.

In the domain's YAML, ``source: {sdtm: delivered/dm.xpt, supp: delivered/suppdm.xpt}`` (paths relative
to the spec folder, and inside the spec or the raw folder) replaces ``sources:``. The dataset is read
as it is (an ``.xpt`` with pyreadstat; a ``.csv`` through the CSV reader's checks and the study's CSV
options, e.g. ``na_values: [NA]`` for a file written by R, numbers converted for the spec's ``Num``
variables) and then goes through everything a mapped domain goes through:
the domain's derivations, finalising (spec order, keys), validation (types, lengths, controlled
terminology, IG and cross-dataset conformance), and it is what the other domains and ADaM read.

What stops the build (naming the file, and the column, line and value where there is one):
an unreadable file; a column that is not a variable of the spec (nothing is dropped silently); a
spec variable that the file lacks and no derivation makes; a variable both delivered and derived
(the derivation would replace the delivered values); a character column where the spec says Num or
the reverse; a SUPP file without the SUPP variables, for another domain, or with a QNAM the spec's
``supplemental`` does not list. Lineage: ``_FILE`` is the file name, ``_ROW`` the record number
(XPT) or the physical line (CSV); the reconciliation counts every record as taken.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from sdtmgen.errors import RawDataError
from sdtmgen.raw import RFC4180, CsvDialect, read_form

RULE = "sdtm-source"


def _read(path: Path, what: str, dialect: CsvDialect = RFC4180) -> tuple[pd.DataFrame, np.ndarray, set[str]]:
    """(columns: text as str objects or numbers as float64, record numbers, the numeric columns)."""
    if not path.is_file():
        raise RawDataError(f"{what} {path.name}: no such file ({path})", file=path.name, rule=RULE)
    if path.suffix.lower() == ".csv":
        form = read_form(path, path.name, dialect)
        frame = form.frame.drop(columns=[c for c in ("_FILE", "_ROW") if c in form.frame])
        return frame, np.asarray(form.lines), set()
    import pyreadstat

    try:
        frame, meta = pyreadstat.read_xport(str(path), disable_datetime_conversion=True)
    except Exception as exc:  # pyreadstat's errors
        raise RawDataError(f"{what} {path.name}: not a readable SAS transport (XPORT) file "
                           f"({type(exc).__name__}: {exc})", file=path.name, rule=RULE) from None
    numeric = {c for c, kind in (meta.readstat_variable_types or {}).items() if kind != "string"}
    return frame, np.arange(1, len(frame) + 1, dtype=np.int64), numeric


def _columns(frame: pd.DataFrame, lines: np.ndarray, numeric: set[str], variables: dict, name: str,
             is_csv: bool) -> dict[str, object]:
    """The spec's variables from the file's columns, each as the build keeps them."""
    out: dict[str, object] = {}
    for column in frame.columns:
        var = variables[column]
        values = frame[column]
        if var.type == "Num":
            if is_csv:
                text = values.astype(str).str.strip()
                number = pd.to_numeric(text.where(text != ""), errors="coerce")
                bad = np.flatnonzero((number.isna() & (text != "")).to_numpy())
                if len(bad):
                    i = int(bad[0])
                    raise RawDataError(f"{name} line {lines[i]}, column {column}: {text.iloc[i]!r} is not a number, "
                                       f"but the spec's {column} is Num ({len(bad)} value(s))", file=name, rule=RULE)
                out[column] = number.to_numpy(dtype="float64")
            elif column not in numeric:
                raise RawDataError(f"{name}: column {column} is character, but the spec's {column} is Num",
                                   file=name, rule=RULE)
            else:
                out[column] = values.to_numpy(dtype="float64")
        else:
            if not is_csv and column in numeric:
                raise RawDataError(f"{name}: column {column} is numeric, but the spec's {column} is Char",
                                   file=name, rule=RULE)
            text = values.where(values.notna(), "").astype(str)
            out[column] = pd.array(text.to_numpy(dtype=object), dtype="string[pyarrow]")
    return out


def read_delivered(path: Path, domain, derived: set[str], dialect: CsvDialect = RFC4180) -> pd.DataFrame:
    """The delivered dataset of ``domain`` (a DomainSpec) as a working frame with ``_FILE``/``_ROW``."""
    name = path.name
    frame, lines, numeric = _read(path, f"{domain.domain} source.sdtm", dialect)
    variables = {v.name: v for v in domain.variables}
    frame.columns = [str(c).strip().upper() if path.suffix.lower() == ".xpt" else str(c).strip()
                     for c in frame.columns]
    extra = [c for c in frame.columns if c not in variables]
    if extra:
        raise RawDataError(f"{name}: column(s) {', '.join(extra)} are not variables of the {domain.domain} spec; "
                           f"nothing is dropped silently\n  what to do: add them to the spec's variables "
                           f"(or SUPP{domain.domain}), or deliver the dataset without them", file=name, rule=RULE)
    both = sorted(set(frame.columns) & derived)
    if both:
        raise RawDataError(f"{name}: variable(s) {', '.join(both)} are delivered and also derived by the "
                           f"{domain.domain} spec, whose derivation would replace the delivered values\n"
                           f"  what to do: remove the derivation, or the column from the file", file=name, rule=RULE)
    lacking = [v for v in variables if v not in frame.columns and v not in derived]
    if lacking:
        raise RawDataError(f"{name}: the spec's variable(s) {', '.join(lacking)} are not in the delivered dataset "
                           f"and no derivation makes them\n  what to do: remove them from the {domain.domain} spec, "
                           f"or deliver them", file=name, rule=RULE)
    columns = _columns(frame, lines, numeric, variables, name, path.suffix.lower() == ".csv")
    columns["_FILE"] = np.full(len(frame), name, dtype=object)
    columns["_ROW"] = lines
    return pd.DataFrame(columns, index=pd.RangeIndex(len(frame)))


def read_delivered_supp(path: Path, domain, dialect: CsvDialect = RFC4180) -> pd.DataFrame:
    """The delivered SUPP-- dataset of ``domain``, checked against the spec's ``supplemental`` QNAMs."""
    from sdtmgen.sdtm.suppqual import SUPP_VARIABLES, supp_spec

    name = path.name
    frame, lines, numeric = _read(path, f"{domain.domain} source.supp", dialect)
    frame.columns = [str(c).strip().upper() for c in frame.columns]
    expected = [v.name for v in SUPP_VARIABLES]
    lacking = [c for c in expected if c not in frame.columns]
    extra = [c for c in frame.columns if c not in expected]
    if lacking or extra:
        raise RawDataError(f"{name}: not a SUPP{domain.domain} dataset: "
                           + "; ".join(filter(None, [lacking and f"missing {', '.join(lacking)}",
                                                     extra and f"other columns {', '.join(extra)}"])),
                           file=name, rule=RULE)
    columns = _columns(frame, lines, numeric, {v.name: v for v in supp_spec(domain).variables}, name,
                       path.suffix.lower() == ".csv")
    out = pd.DataFrame(columns, index=pd.RangeIndex(len(frame)))
    other = np.flatnonzero((out["RDOMAIN"].fillna("") != domain.domain).to_numpy())
    if len(other):
        raise RawDataError(f"{name} record {lines[other[0]]}: RDOMAIN {out['RDOMAIN'].iloc[other[0]]!r} is not "
                           f"{domain.domain}", file=name, rule=RULE)
    listed = {s.qnam for s in domain.supplemental}
    unknown = sorted(set(out["QNAM"].fillna("")) - listed)
    if unknown:
        raise RawDataError(f"{name}: QNAM(s) {', '.join(unknown)} are not listed in the {domain.domain} spec's "
                           f"supplemental (they describe the values in define.xml)", file=name, rule=RULE)
    out["_FILE"] = np.full(len(out), name, dtype=object)
    out["_ROW"] = lines
    return out
