"""The public Python API, through its public names only: sdtmgen.load_spec, sdtmgen.build,
sdtmgen.validate and sdtmgen.BuildResult."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyreadstat
import pytest

import sdtmgen

REPO = Path(__file__).resolve().parents[1]


def _listing(*folders: Path) -> dict[str, tuple[int, int]]:
    """Every file and folder under ``folders``: path -> (size, modification time in ns)."""
    found = {}
    for folder in folders:
        for path in [folder, *folder.rglob("*")]:
            stat = path.stat()
            found[str(path)] = (stat.st_size if path.is_file() else -1, stat.st_mtime_ns)
    return found


@pytest.fixture(scope="module")
def in_memory(spec_folder):
    return sdtmgen.build(spec_folder)


@pytest.fixture(scope="module")
def written(spec_folder, tmp_path_factory):
    out = tmp_path_factory.mktemp("api") / "out"
    return sdtmgen.build(sdtmgen.load_spec(spec_folder), out=out)


def test_build_in_memory_writes_nothing_and_leaves_pandas_options_alone(tmp_path, spec_folder, example_raw):
    script = ("import json, pandas as pd, pyarrow as pa\n"
              "def state(): return {**{k: pd.get_option(k) for k in ('mode.string_storage', 'future.infer_string')},\n"
              "                     'arrow pool': pa.default_memory_pool().backend_name}\n"
              "before = state()\n"
              "import sdtmgen\n"
              "imported = state()\n"
              f"r = sdtmgen.build({str(spec_folder)!r})\n"
              "after = state()\n"
              "print(json.dumps([list(r.sdtm['DM'].shape), before, imported, after]))\n")
    before = _listing(tmp_path, spec_folder, example_raw)
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, env=env,
                          check=False)
    assert done.returncode == 0, done.stderr
    shape, options, imported, after = json.loads(done.stdout.splitlines()[-1])
    assert shape[0] == 9 and shape[1] > 10  # the example's 9 subjects
    assert imported == options and after == options  # import and build change no pandas option, nor Arrow's pool
    assert _listing(tmp_path, spec_folder, example_raw) == before  # nothing written anywhere


def test_build_result_holds_sdtm_adam_findings_and_results(in_memory):
    assert isinstance(in_memory, sdtmgen.BuildResult)
    assert in_memory.out is None
    assert {"DM", "AE", "LB", "VS", "TS"} <= set(in_memory.sdtm)
    assert {"ADSL", "ADAE", "ADLB", "ADTTE"} <= set(in_memory.adam)
    assert in_memory.records == {n: len(f) for n, f in sorted({**in_memory.sdtm, **in_memory.adam}.items())}
    assert not [f for f in in_memory.findings if f.severity == "error"]
    assert in_memory.results is not None and len(in_memory.results.ard) > 0


def _as_written(frame: pd.DataFrame) -> pd.DataFrame:
    """What a frame looks like read back from XPT: text with missing as '', numbers as float64."""
    out = {}
    for column in frame.columns:
        values = frame[column]
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            out[column] = values.astype("float64").to_numpy()
        else:
            out[column] = values.astype(object).where(values.notna(), "").astype(str).str.rstrip().to_numpy()
    return pd.DataFrame(out)


def test_in_memory_frames_are_what_the_written_files_hold(in_memory, written):
    assert written.out is not None and (written.out / "manifest.json").is_file()
    assert set(written.sdtm) == set(in_memory.sdtm) and set(written.adam) == set(in_memory.adam)
    for folder, frames, built in (("sdtm", in_memory.sdtm, written.sdtm), ("adam", in_memory.adam, written.adam)):
        for name, frame in frames.items():
            pd.testing.assert_frame_equal(frame, built[name])
            read, _ = pyreadstat.read_xport(str(written.out / folder / f"{name.lower()}.xpt"),
                                             disable_datetime_conversion=True)
            mine = _as_written(frame)
            assert list(read.columns) == list(mine.columns), name
            for column in read.columns:
                if read[column].dtype == object:
                    assert (read[column].to_numpy() == mine[column].to_numpy()).all(), (name, column)
                else:
                    np.testing.assert_allclose(read[column].to_numpy(), mine[column].to_numpy(), rtol=1e-12,
                                               err_msg=f"{name}.{column}")
    ard = pd.read_csv(written.out / "report" / "ard.csv", dtype=str, keep_default_na=False)
    assert len(ard) == len(in_memory.results.ard) == len(written.results.ard)
    pd.testing.assert_frame_equal(in_memory.results.ard, written.results.ard)


def test_text_columns_are_arrow_strings_whatever_the_host_default(in_memory, spec_folder):
    with pd.option_context("mode.string_storage", "python"):
        built = sdtmgen.build(spec_folder)
    for name, frame in {**in_memory.sdtm, **in_memory.adam}.items():
        pd.testing.assert_frame_equal(built.sdtm.get(name, built.adam.get(name)), frame)  # dtypes included
    assert str(in_memory.sdtm["DM"]["USUBJID"].dtype) == "string"
    assert in_memory.sdtm["DM"]["USUBJID"].dtype.storage == "pyarrow"


def test_validate_returns_errors_that_build_raises(tmp_path, spec_folder, example_raw):
    raw = tmp_path / "raw"
    shutil.copytree(example_raw, raw)
    ae = pd.read_csv(raw / "ae.csv", dtype=str, keep_default_na=False)
    pd.concat([ae, ae.iloc[[0]].assign(SUBJECT="01-999")]).to_csv(raw / "ae.csv", index=False, lineterminator="\n")
    findings = sdtmgen.validate(spec_folder, raw)
    errors = [f for f in findings if f.severity == "error"]
    assert errors and any("01-999" in str(f) for f in errors)
    with pytest.raises(Exception) as failed:
        sdtmgen.build(spec_folder, raw)
    assert failed.value.findings and "01-999" in " ".join(str(f) for f in failed.value.findings)
    assert not [f for f in sdtmgen.validate(spec_folder) if f.severity == "error"]  # the example is clean
