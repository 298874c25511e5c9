"""Hostile specs: alias bombs, duplicated keys, path-like form names, non-ASCII labels, derivation cycles.

Each case edits a copy of the example spec and expects a SpecError naming the file and line,
fast, before anything reads raw data.
"""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import pytest

from sdtmgen.errors import RawDataError, SpecError
from sdtmgen.raw_export import RawExport
from sdtmgen.spec.loader import MAX_NODES, load_model, load_spec
from sdtmgen.spec.models import DomainSpec, StudySpec


def edit(path: Path, old: str, new: str) -> int:
    """Replace the first `old` by `new`; return the 1-based line where `new` starts."""
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} is not in {path}: update the test"
    at = text.index(old)
    path.write_text(text[:at] + new + text[at + len(old):], encoding="utf-8")
    return text[:at].count("\n") + 1


def line_of(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if needle in line)


@pytest.fixture
def domain_file(spec_folder, tmp_path) -> Path:
    path = tmp_path / "dm.yaml"
    shutil.copy(spec_folder / "sdtm" / "dm.yaml", path)
    return path


def error_of(path: Path, model=DomainSpec, **kw) -> str:
    with pytest.raises(SpecError) as err:
        load_model(path, model, **kw)
    return str(err.value)


# --- item 10: alias expansion is bounded ----------------------------------------------------------

BOMB = """\
x0: &a0 [{column: SEX, equals: M}, {column: SEX, equals: F}, {column: SEX, equals: M}, {column: SEX, equals: F}]
x1: &a1 [*a0, *a0, *a0, *a0, *a0, *a0, *a0, *a0, *a0, *a0]
x2: &a2 [*a1, *a1, *a1, *a1, *a1, *a1, *a1, *a1, *a1, *a1]
x3: &a3 [*a2, *a2, *a2, *a2, *a2, *a2, *a2, *a2, *a2, *a2]
x4: &a4 [*a3, *a3, *a3, *a3, *a3, *a3, *a3, *a3, *a3, *a3]
x5: &a5 [*a4, *a4, *a4, *a4, *a4, *a4, *a4, *a4, *a4, *a4]
x6: &a6 [*a5, *a5, *a5, *a5, *a5, *a5, *a5, *a5, *a5, *a5]
x7: &a7 [*a6, *a6, *a6, *a6, *a6, *a6, *a6, *a6, *a6, *a6]
x8: &a8 [*a7, *a7, *a7, *a7, *a7, *a7, *a7, *a7, *a7, *a7]
"""


def test_nested_aliases_in_a_where_fail_fast_with_file_and_line(domain_file):
    text = domain_file.read_text(encoding="utf-8")
    domain_file.write_text(BOMB + text.replace("  - form: dm\n", "  - form: dm\n    where: {any: [*a8, *a8]}\n", 1),
                           encoding="utf-8")
    where_line = line_of(domain_file, "where: {any")
    start = time.perf_counter()
    message = error_of(domain_file)
    assert time.perf_counter() - start < 2  # was 55 s, then MemoryError
    assert f"{domain_file}:{where_line}: sources.0.where.any expands to" in message
    assert f"more than the {MAX_NODES:,}" in message
    assert message.endswith("uses the anchor defined at line 9")  # &a8


def test_aliases_within_the_limit_still_work(domain_file):
    text = domain_file.read_text(encoding="utf-8")
    text = text.replace("  - form: dm\n", "  - form: dm\n    where: {all: [&w {not: {column: SUBJECT, missing: true}}, *w]}\n", 1)
    domain_file.write_text(text, encoding="utf-8")
    spec = load_model(domain_file, DomainSpec)
    assert spec.sources[0].where.all[0] == spec.sources[0].where.all[1]


