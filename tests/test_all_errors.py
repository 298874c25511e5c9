"""Every data error of an export in one run: collected across forms, domains and rules, printed
grouped by raw file and rule, capped per rule, with a total; nothing written."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from sdtmgen.cli import main
from sdtmgen.errors import BuildError, Finding
from sdtmgen.findings_text import SKIPPED_RULE, format_findings


def edit(raw: Path, form: str, row: int, column: str, value: str) -> None:
    """Set one cell (row = 1-based data row, i.e. line row + 1 of the file)."""
    path = raw / f"{form}.csv"
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame.loc[row - 1, column] = value
    frame.to_csv(path, index=False, lineterminator="\n", encoding="utf-8")


def build(spec_folder: Path, raw: Path, out: Path):
    return CliRunner().invoke(main, ["build", "--spec", str(spec_folder), "--raw", str(raw), "--out", str(out)])


def file_sections(text: str) -> dict[str, str]:
    """The console output cut into its per-file sections ('ae.csv: 1 finding' ... up to the next)."""
    heads = list(re.finditer(r"^(\S+\.csv): \d+ findings?$", text, flags=re.M))
    return {m.group(1): text[m.end():heads[i + 1].start() if i + 1 < len(heads) else len(text)]
            for i, m in enumerate(heads)}


@pytest.fixture
def raw(tmp_path, example_raw) -> Path:
    copy = tmp_path / "raw"
    shutil.copytree(example_raw, copy)
    return copy


def test_errors_in_four_forms_are_reported_together_grouped_by_file(raw, tmp_path, spec_folder):
    edit(raw, "ae", 1, "AESTDAT", "30 FEB 2024")      # impossible date (mapping rule iso8601)
    edit(raw, "dm", 2, "SEX", "Mle")                   # not in a non-extensible codelist (codelist)
    edit(raw, "cm", 3, "CMDOSE", "five")               # not a number (number)
    edit(raw, "hem", 2, "LBORRESU", "mmol/L")          # a unit with no conversion (derivation standard_results)
    out = tmp_path / "out"
    result = build(spec_folder, raw, out)
    text = result.output
    assert result.exit_code == 1, text
    assert "Traceback" not in text and "internal error" not in text
    assert not out.exists()
    sections = file_sections(text)
    assert list(sections) == ["ae.csv", "cm.csv", "dm.csv", "hem.csv"], text
    assert "[iso8601] AE.AESTDTC" in sections["ae.csv"] and "ae.csv row 2, column AESTDAT: '30 FEB 2024'" in text
    assert "[number] CM.CMDOSE" in sections["cm.csv"] and "cm.csv row 4, column CMDOSE: 'five'" in text
    assert "[codelist] DM.SEX" in sections["dm.csv"] and "dm.csv row 3, column SEX: 'Mle'" in text
    assert "[standard_results] LB.LBORRESU" in sections["hem.csv"] and "hem.csv:3: LBORRESU='mmol/L'" in text
    # the missing SEX the bad value leaves is not reported a second time (SCH-REQUIRED, IG-REQ)
    assert set(re.findall(r"^  \[([^\]]+)\]", text, flags=re.M)) == {"iso8601", "number", "codelist",
                                                                      "standard_results"}
    assert "total: 4 errors in 4 raw files (4 rows)" in text


def test_a_form_that_cannot_be_read_does_not_hide_the_other_forms_errors(raw, tmp_path, spec_folder):
    frame = pd.read_csv(raw / "ae.csv", dtype=str, keep_default_na=False)
    frame.drop(columns=["AESTDAT"]).to_csv(raw / "ae.csv", index=False, lineterminator="\n")
    (raw / "transfusion.csv").unlink()                 # CM's second source
    (raw / "ds.csv").write_bytes(b"")                  # not even a header
    edit(raw, "dm", 2, "SEX", "Mle")
    edit(raw, "hem", 2, "LBORRESU", "mmol/L")
    out = tmp_path / "out"
    result = build(spec_folder, raw, out)
    text = result.output
    assert result.exit_code == 1, text
    assert not out.exists()
    sections = file_sections(text)
    assert set(sections) == {"ae.csv", "transfusion.csv", "ds.csv", "dm.csv", "hem.csv"}, text
    assert "[raw-columns] AE" in sections["ae.csv"] and "missing column(s) AESTDAT" in sections["ae.csv"]
    assert "raw form 'transfusion' not found" in sections["transfusion.csv"]
    assert "ds.csv: the file is empty" in sections["ds.csv"]
    assert "dm.csv row 3, column SEX: 'Mle'" in sections["dm.csv"]
    assert "hem.csv:3: LBORRESU='mmol/L'" in sections["hem.csv"]
    assert "total: 5 errors in 5 raw files" in text
    # the datasets that need the unreadable forms are named as not built (so not checked)
    note = next(line for line in text.splitlines() if line.startswith("note: "))
    for name in ("AE (its raw form could not be mapped)", "CM (its raw form could not be mapped)",
                 "DS (its raw form could not be mapped)"):
        assert name in note


def test_a_text_too_long_for_supp_does_not_hide_the_other_forms_errors(raw, tmp_path, spec_folder):
    edit(raw, "ae", 1, "AETERM", "word " * 5_000)       # 24,999 once trimmed: more than SUPPAE parts can carry
    edit(raw, "dm", 2, "SEX", "Mle")
    out = tmp_path / "out"
    result = build(spec_folder, raw, out)
    text = result.output
    assert result.exit_code == 1 and "Traceback" not in text, text
    assert not out.exists()
    sections = file_sections(text)
    assert set(sections) == {"ae.csv", "dm.csv"}, text
    assert "[SUPP-SPLIT] AE: AE.AETERM: text of 24,999 characters (ae.csv line 2)" in sections["ae.csv"]
    assert "dm.csv row 3, column SEX: 'Mle'" in sections["dm.csv"]
    assert "total: 2 errors in 2 raw files" in text


def test_pipeline_raises_one_build_error_with_every_finding(raw, tmp_path, spec_folder):
    from sdtmgen.pipeline import build as run_build

    for row in range(1, 31):
        edit(raw, "hem", row, "LBDAT", f"3{row % 2} FEB 2024" if row % 3 else "2024-02-01")
    edit(raw, "vs", 1, "VSDAT", "99 MAR 2024")
    with pytest.raises(BuildError) as failed:
        run_build(spec_folder, raw, tmp_path / "out")
    errors = [f for f in failed.value.findings if f.severity == "error"]
    assert {(f.rule, f.dataset, f.variable) for f in errors} == {("iso8601", "LB", "LBDTC"), ("iso8601", "VS", "VSDTC")}
    lb = next(f for f in errors if f.dataset == "LB")
    assert len(lb.sources) == 30 and lb.sources[0] == "hem.csv:2"
    text = format_findings(failed.value.findings)
    assert text.count("hem.csv row ") == 20 and "... and 10 more" in text
    assert "total: 2 errors in 2 raw files (31 rows)" in text


def finding(rule: str, sources: tuple[str, ...], **kw) -> Finding:
    return Finding(rule=rule, severity=kw.pop("severity", "error"), dataset=kw.pop("dataset", "AE"),
                   message=kw.pop("message", "bad"), sources=sources, **kw)


def test_format_caps_each_rule_per_file_and_counts_all():
    many = tuple(f"ae.csv:{r}" for r in range(2, 52))
    findings = [
        finding("iso8601", many[:30], variable="AESTDTC", cells=tuple(f"ae.csv row {r}, column AESTDAT: 'x'"
                                                                      for r in range(2, 32))),
        finding("iso8601", many[30:], variable="AEENDTC"),  # same rule, same file: shares the cap
        finding("codelist", ("dm.csv:3",), dataset="DM", variable="SEX", hint="fix it"),
        finding("XD-SUBJ-DM", ("ae.csv:2", "cm.csv:5"), variable="USUBJID", values=("S9",)),
        finding("SCH-KEYS", (), dataset="TS", rows=(1, 2)),
        finding("TEXT-SPLIT", ("ae.csv:9",), severity="warning"),
        finding(SKIPPED_RULE, (), dataset="*", severity="warning", message="not built: RELREC"),
    ]
    text = format_findings(findings, cap=5)
    lines = text.splitlines()
    assert lines[0] == "ae.csv: 3 findings"
    assert text.count("ae.csv row ") == 5 and "    ... and 25 more" in lines
    assert "    20 row(s), not listed" in lines  # the second iso8601 finding: the rule's cap is spent
    assert "  [XD-SUBJ-DM] AE.USUBJID: bad" in lines and "    cm.csv:5" in lines  # listed under each file
    assert lines.index("cm.csv: 1 finding") < lines.index("dm.csv: 1 finding") < lines.index(
        "TS (not traced to a raw row): 1 finding")
    assert "    what to do: fix it" in lines and "    values: 'S9'" in lines
    assert "TEXT-SPLIT" not in text  # warnings are not errors
    assert lines[-2] == "total: 5 errors in 3 raw files and 1 dataset check group (55 rows)"
    assert lines[-1] == "note: not built: RELREC"


def test_a_record_without_its_subject_number_is_reported_once(raw, tmp_path, spec_folder):
    """Its missing --SEQ, 'not in DM' and SUPP-- records follow from the empty subject number."""
    from sdtmgen.pipeline import build as run_build

    edit(raw, "ae", 1, "SUBJECT", "")
    with pytest.raises(BuildError) as failed:
        run_build(spec_folder, raw, tmp_path / "out")
    errors = [f for f in failed.value.findings if f.severity == "error"]
    assert [(f.rule, f.dataset, f.variable, f.sources) for f in errors] == [
        ("usubjid", "AE", "USUBJID", ("ae.csv:2",))]


def test_a_step_that_breaks_on_reported_bad_data_does_not_hide_it(raw, spec, monkeypatch):
    """Derivations run on data with errors; should one fail on it, the data errors are reported
    (with a note) -- but without data errors the same failure is a defect and is raised."""
    from sdtmgen.sdtm import build as sdtm_build

    def broken(*_args):
        raise ValueError("cannot derive")

    monkeypatch.setattr(sdtm_build, "run_derivations", broken)
    with pytest.raises(ValueError, match="cannot derive"):
        sdtm_build.build_sdtm(spec, raw)
    edit(raw, "dm", 2, "SEX", "Mle")
    result = sdtm_build.build_sdtm(spec, raw)
    assert [f.rule for f in result.findings if f.severity == "error"] == ["codelist"]
    assert result.datasets == {} and "DM" in result.skipped
    assert any(f.rule == SKIPPED_RULE and "derivations stopped" in f.message for f in result.findings)
