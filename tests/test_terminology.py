"""Controlled terminology (sdtmgen/terminology.py): codelist validation and look-up precedence."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from sdtmgen.terminology import Codelist, Terminology, map_to_codelist


def codelist(terms: list[dict], extensible: bool = False, id_: str = "CL", case_sensitive: bool = False) -> Codelist:
    return Codelist.model_validate({"id": id_, "name": "Test", "extensible": extensible, "terms": terms,
                                    "case_sensitive": case_sensitive})


UNIT = codelist([
    {"value": "10^9/L", "decode": "Billion per Liter", "synonyms": ["G/L", "GI/L"]},
    {"value": "g/L", "decode": "Gram per Liter", "synonyms": ["mg/mL"]},
    {"value": "g/dL", "decode": "Gram per Deciliter"},
], extensible=True, case_sensitive=True)

SEX = codelist([
    {"value": "F", "code": "C16576", "decode": "Female"},
    {"value": "M", "code": "C20197", "decode": "Male"},
    {"value": "U", "code": "C17998", "decode": "Unknown", "synonyms": ["UNK"]},
])


def test_submission_value_decode_and_synonym_map_to_the_value():
    mapped, unmatched = map_to_codelist(pd.Series(["F", "Female", "  Male ", "UNK", "Unknown"]), SEX)
    assert mapped.tolist() == ["F", "F", "M", "U", "U"]
    assert not unmatched.any()


def test_case_insensitive_when_unambiguous():
    mapped, unmatched = map_to_codelist(pd.Series(["female", "MALE", "unk", "g/dl", "GRAM PER LITER"]),
                                        codelist(SEX.model_dump()["terms"] + [
                                            {"value": "g/dL", "decode": "Gram per Deciliter"},
                                            {"value": "g/L", "decode": "Gram per Liter"}]))
    assert mapped.tolist() == ["F", "M", "U", "g/dL", "g/L"]
    assert not unmatched.any()


def test_exact_case_wins_over_case_folding():
    mapped, unmatched = map_to_codelist(pd.Series(["g/L", "G/L", "gi/l"]), UNIT)
    assert mapped.tolist() == ["g/L", "10^9/L", "10^9/L"]
    assert not unmatched.any()


def test_text_ambiguous_without_case_is_not_guessed():
    """'g/l' could be g/L or G/L (10^9/L): it matches neither."""
    exact, folded = UNIT.lookup_tables()
    assert "G/L" not in folded
    mapped, unmatched = map_to_codelist(pd.Series(["g/l"]), UNIT)
    assert unmatched.tolist() == [True]


def test_synonym_equal_to_another_terms_value_is_rejected():
    with pytest.raises(ValidationError, match="maps to both"):
        codelist([{"value": "A", "synonyms": ["x"]}, {"value": "x"}])


def test_submission_value_wins_over_a_synonym_differing_only_by_case():
    cl = codelist([{"value": "u", "decode": "micro"}, {"value": "UNIT", "synonyms": ["U"]}])
    mapped, unmatched = map_to_codelist(pd.Series(["u", "U", "unit"]), cl)
    assert mapped.tolist() == ["u", "UNIT", "UNIT"]
    assert not unmatched.any()


def test_decode_output():
    mapped, _ = map_to_codelist(pd.Series(["F", "UNK", "m"]), SEX, output="decode")
    assert mapped.tolist() == ["Female", "Unknown", "Male"]


def test_missing_stays_missing_and_is_not_unmatched():
    mapped, unmatched = map_to_codelist(pd.Series(["", None, "  "], dtype="object"), SEX)
    assert mapped.isna().all()
    assert not unmatched.any()


def test_non_extensible_unknown_is_missing_and_flagged():
    mapped, unmatched = map_to_codelist(pd.Series(["F", "Other"]), SEX)
    assert mapped.iloc[0] == "F" and pd.isna(mapped.iloc[1])
    assert unmatched.tolist() == [False, True]
    assert isinstance(unmatched, np.ndarray)


def test_extensible_unknown_is_upper_cased_unless_the_codelist_is_case_sensitive():
    route = codelist([{"value": "ORAL"}], extensible=True)
    mapped, unmatched = map_to_codelist(pd.Series(["Intravitreal", "Oral"]), route)
    assert mapped.tolist() == ["INTRAVITREAL", "ORAL"] and unmatched.tolist() == [True, False]


def test_extensible_unknown_is_kept_as_collected_and_flagged():
    mapped, unmatched = map_to_codelist(pd.Series([" mmol/L ", "g/L"]), UNIT)
    assert mapped.tolist() == ["mmol/L", "g/L"]
    assert unmatched.tolist() == [True, False]


def test_synonym_mapping_to_two_terms_is_rejected():
    with pytest.raises(ValidationError, match="maps to both"):
        codelist([{"value": "A", "synonyms": ["same"]}, {"value": "B", "synonyms": ["same"]}])


def test_decode_equal_to_another_terms_value_is_rejected():
    with pytest.raises(ValidationError, match="maps to both"):
        codelist([{"value": "A", "decode": "B"}, {"value": "B"}])


def test_a_term_listed_twice_is_rejected():
    with pytest.raises(ValidationError, match="listed twice"):
        codelist([{"value": "A"}, {"value": "A"}])


def test_a_synonym_repeating_its_own_decode_is_fine():
    cl = codelist([{"value": "N", "decode": "No", "synonyms": ["No", "N"]}])
    assert cl.values() == ["N"]


def test_codelist_fields_are_checked():
    with pytest.raises(ValidationError):
        Codelist.model_validate({"id": "cl", "name": "x", "extensible": False, "terms": []})  # id pattern
    with pytest.raises(ValidationError):
        codelist([{"value": "A", "code": "12345"}])  # C-code pattern
    with pytest.raises(ValidationError):
        codelist([{"value": "A", "synonym": ["a"]}])  # unknown field


def test_terminology_ids_unique_and_lookup():
    terminology = Terminology(ct_package="2025-03-28", codelists=[SEX, UNIT.model_copy(update={"id": "UNIT"})])
    assert terminology.ids() == {"CL", "UNIT"}
    assert terminology.get("UNIT").extensible
    with pytest.raises(KeyError):
        terminology.get("NOPE")
    with pytest.raises(ValidationError, match="defined twice"):
        Terminology(ct_package="x", codelists=[SEX, SEX])


def test_example_terminology_units(spec_folder):
    """The example study's UNIT codelist keeps g/L and G/L apart."""
    from sdtmgen.spec.loader import load_terminology

    terminology = load_terminology(spec_folder)
    mapped, unmatched = map_to_codelist(pd.Series(["g/L", "G/L", "g/dL"]), terminology.get("UNIT"))
    assert mapped.tolist() == ["g/L", "10^9/L", "g/dL"]
    assert not unmatched.any()
