"""Assembling records: source_records, merge_subject, supp_qualifier, constant, seq; dataset spec checks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from sdtmgen.spec.models import AdamDatasetSpec

AE = pd.DataFrame({
    "STUDYID": ["S"] * 4,
    "USUBJID": ["S-1", "S-1", "S-2", "S-3"],
    "AESEQ": [1.0, 2.0, 1.0, 1.0],
    "AEDECOD": ["RASH", "NAUSEA", "RASH", "PYREXIA"],
    "AETOXGR": ["1", "2", "3", None],
}).astype({"STUDYID": "string", "USUBJID": "string", "AEDECOD": "string", "AETOXGR": "string"})


def test_source_records_filters_copies_and_renames(run_step):
    out, _ = run_step({"derive": "source_records", "dataset": "AE", "variables": ["STUDYID", "AEDECOD"],
                       "rename": {"ATOXGR": "AETOXGR"},
                       "where": {"column": "AEDECOD", "equals": "RASH"}}, AE=AE)
    assert list(out.columns) == ["USUBJID", "STUDYID", "AEDECOD", "ATOXGR"]
    assert out["USUBJID"].tolist() == ["S-1", "S-2"]
    assert out["ATOXGR"].tolist() == ["1", "3"]


def test_source_records_refuses_a_variable_copied_and_renamed(run_step):
    with pytest.raises(ValidationError, match="both copied and renamed"):
        run_step({"derive": "source_records", "dataset": "AE", "variables": ["AETOXGR"],
                  "rename": {"AETOXGR": "AEDECOD"}}, AE=AE)


def test_merge_subject_puts_subject_values_on_every_record(run_step):
    adsl = pd.DataFrame({"USUBJID": ["S-1", "S-2"], "TRTSDT": [100.0, 200.0], "SAFFL": ["Y", "N"]})
    out, _ = run_step({"derive": "merge_subject", "dataset": "ADSL", "variables": ["TRTSDT", "SAFFL"]},
                      AE[["USUBJID", "AESEQ"]], ADSL=adsl)
    assert out["TRTSDT"].tolist()[:3] == [100.0, 100.0, 200.0]
    assert np.isnan(out["TRTSDT"].iloc[3])  # S-3 is not in ADSL
    assert out["SAFFL"].tolist()[:3] == ["Y", "Y", "N"]


def test_supp_qualifier_matches_subject_and_idvar_value(run_step):
    supp = pd.DataFrame({"USUBJID": ["S-1", "S-2", "S-9"], "QNAM": ["AEDLT", "AEDLT", "AEDLT"],
                         "QVAL": ["Y", "N", "Y"], "IDVAR": ["AESEQ"] * 3, "IDVARVAL": ["2", "1", "1"]})
    out, _ = run_step({"derive": "supp_qualifier", "target": "AEDLT", "dataset": "SUPPAE", "qnam": "AEDLT"},
                      AE[["USUBJID", "AESEQ"]], SUPPAE=supp)
    assert list(pd.Series(out["AEDLT"]).fillna("-")) == ["-", "Y", "N", "-"]


def test_constant_and_seq(run_step):
    frame = pd.DataFrame({"USUBJID": ["B", "A", "A", "B"], "ASTDT": [5.0, 9.0, 2.0, np.nan]})
    out, _ = run_step({"derive": "constant", "values": {"SRCDOM": "LB", "PARAMN": 3}}, frame)
    assert out["SRCDOM"].tolist() == ["LB"] * 4 and out["PARAMN"].tolist() == [3.0] * 4
    out, _ = run_step({"derive": "seq", "target": "ASEQ"}, frame, keys=("USUBJID", "ASTDT", "ASEQ"))
    assert out[["USUBJID", "ASTDT", "ASEQ"]].fillna(-1).values.tolist() == [
        ["A", 2.0, 1.0], ["A", 9.0, 2.0], ["B", -1, 1.0], ["B", 5.0, 2.0]]


def _dataset(derivations, variables=("USUBJID", "X")):
    return {"dataset": "ADX", "label": "X", "class": "BASIC DATA STRUCTURE", "structure": "x",
            "keys": ["USUBJID"], "derivations": derivations,
            "variables": [{"name": v, "label": v, "type": "Char", "core": "Perm"} for v in variables]}


def test_dataset_spec_names_a_variable_nothing_produces():
    spec = AdamDatasetSpec.model_validate(_dataset([{"derive": "source_records", "dataset": "AE"}]))
    assert [m for _, m in spec.problems()] == ["variable X is produced by no derivation"]
    assert spec.domain == "ADX"  # the validators call the dataset name 'domain'


def test_dataset_spec_needs_records_first():
    spec = AdamDatasetSpec.model_validate(_dataset([{"derive": "constant", "values": {"X": "a"}}]))
    assert any("does not create the records" in m for _, m in spec.problems())


def test_unknown_derivation_is_a_spec_error():
    with pytest.raises(ValidationError):
        AdamDatasetSpec.model_validate(_dataset([{"derive": "no_such_step"}]))


@pytest.mark.parametrize("grouped", [True, False])
def test_seq_numbers_as_finalise_number_records(grouped):
    """The seq step's own numbering (subjects encoded before the move, runs counted without a sort) gives
    the order and numbers of sdtmgen.finalise.number_records, subjects in runs or not, some missing."""
    from sdtmgen.adam.records import _number_records
    from sdtmgen.finalise import number_records

    rng = np.random.default_rng(7)
    subjects = np.array(["S-1", "S-2", "S-3", None], dtype=object)  # grouped: runs in key order (no sort)
    subject = np.sort(rng.integers(0, 4, 400)) if grouped else rng.integers(0, 4, 400)
    frame = pd.DataFrame({"USUBJID": pd.array(subjects[subject], dtype="string[pyarrow]"),
                          "PARAMN": rng.integers(1, 4, 400).astype(float), "ADT": rng.integers(0, 30, 400) * 1.0})
    keys = ["USUBJID", "PARAMN", "ADT", "ASEQ"]
    expected = number_records(frame.copy(), keys, "ASEQ")
    got = _number_records(frame.copy(), keys, "ASEQ", "USUBJID", shared=False)
    pd.testing.assert_frame_equal(got, expected)
    assert got["ASEQ"].isna().sum() == (subject == 3).sum() and got["ASEQ"].max() > 50
