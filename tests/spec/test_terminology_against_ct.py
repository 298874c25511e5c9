"""The spec's CDISC codelists must agree with the NCI EVS CT package they claim (2025-03-28), as shipped
with sdtmgen (tests/test_standards.py checks the shipped package against NCI's file)."""

import pytest

from sdtmgen.spec.loader import load_terminology
from sdtmgen.standards import controlled_terminology

#: packaged column -> the NCI file's column name the checks below are written with
NCI_NAMES = {"code": "Code", "codelist": "Codelist Code", "extensible": "Codelist Extensible (Yes/No)",
             "value": "CDISC Submission Value"}


@pytest.fixture(scope="module")
def ct_package():
    frame = controlled_terminology("2025-03-28", "SDTM").rename(columns=NCI_NAMES)
    return frame.to_dict("records")


def test_every_cdisc_term_has_its_package_code_and_value(ct_package, spec_folder):
    terminology = load_terminology(spec_folder)
    assert terminology.ct_package == "2025-03-28"
    heads = {r["Code"]: r for r in ct_package if not r["Codelist Code"]}
    terms = {(r["Codelist Code"], r["Code"]): r for r in ct_package if r["Codelist Code"]}
    checked = 0
    for codelist in terminology.codelists:
        if codelist.code is None:
            assert all(t.code is None for t in codelist.terms), f"sponsor codelist {codelist.id} claims C-codes"
            continue
        head = heads[codelist.code]
        assert head["CDISC Submission Value"] == codelist.id
        assert (head["Codelist Extensible (Yes/No)"] == "Yes") == codelist.extensible, codelist.id
        for term in codelist.terms:
            if term.extended:
                assert term.code is None
                continue
            row = terms[(codelist.code, term.code)]
            assert row["CDISC Submission Value"] == term.value, (codelist.id, term.value)
            checked += 1
    assert checked > 100
