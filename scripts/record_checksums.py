"""Record the SHA-256 of every build output that must be reproducible, in tests/checksums.json.

    .venv/bin/python scripts/record_checksums.py

Two builds, each through the command line as a user runs it (``sdtmgen build --format all``, no
--timestamp, SOURCE_DATE_EPOCH unset): the example study (specs/ + examples/raw/) and a simulated
export of SUBJECTS subjects (``sdtmgen simulate --subjects 200 --seed 20261203``). Every file they
write is recorded except those whose bytes come from a drawing library's rasteriser or a PDF
library's internals (plots/*.png, acrf.pdf and the pages that embed them): their bytes depend on the
installed version of matplotlib, FreeType or reportlab, not on sdtmgen.

tests/test_output_checksums.py rebuilds both and compares. Run this script, and commit
tests/checksums.json, only in a commit that changes the output on purpose (and say so in
its message); a refactoring commit must leave the file unchanged.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHECKSUMS = ROOT / "tests" / "checksums.json"
COMMAND = "python scripts/record_checksums.py"
SUBJECTS = 200
SEED = 20261203
#: not recorded: bytes made by matplotlib/FreeType (PNG) or reportlab (PDF), or pages carrying them
NOT_RECORDED_SUFFIXES = (".png", ".pdf")
NOT_RECORDED_NAMES = ("report.html",)  # embeds the PNG plots (report.yaml plots.embed)


def _cli(*args: str) -> None:
    from click.testing import CliRunner

    from sdtmgen.cli import main

    done = CliRunner().invoke(main, list(args), catch_exceptions=False)
    if done.exit_code != 0:
        raise RuntimeError(f"sdtmgen {' '.join(args)} exited with {done.exit_code}:\n{done.output}")


def recorded(path: Path) -> bool:
    return path.suffix not in NOT_RECORDED_SUFFIXES and path.name not in NOT_RECORDED_NAMES


def digests(folder: Path) -> dict[str, str]:
    """Relative path (POSIX) -> SHA-256 of every recorded file under ``folder``."""
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and recorded(p)}


def outputs(work: Path) -> dict[str, dict[str, str]]:
    """Build both cases under ``work``: case -> relative path -> SHA-256."""
    saved = os.environ.pop("SOURCE_DATE_EPOCH", None)  # the default header instant is the fixed one
    try:
        specs = ROOT / "specs"
        _cli("build", "--spec", str(specs), "--raw", str(ROOT / "examples" / "raw"),
             "--out", str(work / "example"), "--format", "all")
        raw = work / "simulated-raw"
        _cli("simulate", "--subjects", str(SUBJECTS), "--seed", str(SEED), "--out", str(raw),
             "--params", str(specs / "simulation.yaml"))
        _cli("build", "--spec", str(specs), "--raw", str(raw), "--out", str(work / "simulated"), "--format", "all")
    finally:
        if saved is not None:
            os.environ["SOURCE_DATE_EPOCH"] = saved
    return {"example": digests(work / "example"), f"simulated-{SUBJECTS}": digests(work / "simulated")}


def differences(expected: dict[str, dict[str, str]], actual: dict[str, dict[str, str]]) -> list[str]:
    """One line per file that changed, appeared or disappeared."""
    lines = []
    for case in sorted(set(expected) | set(actual)):
        old, new = expected.get(case, {}), actual.get(case, {})
        for name in sorted(set(old) | set(new)):
            if name not in new:
                lines.append(f"{case}/{name}: no longer written")
            elif name not in old:
                lines.append(f"{case}/{name}: new file")
            elif old[name] != new[name]:
                lines.append(f"{case}/{name}: changed")
    return lines


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="sdtmgen-checksums-") as tmp:
        found = outputs(Path(tmp))
    CHECKSUMS.parent.mkdir(parents=True, exist_ok=True)
    document = {"command": COMMAND, "subjects": SUBJECTS, "seed": SEED, "outputs": found}
    CHECKSUMS.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"{CHECKSUMS.relative_to(ROOT)}: {sum(len(v) for v in found.values())} files in {len(found)} builds")
    return 0


if __name__ == "__main__":
    sys.exit(main())
