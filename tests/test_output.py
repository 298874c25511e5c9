"""--out safety: what may be replaced, refusals that touch nothing, the crash-safe swap, the lock, modes."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import sdtmgen.output as output
from sdtmgen.cli import main
from sdtmgen.errors import OutputBusy, OutputRefused
from sdtmgen.output import MARKER, atomic_folder, check_target

ROOT = Path(__file__).resolve().parents[1]


def snapshot(root: Path) -> dict[str, str]:
    """Every path under ``root`` with its kind and content hash (symlinks not followed)."""
    seen = {}
    for folder, dirs, files in os.walk(root, followlinks=False):
        for name in dirs + files:
            path = Path(folder) / name
            key = str(path.relative_to(root))
            if path.is_symlink():
                seen[key] = "link " + os.readlink(path)
            elif path.is_dir():
                seen[key] = f"dir {oct(path.stat().st_mode)}"
            else:
                seen[key] = hashlib.sha256(path.read_bytes()).hexdigest()
    return seen


@pytest.fixture
def project(tmp_path, monkeypatch, spec_folder, example_raw):
    """tmp/project/{specs,examples/raw,notes.txt} as the current folder, tmp/home as $HOME."""
    root = tmp_path / "project"
    shutil.copytree(spec_folder, root / "specs")
    shutil.copytree(example_raw, root / "examples" / "raw")
    (root / "notes.txt").write_text("the user's notes\n")
    shared = ROOT.parent / "shared"
    if shared.is_dir():
        (tmp_path / "shared").symlink_to(shared, target_is_directory=True)
    home = tmp_path / "home"
    (home / "Documents").mkdir(parents=True)
    (home / "Documents" / "letter.txt").write_text("dear\n")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(root)
    return root


REFUSED = {
    "current folder": (".", [], "it is the current folder"),
    "parent of the current folder": ("..", [], "it contains the current folder"),
    "spec folder": ("specs", [], "it is the spec folder"),
    "inside the spec folder": ("specs/sdtm", [], "it is inside the spec folder"),
    "new folder inside the spec folder": ("specs/output", [], "it is inside the spec folder"),
    "raw folder": ("examples/raw", ["--raw", "examples/raw"], "it is the raw folder"),
    "raw folder from study.yaml": ("examples/raw", [], "refused"),
    "new folder inside the default raw folder": ("examples/raw/out", [], "it is inside the raw folder"),
    "folder holding the raw folder": ("examples", ["--raw", "examples/raw"], "it contains the raw folder"),
    "home folder": ("HOME", [], "it is the home folder"),
    "non-empty folder that is not a build": ("HOME/Documents", [], "is not an sdtmgen build"),
    "root folder": ("/", [], "it is the root folder"),
    "empty string": ("", [], "empty string"),
    "a file": ("notes.txt", [], "is a file"),
    "symlink to the current folder": ("LINK", [], "it is the current folder"),
}


@pytest.mark.parametrize("case", list(REFUSED), ids=list(REFUSED))
def test_unsafe_out_is_refused_with_exit_2_and_nothing_changes(case, project, tmp_path):
    out, extra, why = REFUSED[case]
    out = out.replace("HOME", str(tmp_path / "home"))
    if out == "LINK":
        (tmp_path / "link").symlink_to(project, target_is_directory=True)
        out = str(tmp_path / "link")
    before = snapshot(tmp_path)
    result = CliRunner().invoke(main, ["build", "--spec", "specs", *extra, "--out", out])
    assert result.exit_code == 2, result.output
    assert why in result.output and "Traceback" not in result.output
    assert snapshot(tmp_path) == before


def test_refusals_from_the_python_api_touch_nothing(project, tmp_path):
    from sdtmgen.pipeline import build

    before = snapshot(tmp_path)
    for out in ("", ".", "specs", "examples/raw/new", str(tmp_path / "home")):
        with pytest.raises(OutputRefused):
            build("specs", None, out)
    assert snapshot(tmp_path) == before


def test_report_refuses_the_spec_folder(project, tmp_path):
    before = snapshot(tmp_path)
    result = CliRunner().invoke(main, ["report", "--spec", "specs", "--out", "specs"])
    assert result.exit_code == 2 and "it is the spec folder" in result.output, result.output
    assert snapshot(tmp_path) == before


def previous_build(folder: Path, text: str = "old") -> dict[str, str]:
    (folder / "sdtm").mkdir(parents=True)
    (folder / "sdtm" / "dm.xpt").write_text(text)
    output.write_marker(folder)
    return snapshot(folder)


def test_absent_empty_and_previous_builds_are_replaced(tmp_path):
    absent = tmp_path / "a" / "b" / "out"
    empty = tmp_path / "empty"
    empty.mkdir()
    previous = tmp_path / "previous"
    previous_build(previous)
    (previous / "stale.txt").write_text("from the previous build")
    legacy = tmp_path / "legacy"  # a build from before the marker: manifest.json by sdtmgen
    legacy.mkdir()
    (legacy / "manifest.json").write_text(json.dumps({"tool": "sdtmgen", "version": "0.1"}))
    for target in (absent, empty, previous, legacy):
        with atomic_folder(target) as work:
            (work / "new.txt").write_text("new")
        assert sorted(p.name for p in target.iterdir()) == [MARKER, "new.txt"], target
        assert json.loads((target / MARKER).read_text())["tool"] == "sdtmgen"
        assert sorted(p.name for p in target.parent.iterdir() if p.name.startswith(f".{target.name}.")) == []


def test_a_manifest_by_another_tool_is_not_a_build(tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    (other / "manifest.json").write_text(json.dumps({"tool": "something else"}))
    before = snapshot(tmp_path)
    with pytest.raises(OutputRefused, match="not an sdtmgen build"):
        check_target(other)
    with pytest.raises(OutputRefused):
        with atomic_folder(other) as work:
            (work / "x").write_text("x")
    assert snapshot(tmp_path) == before


def test_a_failed_body_leaves_the_target_and_no_temporary_folder(tmp_path):
    target = tmp_path / "out"
    before = previous_build(target)
    with pytest.raises(RuntimeError):
        with atomic_folder(target) as work:
            (work / "half.txt").write_text("half")
            raise RuntimeError("failed half way")
    assert snapshot(target) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_target_changed_during_the_build_is_rechecked_before_the_swap(tmp_path):
    target = tmp_path / "out"
    with pytest.raises(OutputRefused):
        with atomic_folder(target) as work:
            (work / "new.txt").write_text("new")
            target.mkdir()  # someone puts their files there meanwhile
            (target / "mine.txt").write_text("mine")
    assert (target / "mine.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


@pytest.mark.parametrize("umask", [0o022, 0o027, 0o002])
def test_modes_follow_the_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        target = tmp_path / "out"
        with atomic_folder(target) as work:
            (work / "sub").mkdir()
            (work / "sub" / "file.txt").write_text("x")
    finally:
        os.umask(old)
    assert target.stat().st_mode & 0o777 == 0o777 & ~umask
    assert (target / "sub").stat().st_mode & 0o777 == 0o777 & ~umask
    assert (target / "sub" / "file.txt").stat().st_mode & 0o777 == 0o666 & ~umask


def test_a_second_run_into_the_same_folder_fails_and_leaves_the_first_alone(tmp_path):
    target = tmp_path / "out"
    (tmp_path / "alias").symlink_to(tmp_path, target_is_directory=True)
    with atomic_folder(target) as work:
        (work / "first.txt").write_text("first")
        for spelling in (target, tmp_path / "alias" / "out", tmp_path / "." / "out"):
            with pytest.raises(OutputBusy, match=f"process {os.getpid()}"):
                with atomic_folder(spelling):
                    pass
        assert (work / "first.txt").is_file()  # the second run did not remove the first's folder
    assert (target / "first.txt").read_text() == "first"
    assert not (tmp_path / ".out.sdtmgen-lock").exists()  # released and removed


def test_a_second_run_from_another_process_gets_exit_4(tmp_path):
    target = tmp_path / "out"
    with atomic_folder(target):
        done = subprocess.run([sys.executable, "-c", (
            "import sys, sdtmgen.output as o\n"
            "try:\n"
            f"    with o.atomic_folder({str(target)!r}): pass\n"
            "except o.OutputBusy as e:\n"
            "    print(e); sys.exit(e.exit_code)\n")], capture_output=True, text=True, timeout=120)
    assert done.returncode == 4, done.stderr
    assert "another sdtmgen run" in done.stdout


CHILD = """
import os, signal, sys
from pathlib import Path
import sdtmgen.output as output

