"""The command line: exit codes by cause, warnings on the console, --strict, a build killed during its swap."""

from __future__ import annotations

import errno
import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

import sdtmgen.pipeline as pipeline
import sdtmgen.steps as steps  # the in-memory stages every run shares (sdtmgen.runner)
from sdtmgen.cli import WARNINGS_SHOWN, main
from sdtmgen.errors import EXIT_CODES, Finding
from sdtmgen.output import MARKER

ROOT = Path(__file__).resolve().parents[1]


def snapshot(root: Path) -> dict[str, str]:
    """Every file under ``root`` with its content hash, and every folder."""
    return {str(p.relative_to(root)): "dir" if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*"))}


def runner() -> CliRunner:
    """stderr kept apart from stdout (click 8.1 needs mix_stderr=False; 8.2 always keeps it)."""
    try:
        return CliRunner(mix_stderr=False)
    except TypeError:
        return CliRunner()


def invoke(*args: str):
    return runner().invoke(main, list(args))


@pytest.fixture(scope="module")
def previous(tmp_path_factory, spec_folder, example_raw) -> Path:
    """One real build of the example, made by the command line; tests copy it before changing anything."""
    out = tmp_path_factory.mktemp("cli") / "out"
    result = invoke("build", "--spec", str(spec_folder), "--raw", str(example_raw), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert (out / MARKER).is_file() and (out / "report" / MARKER).is_file()
    return out


def copy_of(previous: Path, tmp_path: Path) -> tuple[Path, dict[str, str]]:
    out = tmp_path / "out"
    shutil.copytree(previous, out)
    return out, snapshot(out)


def extra_warnings(n: int) -> list[Finding]:
    return [Finding(f"TEST-W{i}", "warning", "AE", f"made-up warning number {i}") for i in range(1, n + 1)]


def test_help_lists_every_exit_code_and_the_readme_too():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for command in ("build", "report"):
        text = invoke(command, "--help").output
        for code, cause in EXIT_CODES.items():
            assert re.search(rf"^\s+{code}\s+{re.escape(cause[:30])}", text, re.M), (command, code)
    for code in EXIT_CODES:
        assert re.search(rf"^\| {code} \|", readme, re.M), f"README has no row for exit code {code}"
    assert "--strict" in invoke("build", "--help").output and "--strict" in invoke("report", "--help").output


def test_usage_errors_exit_2():
    assert invoke("build", "--format", "docx").exit_code == 2
    assert invoke("build", "--out", "/").exit_code == 2


def test_spec_errors_exit_1(tmp_path):
    result = invoke("build", "--spec", str(tmp_path / "nowhere"), "--out", str(tmp_path / "out"))
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and not (tmp_path / "out").exists()


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EPERM])
def test_environment_failures_exit_3_naming_the_path(code, tmp_path, monkeypatch, spec_folder):
    def fails(*_args, **_kwargs):
        raise OSError(code, os.strerror(code), str(tmp_path / "somewhere" / "file.yaml"))

    monkeypatch.setattr(steps, "load_spec", fails)
    result = invoke("build", "--spec", str(spec_folder), "--out", str(tmp_path / "out"))
    assert result.exit_code == 3, result.output
    assert str(tmp_path / "somewhere" / "file.yaml") in result.stderr
    assert errno.errorcode[code] in result.stderr and "internal error" not in result.stderr


def test_a_read_only_parent_exits_3_and_leaves_nothing(tmp_path, monkeypatch, spec_folder, example_raw):
    import sdtmgen.output as output

    parent = tmp_path / "readonly"
    parent.mkdir()

    def mkdtemp(prefix="", dir=None):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(dir))

    monkeypatch.setattr(output.tempfile, "mkdtemp", mkdtemp)
    result = invoke("build", "--spec", str(spec_folder), "--raw", str(example_raw), "--out", str(parent / "out"))
    assert result.exit_code == 3, result.output
    assert f"{parent}: read-only file system (EROFS)" in result.stderr
    assert "the output folder was not changed" in result.stderr
    assert list(parent.iterdir()) == []


