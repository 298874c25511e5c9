"""Round trip of the SAS-written CDISC pilot submission files (SAS 9.3, X64_7HOM).

Each file is read with pyreadstat, written again with our writer using the same names,
labels, lengths and formats, and compared:

* read back: frames, labels, lengths and formats equal;
* bytes: from the NAMESTR header record to the end of the file (namestrs, their padding, the
  OBS header, every observation and the final padding) our file equals SAS's byte for byte.
  The headers before it differ only in the SAS version / OS / timestamp fields, checked
  field by field.

ts.xpt holds cp1252 text (a right single quote, 0x92, in TSVAL). XPT v5 for the FDA must be
ASCII, so there we transliterate it to "'" in the frame and apply the same substitution to
SAS's bytes, inside the TSVAL field only, before comparing.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sdtmgen.xpt import XptVariable, read_xpt, write_xpt
from sdtmgen.xpt.layout import parse_layout

pyreadstat = pytest.importorskip("pyreadstat")

# <repo>/tests/xpt/this_file.py -> parents[2] is the repo root; shared/ sits beside it.
REFERENCE_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "reference"
FILES = sorted(p.relative_to(REFERENCE_DIR) for p in REFERENCE_DIR.glob("cdisc-pilot/*/*.xpt"))
TRANSLITERATE = {"\u2019": "'"}  # cp1252 0x92 right single quotation mark


def _read_reference(path: Path) -> tuple[pd.DataFrame, object]:
    encoding = "cp1252" if path.name == "ts.xpt" else None
    return read_xpt(path, encoding=encoding, disable_datetime_conversion=True)


def _variables(meta) -> list[XptVariable]:
    out = []
    for name in meta.column_names:
        is_char = meta.readstat_variable_types[name] == "string"
        out.append(
            XptVariable(
                name,
                meta.column_names_to_labels[name] or "",
                "Char" if is_char else "Num",
                length=meta.variable_storage_width[name] if is_char else None,
                format=meta.original_variable_types[name],
            )
        )
    return out


def _to_ascii(frame: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, set[str]]]:
    """Transliterate known non-ASCII characters; returns the columns that changed."""
    changed: dict[str, set[str]] = {}
    frame = frame.copy()
    for name in frame.columns:
        if frame[name].dtype != object:
            continue
        bad = {ch for v in frame[name] for ch in v if ord(ch) > 127}
        if bad:
            assert bad <= set(TRANSLITERATE), f"{name}: unexpected characters {bad}"
            changed[name] = bad
            frame[name] = frame[name].map(
                lambda v: "".join(TRANSLITERATE.get(ch, ch) for ch in v)
            )
    return frame, changed


@pytest.mark.skipif(not FILES, reason=f"CDISC pilot files not found under {REFERENCE_DIR}")
@pytest.mark.parametrize("relpath", FILES, ids=[str(p) for p in FILES])
def test_round_trip_matches_sas(tmp_path, relpath):
    source = REFERENCE_DIR / relpath
    frame, meta = _read_reference(source)
    frame, changed = _to_ascii(frame)
    assert (source.name == "ts.xpt") == bool(changed)
    variables = _variables(meta)

    out = tmp_path / source.name
    write_xpt(out, frame, dataset_name=meta.table_name, dataset_label=meta.file_label or "",
              variables=variables)  # fmt: skip

    # --- read back -----------------------------------------------------------------------
    back, back_meta = read_xpt(out, disable_datetime_conversion=True)
    pd.testing.assert_frame_equal(back, frame, check_exact=True)
    assert back_meta.column_names_to_labels == meta.column_names_to_labels
    assert back_meta.variable_storage_width == meta.variable_storage_width
    assert back_meta.original_variable_types == meta.original_variable_types
    assert back_meta.table_name == meta.table_name

    # --- bytes ---------------------------------------------------------------------------
    ours, sas = parse_layout(out), parse_layout(source)
    sas_raw = bytearray(sas.raw)
    if changed:
        # apply the same transliteration to SAS's bytes, inside the changed fields only
        reclen = sas.record_length
        obs = np.frombuffer(sas_raw, dtype=np.uint8, offset=sas.data_offset,
                            count=len(frame) * reclen).reshape(len(frame), reclen).copy()  # fmt: skip
        for ns in sas.namestrs:
            if ns.nname in changed:
                field = obs[:, ns.npos : ns.npos + ns.nlng]
                for ch in changed[ns.nname]:
                    field[field == ord(ch.encode("cp1252"))] = ord(TRANSLITERATE[ch])
        sas_raw[sas.data_offset : sas.data_offset + obs.size] = obs.tobytes()
    assert len(ours.raw) == len(sas_raw)
    assert ours.raw[560:] == bytes(sas_raw[560:])  # NAMESTR header .. end of file

    # headers: record structure identical, only version/OS/timestamps/label may differ
    assert ours.library[:80] == sas.library[:80] and ours.member == sas.member
    assert ours.library[80:104] == sas.library[80:104] == b"SAS     SAS     SASLIB  "
    assert ours.descriptor[:104] == sas.descriptor[:104]  # ..., dataset name, "SASDATA "
    assert ours.descriptor[176:] == sas.descriptor[176:]  # blanks, dataset label, type