def test_a_recursive_alias_is_refused(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("domain: DM\nlabel: &l [1, *l]\n", encoding="utf-8")
    assert f"{path}:2:" in error_of(path)
    assert "recursive" in error_of(path)


def test_the_limit_counts_every_use_of_an_alias(tmp_path):
    # under the limit once, over it when used twice
    path = tmp_path / "s.yaml"
    items = ", ".join(["x"] * 999)
    path.write_text(f"a: &a [{items}]\nb: &b [{', '.join(['*a'] * 60)}]\nc: [*b, *b]\n", encoding="utf-8")
    message = error_of(path)
    assert f"{path}:3: c expands to 120,003 YAML nodes" in message


# --- item 18: a key given twice ---------------------------------------------------------------------

def test_a_duplicated_key_names_both_lines(domain_file):
    first = line_of(domain_file, "ACTARMUD: {rule: not_collected}")
    edit(domain_file, "      COUNTRY:\n", "      ACTARMUD: {rule: hardcode, value: X}\n      COUNTRY:\n")
    second = line_of(domain_file, "ACTARMUD: {rule: hardcode")
    message = error_of(domain_file)
    assert f"{domain_file}:{second}: key 'ACTARMUD' is given twice in one mapping (first at line {first})" in message


def test_a_duplicated_top_level_key_in_study_yaml(spec_folder, tmp_path):
    path = tmp_path / "study.yaml"
    shutil.copy(spec_folder / "study.yaml", path)
    first = line_of(path, "  sponsor:")
    edit(path, "  protocol:", "  sponsor: Someone else\n  protocol:")
    message = error_of(path, StudySpec, key="study")
    assert f"{path}:{first + 1}: key 'sponsor' is given twice in one mapping (first at line {first})" in message


def test_the_same_key_in_different_mappings_is_fine(domain_file):
    # 'form' and 'columns' appear in every lookup: one per mapping is not a duplicate
    assert load_model(domain_file, DomainSpec).domain == "DM"


# --- item 9: a lookup's form is a plain form name, read only from the raw folder ------------------

@pytest.mark.parametrize("form", ["../../SECRET", "/etc/hostname", "ic/../ic", "IC", "ic.csv", "..", ""])
def test_a_lookup_form_that_is_a_path_is_refused_at_load(domain_file, form):
    line = edit(domain_file, "{form: ic, columns: [ICDAT, ICTIM]}", f"{{form: '{form}', columns: [ICDAT, ICTIM]}}")
    message = error_of(domain_file)
    assert f"{domain_file}:{line}: sources.0.lookups.0.form" in message


def test_the_raw_reader_refuses_path_like_forms_and_links_out(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    secret = tmp_path / "SECRET.csv"
    secret.write_text("SUBJECT,TOKEN\n01-001,s3cr3t\n", encoding="utf-8")
    export = RawExport(raw)
    with pytest.raises(RawDataError, match="not a plain form name"):
        export.read("../SECRET")
    (raw / "secret.csv").symlink_to(secret)
    with pytest.raises(RawDataError, match="links outside the raw folder"):
        export.read("secret")
    assert export.forms == {}


# --- item 13: non-ASCII text that would go into the XPT files --------------------------------------

@pytest.mark.parametrize("old,new,where", [
    ("label: Demographics", "label: Démographie", "label"),
    ("label: Country,", "label: Land\u00e9,", "variables.25.label"),
])
def test_non_ascii_labels_fail_at_load_with_file_and_line(domain_file, old, new, where):
    line = edit(domain_file, old, new)
    message = error_of(domain_file)
    assert f"{domain_file}:{line}: {where}:" in message


@pytest.mark.parametrize("old,new,where", [
    ("visit: DAY 1,", "visit: DAY\u00a01,", "visits.1.visit"),
    ("element: Screening,", "element: Screening\u2013phase,", "elements.0.element"),
    ("arm: UCMSC-Exo 50 ug/kg", "arm: UCMSC-Exo 50 \u00b5g/kg", "arms.0.arm"),
    ("start_rule: Chemotherapy day 1}", "start_rule: \"Chemotherapy day 1\\t\"}", "visits.1.start_rule"),
])
def test_non_ascii_study_design_text_fails_at_load(spec_folder, tmp_path, old, new, where):
    path = tmp_path / "study.yaml"
    shutil.copy(spec_folder / "study.yaml", path)
    line = edit(path, old, new)
    message = error_of(path, StudySpec, key="study")
    assert f"{path}:{line}: {where}: Value error, must be printable ASCII" in message


# --- item 17: a derivation cycle names the spec files and lines -------------------------------------

def test_a_derivation_cycle_names_each_step_file_and_line(spec_copy, example_raw):
    from sdtmgen.sdtm.build import build_sdtm

    dm = spec_copy / "sdtm" / "dm.yaml"
    line = edit(dm, "{derive: subject_date, target: RFSTDTC, domain: EX, variable: EXSTDTC, agg: min}",
                "{derive: subject_date, target: RFSTDTC, domain: EX, variable: EXSTDY, agg: min}")
    spec = load_spec(spec_copy)
    ex = spec_copy / "sdtm" / "ex.yaml"
    ex_line = line_of(ex, "{derive: study_day, target: EXSTDY")
    with pytest.raises(SpecError) as err:
        build_sdtm(spec, example_raw)
    message = str(err.value)
    assert "can never run" in message
    assert f"{dm}:{line}: DM: subject_date waits for EX.EXSTDY" in message
    assert f"produced by {ex}:{ex_line}: EX: study_day, which cannot run yet" in message
    # EX's queue waits on SE, whose elements wait on a later DM step: each named with its file and line
    se = spec_copy / "sdtm" / "se.yaml"
    assert f"{ex}:{line_of(ex, '{derive: epoch')}: EX: epoch waits for SE.EPOCH, SE.SESTDTC" in message
    assert re.search(re.escape(f"{se}:{line_of(se, 'derive: subject_elements')}: SE: subject_elements waits for ")
                     + r"[A-Z., ]*\bDM\.RFPENDTC\b", message), message


def test_non_ascii_text_in_spec_records_fails_at_load(spec_folder, tmp_path):
    path = tmp_path / "ts.yaml"
    shutil.copy(spec_folder / "sdtm" / "ts.yaml", path)
    line = edit(path, "TSVAL: Wuhan Union Hospital}", "TSVAL: Wuhan Union Hospital \u6b66\u6c49}")
    message = error_of(path)
    assert f"{path}:{line}: TSVAL: must be printable ASCII" in message


def test_the_simulation_spec_gets_the_same_checks(spec_folder, tmp_path):
    from sdtmgen.spec.simulation import load_simulation_params

    path = tmp_path / "simulation.yaml"
    text = (spec_folder / "simulation.yaml").read_text(encoding="utf-8")
    first = next(i for i, line in enumerate(text.splitlines(), 1) if line and not line.startswith((" ", "#")))
    key = text.splitlines()[first - 1].split(":")[0]
    path.write_text(text + text.splitlines()[first - 1] + "\n", encoding="utf-8")
    with pytest.raises(SpecError, match=f"{path}:{text.count(chr(10)) + 1}: key '{key}' is given twice in one "
                                        f"mapping \\(first at line {first}\\)"):
        load_simulation_params(path)
