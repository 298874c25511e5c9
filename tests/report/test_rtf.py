"""RTF tables: one per outcome measure, their numbers those of the ARD, and LibreOffice opens them."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from sdtmgen.report.html import _percent

from sdtmgen.report import write_report


@pytest.fixture(scope="module")
def written(report, tmp_path_factory):
    folder = tmp_path_factory.mktemp("rtf_report")
    write_report(folder, report)
    return folder


def rtf_text(path) -> str:
    """The RTF's visible text, roughly: control words and groups dropped, escapes undone."""
    raw = path.read_text(encoding="latin-1")
    raw = re.sub(r"\\'([0-9a-f]{2})", lambda m: bytes.fromhex(m.group(1)).decode("latin-1"), raw)
    raw = re.sub(r"\\[a-z]+-?\d* ?", " ", raw)
    return re.sub(r"\s+", " ", raw.replace("{", " ").replace("}", " "))


def test_one_table_per_outcome_with_the_ard_numbers(written, ard):
    files = sorted(p.name for p in (written / "rtf").glob("*.rtf"))
    assert files == [f"outcome_{n:02d}.rtf" for n in range(1, 17)]
    for number, rows in ard.groupby("outcome"):
        text = rtf_text(written / "rtf" / f"outcome_{number:02d}.rtf")
        assert f"Table {number}." in text and "Safety population" in text
        stats = rows.pivot_table(index=["analysis", "group1_level", "group2_level", "variable", "variable_level"],
                                 columns="stat_name", values="stat_fmt", aggfunc="first")
        checked = 0
        for _, cell in stats.iterrows():
            if isinstance(cell.get("n"), str) and isinstance(cell.get("N"), str) and cell.get("p"):
                shown = _percent(cell["p"])  # 0.0 and 100.0 are shown as 0 and 100
                assert shown in (cell["p"], cell["p"].removesuffix(".0"))
                assert f"{cell['n']}/{cell['N']} ({shown}%)" in text, (number, cell.name)
                checked += 1
            elif isinstance(cell.get("estimate"), str) and isinstance(cell.get("conf.low"), str):
                assert f"{cell['estimate']} ({cell['conf.low']}, {cell['conf.high']})" in text, (number, cell.name)
                checked += 1
        if number not in (3,):
            assert checked or number in (6, 12, 14), number
    assert "N=3" in rtf_text(written / "rtf" / "outcome_05.rtf")


def test_libreoffice_converts_every_table_to_pdf(written, tmp_path):
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        pytest.skip("LibreOffice is not installed (Debian: apt-get install libreoffice-writer-nogui)")
    files = sorted((written / "rtf").glob("*.rtf"))
    run = subprocess.run([soffice, "--headless", f"-env:UserInstallation=file://{tmp_path / 'profile'}",
                          "--convert-to", "pdf", "--outdir", str(tmp_path / "pdf"), *map(str, files)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    for rtf in files:
        pdf = tmp_path / "pdf" / f"{rtf.stem}.pdf"
        data = pdf.read_bytes()
        assert data.startswith(b"%PDF") and len(re.findall(rb"/Type\s*/Page[^s]", data)) >= 1, rtf.name


def test_writing_the_tables_prints_nothing(report, tmp_path, capfd):
    """A build's terminal shows the summary only: no path of a table (rtflite's own writer printed each one,
    naming the build's hidden temporary folder)."""
    capfd.readouterr()
    write_report(tmp_path, report)
    out = capfd.readouterr().out
    assert len(list((tmp_path / "rtf").glob("*.rtf"))) == 16
    assert ".rtf" not in out and str(tmp_path) not in out
