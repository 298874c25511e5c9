"""SUPP-- records (sdtmgen/sdtm/suppqual.py): text beyond 200 bytes moves to numbered QNAMs."""

from __future__ import annotations

import pandas as pd

from sdtmgen.sdtm.suppqual import MAX_BYTES, split_long_text
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