def test_disk_full_while_writing_keeps_the_previous_build(previous, tmp_path, monkeypatch, spec_folder, example_raw):
    out, before = copy_of(previous, tmp_path)
    calls = {"n": 0}
    real = pipeline.write_xpt

    def fills_the_disk(path, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(pipeline, "write_xpt", fills_the_disk)
    result = invoke("build", "--spec", str(spec_folder), "--raw", str(example_raw), "--out", str(out))
    assert result.exit_code == 3, result.output
    assert "no space left on device (ENOSPC)" in result.stderr and ".xpt" in result.stderr
    assert snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_defects_are_internal_errors_with_their_own_code(tmp_path, monkeypatch, spec_folder):
    for exc in (KeyError("oops"), FileNotFoundError(errno.ENOENT, "No such file", "x")):
        def fails(*_args, exc=exc, **_kwargs):
            raise exc

        monkeypatch.setattr(steps, "load_spec", fails)
        result = invoke("build", "--spec", str(spec_folder), "--out", str(tmp_path / "out"))
        assert result.exit_code == 5, result.output
        assert "internal error" in result.stderr and "Please report" in result.stderr


def test_ctrl_c_exits_130_and_changes_nothing(previous, tmp_path, monkeypatch, spec_folder, example_raw):
    out, before = copy_of(previous, tmp_path)

    def interrupted(*_args, **_kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(steps, "build_adam", interrupted)
    result = invoke("build", "--spec", str(spec_folder), "--raw", str(example_raw), "--out", str(out))
    assert result.exit_code == 130 and "interrupted" in result.stderr, result.output
    assert snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


@pytest.mark.parametrize("name, code", [("SIGTERM", 143), ("SIGHUP", 129)])
def test_sigterm_unwinds_like_ctrl_c_and_leaves_nothing_behind(name, code, previous, tmp_path, monkeypatch,
                                                               spec_folder, example_raw):
    """kill, a CI timeout or a closed terminal mid-build: no unfinished output folder or lock is left beside
    the target (the default action killed the process on the spot and left both), the target is unchanged."""
    out, before = copy_of(previous, tmp_path)
    signum = getattr(signal, name)
    received: list[int] = []

    def noted(s, _frame):  # without sdtmgen's own handler the signal is only noted and the build goes on
        received.append(s)

    outer = signal.signal(signum, noted)
    build_adam = steps.build_adam

    def killed(*args, **kwargs):
        os.kill(os.getpid(), signum)
        return build_adam(*args, **kwargs)

    monkeypatch.setattr(steps, "build_adam", killed)
    try:
        result = invoke("build", "--spec", str(spec_folder), "--raw", str(example_raw), "--out", str(out))
        assert not received  # the command's own handler took the signal ...
        assert signal.getsignal(signum) is noted  # ... and gave the caller's back afterwards
    finally:
        signal.signal(signum, outer)
    assert result.exit_code == code and f"terminated ({name})" in result.stderr, result.output
    assert snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no .out.sdtmgen-new-*, no .out.sdtmgen-lock


def test_a_second_build_into_the_same_folder_exits_4(tmp_path, spec_folder, example_raw):
    from sdtmgen.output import atomic_folder

    out = tmp_path / "out"
    with atomic_folder(out) as work:
        (work / "first.txt").write_text("first")
        result = invoke("build", "--spec", str(spec_folder), "--raw", str(example_raw), "--out", str(out))
        assert result.exit_code == 4, result.output
        assert "another sdtmgen run" in result.stderr
        assert (work / "first.txt").is_file()
    assert (out / "first.txt").is_file()


def test_build_lists_the_first_warnings_on_stderr(previous, tmp_path, monkeypatch, spec_folder, example_raw):
    out, _ = copy_of(previous, tmp_path)
    real = steps.validate_sdtm
    monkeypatch.setattr(steps, "validate_sdtm", lambda *a: real(*a) + extra_warnings(WARNINGS_SHOWN + 2))
    result = invoke("build", "--spec", str(spec_folder), "--raw", str(example_raw), "--out", str(out))
    assert result.exit_code == 0, result.output
    shown = [n for n in range(1, WARNINGS_SHOWN + 3) if f"TEST-W{n} AE: made-up warning number {n}" in result.stderr]
    assert shown == list(range(1, WARNINGS_SHOWN + 1))
    count = int(re.search(r"^(\d+) warning\(s\) \(--strict", result.stderr, re.M).group(1))
    assert count >= WARNINGS_SHOWN + 2
    assert f"... and {count - WARNINGS_SHOWN} more in {out / 'reports' / 'conformance.txt'}" in result.stderr
    assert "TEST-W7" in (out / "reports" / "conformance.txt").read_text()


def test_strict_build_fails_with_exit_1_and_writes_nothing(previous, tmp_path, monkeypatch, spec_folder, example_raw):
    """A warning found while the files are written (define.xml) still stops the swap."""
    out, before = copy_of(previous, tmp_path)
    real = pipeline.write_define_package
    monkeypatch.setattr(pipeline, "write_define_package", lambda *a, **k: real(*a, **k) + extra_warnings(1))
    args = ["build", "--spec", str(spec_folder), "--raw", str(example_raw), "--out", str(out)]
    result = invoke(*args, "--strict")
    assert result.exit_code == 1, result.output
    # the warning is printed as an error of the findings list: its rule id, dataset and message, counted in the total
    assert "--strict: " in result.stderr and " warning(s) treated as errors" in result.stderr, result.stderr
    assert "  [TEST-W1] AE: made-up warning number 1" in result.stderr and " errors in 0 raw files" in result.stderr
    assert snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_strict_stops_before_writing_when_validation_warns(tmp_path, monkeypatch, spec_folder, example_raw):
    real = steps.validate_sdtm
    monkeypatch.setattr(steps, "validate_sdtm", lambda *a: real(*a) + extra_warnings(2))
    monkeypatch.setattr(steps, "build_adam", lambda *a: pytest.fail("--strict went on after the warnings"))
    result = invoke("build", "--spec", str(spec_folder), "--raw", str(example_raw), "--out", str(tmp_path / "o"),
                    "--strict")
    assert result.exit_code == 1 and "2 warning(s) treated as errors" in result.stderr, result.output
    assert list(tmp_path.iterdir()) == []


def test_report_prints_its_warnings_and_strict_fails_it(previous, tmp_path, monkeypatch, spec_folder, example_raw):
    real = steps.validate_sdtm
    monkeypatch.setattr(steps, "validate_sdtm", lambda *a: real(*a) + extra_warnings(2))
    out = tmp_path / "report"
    args = ["report", "--spec", str(spec_folder), "--raw", str(example_raw), "--out", str(out)]
    strict = invoke(*args, "--strict")
    assert strict.exit_code == 1, strict.output
    assert "--strict: 2 warning(s) treated as errors" in strict.stderr and not out.exists()
    assert "  [TEST-W1] AE: made-up warning number 1" in strict.stderr, strict.stderr
    assert "  [TEST-W2] AE: made-up warning number 2" in strict.stderr and "total: 2 errors in" in strict.stderr
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    assert "TEST-W1 AE: made-up warning number 1" in result.stderr
    assert "TEST-W2 AE: made-up warning number 2" in result.stderr
    assert (out / "report.html").is_file() and (out / MARKER).is_file()
    # and the report folder of a previous build may be replaced by `sdtmgen report`
    build_out, _ = copy_of(previous, tmp_path / "b")
    again = invoke("report", "--spec", str(spec_folder), "--raw", str(example_raw), "--out", str(build_out / "report"))
    assert again.exit_code == 0, again.output


KILLED_BUILD = """
import os, signal, sys
import sdtmgen.output as output
from sdtmgen.cli import main

output._after_step = lambda step: os.kill(os.getpid(), signal.SIGKILL) if step == "old-moved" else None
main(sys.argv[1:])
"""


def test_a_build_killed_between_the_renames_is_repaired_by_the_next_failing_build(previous, tmp_path, spec_folder,
                                                                                  example_raw):
    out, before = copy_of(previous, tmp_path)
    args = ["build", "--spec", str(spec_folder), "--raw", str(example_raw), "--out", str(out)]
    killed = subprocess.run([sys.executable, "-c", KILLED_BUILD, *args], capture_output=True, timeout=600)
    assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()[-2000:]
    assert not out.exists()  # killed with the previous build moved aside
    aside = list(tmp_path.glob(".out.sdtmgen-old-*"))
    assert len(aside) == 1 and snapshot(aside[0]) == before
    # the next build fails on bad raw data: it must put the previous build back, not delete it
    raw = tmp_path / "raw"
    shutil.copytree(example_raw, raw)
    ae = pd.read_csv(raw / "ae.csv", dtype=str, keep_default_na=False)
    stray = ae.iloc[[0]].assign(SUBJECT="01-999")  # a subject missing from demographics
    pd.concat([ae, stray]).to_csv(raw / "ae.csv", index=False, lineterminator="\n")
    failed = invoke("build", "--spec", str(spec_folder), "--raw", str(raw), "--out", str(out))
    assert failed.exit_code == 1 and "XD-SUBJ-DM" in failed.stderr, failed.output
    assert f"repaired: restored the previous output {out}" in failed.stderr
    assert snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "raw"]