target, point = Path(sys.argv[1]), sys.argv[2]
output._after_step = lambda step: os.kill(os.getpid(), signal.SIGKILL) if step == point else None
with output.atomic_folder(target) as work:
    (work / "sdtm").mkdir()
    (work / "sdtm" / "dm.xpt").write_text("new")
    if point == "writing":
        os.kill(os.getpid(), signal.SIGKILL)
"""

#: kill point -> which output the target holds after recovery
KILL_POINTS = {"writing": "old", "journal": "old", "old-moved": "old", "new-moved": "new", "old-removed": "new"}


@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_a_kill_at_any_point_of_the_swap_is_repaired_and_the_previous_output_never_lost(tmp_path, point):
    target = tmp_path / "out"
    old = previous_build(target, "old")
    killed = subprocess.run([sys.executable, "-c", CHILD, str(target), point], capture_output=True, timeout=120)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    # right after the kill, the previous output is still whole somewhere beside the target (or replaced
    # by the complete new one)
    holders = [p for p in [target, *tmp_path.glob(".out.sdtmgen-old-*")] if p.is_dir()]
    assert any(snapshot(p) == old for p in holders) or KILL_POINTS[point] == "new"
    # the next run fails: the recovery still restores or finishes, and deletes no previous output
    with pytest.raises(RuntimeError):
        with atomic_folder(target):
            raise RuntimeError("this build fails")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    if KILL_POINTS[point] == "old":
        assert snapshot(target) == old
    else:
        assert (target / "sdtm" / "dm.xpt").read_text() == "new" and (target / MARKER).is_file()
    with atomic_folder(target) as work:
        (work / "third.txt").write_text("third")
    assert sorted(p.name for p in target.iterdir()) == [MARKER, "third.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_previous_output_moved_aside_by_an_older_release_is_put_back(tmp_path):
    aside = tmp_path / ".out.tmp-old"  # the name the swap used before the journal
    old = previous_build(aside)
    with pytest.raises(RuntimeError):
        with atomic_folder(tmp_path / "out"):
            raise RuntimeError("fails")
    assert snapshot(tmp_path / "out") == old
    assert not aside.exists()


def test_a_journal_naming_foreign_folders_deletes_nothing(tmp_path):
    target = tmp_path / "out"
    previous_build(target)
    (tmp_path / "precious").mkdir()
    (tmp_path / ".out.sdtmgen-swap").write_text(json.dumps({"new": "precious", "old": "../elsewhere"}))
    with pytest.raises(Exception, match="swap journal"):
        with atomic_folder(target):
            pass
    assert (tmp_path / "precious").is_dir() and (target / "sdtm" / "dm.xpt").is_file()
