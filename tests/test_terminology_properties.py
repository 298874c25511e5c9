"""Property-based checks of codelist mapping (hypothesis)."""

from __future__ import annotations

import pandas as pd
from hypothesis import given, settings, strategies as st

from sdtmgen.terminology import Codelist, Term, map_to_codelist

words = st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=12)


@st.composite
def codelists(draw):
    values = draw(st.lists(words, min_size=1, max_size=6, unique_by=lambda v: v.upper()))
    terms = [Term(value=v, decode=f"decode of {v}") for v in values]
    return Codelist(id="CL", name="test", extensible=draw(st.booleans()), terms=terms)


@settings(max_examples=60, deadline=None)
@given(codelists(), st.lists(st.integers(min_value=0, max_value=5), min_size=1, max_size=20))
def test_every_submission_value_and_decode_maps_to_itself(codelist, picks):
    values = [codelist.terms[i % len(codelist.terms)].value for i in picks]
    mapped, unmatched = map_to_codelist(pd.Series(values), codelist)
    assert mapped.tolist() == values and not unmatched.any()
    decodes = [f"  decode of {v} " for v in values]  # spaces around collected text do not matter
    mapped, unmatched = map_to_codelist(pd.Series(decodes), codelist)
    assert mapped.tolist() == values and not unmatched.any()


@settings(max_examples=60, deadline=None)
@given(codelists(), st.lists(words, min_size=1, max_size=10))
def test_unknown_values_are_flagged_never_guessed(codelist, collected):
    known = {t.value.upper() for t in codelist.terms} | {f"DECODE OF {t.value}".upper() for t in codelist.terms}
    mapped, unmatched = map_to_codelist(pd.Series(collected), codelist)
    for text, out, bad in zip(collected, mapped, unmatched):
        if text.strip().upper() in known:
            assert not bad and out in codelist.values()
        else:
            assert bad
            # extensible: kept as collected (upper-cased); non-extensible: nothing submitted (the rule stops the build)
            assert (out == text.strip().upper()) if codelist.extensible else pd.isna(out)


@given(st.lists(st.one_of(st.none(), st.just(""), st.just("   ")), min_size=1, max_size=5))
def test_missing_stays_missing(blanks):
    codelist = Codelist(id="NY", name="No Yes", extensible=False, terms=[Term(value="Y"), Term(value="N")])
    mapped, unmatched = map_to_codelist(pd.Series(blanks, dtype="object"), codelist)
    assert mapped.isna().all() and not unmatched.any()
