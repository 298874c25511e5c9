"""The spec's CDISC codelists must agree with the NCI EVS CT package they claim (2025-03-28)."""

import csv
import io
import tarfile

import pytest

from sdtmgen.spec.loader import load_model
from sdtmgen.terminology import Terminology


@pytest.fixture(scope="module")
def ct_package(reference):
    path = reference / "controlled-terminology" / "sdtm-ct-2025-03-28.tar.xz"
    with tarfile.open(path, "r:xz") as tar:
        member = next(m for m in tar.getmembers() if m.name.endswith(".txt"))
        text = tar.extractfile(member).read().decode("utf-8")
    return list(csv.DictReader(io.StringIO(text), delimiter="\t"))


def test_every_cdisc_term_has_its_package_code_and_value(ct_package, spec_folder):
    terminology = load_model(spec_folder / "terminology.yaml", Terminology)
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
