"""SUPP-- records (sdtmgen/sdtm/suppqual.py): text beyond 200 bytes moves to numbered QNAMs."""

from __future__ import annotations

import pandas as pd

import pytest

from sdtmgen.errors import RawDataError
from sdtmgen.sdtm.suppqual import MAX_BYTES, MAX_PARTS, MAX_VALUE_BYTES, build_supp, qlabel, qnam, split_long_text
from sdtmgen.spec.models import DomainSpec


def ae_spec() -> DomainSpec:
    variables = [{"name": n, "label": f"{n} label", "type": t, "core": "Exp"}
                 for n, t in [("STUDYID", "Char"), ("USUBJID", "Char"), ("AESEQ", "Num"), ("AETERM", "Char")]]
    return DomainSpec.model_validate({"domain": "AE", "label": "Adverse Events", "class": "EVENTS", "structure": "s",
                                      "keys": ["USUBJID"], "variables": variables, "sources": []})


def test_only_values_beyond_the_limit_are_split_at_a_space():
    long_text = ("word " * 60).strip()  # 299 characters
    frame = pd.DataFrame({"STUDYID": "S", "USUBJID": ["S-1", "S-2", "S-3"], "AESEQ": [1.0, 2.0, 3.0],
                          "AETERM": pd.array(["short", long_text, "x" * MAX_BYTES], dtype="string[pyarrow]"),
                          "_FILE": "ae.csv", "_ROW": [2, 3, 4]})
    extra = split_long_text(ae_spec(), frame)
    assert len(extra) == 1
    record = extra[0].iloc[0]
    assert (record["USUBJID"], record["IDVAR"], record["IDVARVAL"], record["QNAM"]) == ("S-2", "AESEQ", "2", "AETERM1")
    head = frame["AETERM"].iloc[1]
    assert len(head) <= MAX_BYTES and head.endswith("word") and head + record["QVAL"] == long_text
    assert frame["AETERM"].iloc[0] == "short" and frame["AETERM"].iloc[2] == "x" * MAX_BYTES  # not beyond: kept


def test_no_long_text_no_records():
    frame = pd.DataFrame({"STUDYID": "S", "USUBJID": ["S-1"], "AESEQ": [1.0],
                          "AETERM": pd.array([None], dtype="string[pyarrow]")})
    assert split_long_text(ae_spec(), frame) == []


def test_qnam_keeps_eight_characters_for_any_part():
    assert [qnam("AETERM", p) for p in (1, 9, 10, 99)] == ["AETERM1", "AETERM9", "AETERM10", "AETERM99"]
    assert [qnam("CMINDCOD", p) for p in (1, 10, 99)] == ["CMINDCO1", "CMINDC10", "CMINDC99"]
    assert [len(qlabel("L" * 40, p)) for p in (1, 10, 99)] == [40, 40, 40] and qlabel("Reported Term", 12) == "Reported Term 12"


def test_parts_up_to_the_limit_then_the_build_stops_naming_the_cell():
    fits = " ".join(["word"] * 3900)  # 19,499 characters: 98 parts after the parent's 200
    frame = pd.DataFrame({"STUDYID": "S", "USUBJID": ["S-1"], "AESEQ": [1.0],
                          "AETERM": pd.array([fits], dtype="string[pyarrow]"), "_FILE": "ae.csv", "_ROW": [7]})
    extra = split_long_text(ae_spec(), frame)
    names = extra[0]["QNAM"].tolist()
    assert len(names) <= MAX_PARTS and all(len(n) <= 8 for n in names) and len(set(names)) == len(names)
    assert frame["AETERM"].iloc[0] + "".join(extra[0]["QVAL"]) == fits
    for too_long in ("x" * (MAX_VALUE_BYTES + 1), " ".join(["w" * 101] * 190)):  # too long; too many word parts
        frame = pd.DataFrame({"STUDYID": "S", "USUBJID": ["S-1"], "AESEQ": [1.0],
                              "AETERM": pd.array([too_long], dtype="string[pyarrow]"), "_FILE": "ae.csv", "_ROW": [7]})
        with pytest.raises(RawDataError, match=r"AE.AETERM: text of [\d,]+ characters \(ae.csv line 7\)"):
            split_long_text(ae_spec(), frame)


def test_a_key_is_never_split_and_derived_records_have_no_raw_source():
    frame = pd.DataFrame({"STUDYID": "S", "USUBJID": ["S-" + "1" * 250], "AESEQ": [1.0],
                          "AETERM": pd.array(["x"], dtype="string[pyarrow]")})
    with pytest.raises(RawDataError, match="AE.USUBJID: key value of 252 characters \\(a derived record\\)"):
        split_long_text(ae_spec(), frame)
    frame = pd.DataFrame({"STUDYID": "S", "USUBJID": ["S-1"], "AESEQ": [1.0],
                          "AETERM": pd.array(["w " * 150], dtype="string[pyarrow]")})
    supp = build_supp(ae_spec(), frame, split_long_text(ae_spec(), frame))
    assert "_FILE" not in supp.columns, "no ':0' source for a record no raw row made"
