"""Output bytes are part of the contract: the example study and a 200-subject simulation, built as a user
builds them, give exactly the files recorded in tests/checksums.json (SHA-256 of every XPT,
define.xml, Dataset-JSON, ARD, lineage and report file; see scripts/record_checksums.py for what is left
out and why). A commit that changes no behaviour must pass this test unchanged; a commit that changes the
output on purpose re-records with the script and says so."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _recorder():
    spec = importlib.util.spec_from_file_location("record_checksums", ROOT / "scripts" / "record_checksums.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


record = _recorder()


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return record.outputs(tmp_path_factory.mktemp("checksums"))


def test_recorded_file_lists_both_builds():
    recorded = json.loads(record.CHECKSUMS.read_text(encoding="utf-8"))
    outputs = recorded["outputs"]
    assert set(outputs) == {"example", f"simulated-{record.SUBJECTS}"}
    for files in outputs.values():  # what must be reproducible is there
        assert {"sdtm/dm.xpt", "sdtm/define.xml", "sdtm/dm.json", "adam/adsl.xpt", "adam/define.xml",
                "report/ard.csv", "reports/conformance.json", "manifest.json"} <= set(files)
        assert not any(name.endswith((".png", ".pdf")) for name in files)


def test_outputs_match_the_recorded_checksums(built):
    recorded = json.loads(record.CHECKSUMS.read_text(encoding="utf-8"))["outputs"]
    changed = record.differences(recorded, built)
    assert not changed, (
        f"{len(changed)} output file(s) differ from {record.CHECKSUMS.relative_to(ROOT)}:\n  "
        + "\n  ".join(changed)
        + f"\nIf this commit changes the output on purpose, run `{record.COMMAND}` and commit the new "
          "checksums with a message saying why; otherwise the change is a regression.")


def test_differences_name_changed_new_and_missing_files():
    old = {"a": {"x.xpt": "1", "y.xpt": "2", "gone.csv": "3"}}
    new = {"a": {"x.xpt": "1", "y.xpt": "9", "new.json": "4"}}
    assert record.differences(old, new) == ["a/gone.csv: no longer written", "a/new.json: new file",
                                            "a/y.xpt: changed"]
    assert record.differences(old, old) == []
