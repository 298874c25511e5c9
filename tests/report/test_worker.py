"""The figure worker: another process draws the Kaplan-Meier and daily blood-count figures while the report
goes on. Same bytes as drawn in the report's process; its errors and its end surface as FigureError; it
never outlives the report."""

from __future__ import annotations

import os
import signal

import pytest

from sdtmgen.report import plots
from sdtmgen.report.data import prepare
from sdtmgen.report.km import recovery
from sdtmgen.report.worker import FigureError, FigureWorker, InlinePainter


def _worker_pids() -> list[int]:
    """The worker processes started by this process (Linux /proc)."""
    found = []
    for task in os.listdir(f"/proc/{os.getpid()}/task"):
        try:
            with open(f"/proc/{os.getpid()}/task/{task}/children") as fh:
                found += [int(p) for p in fh.read().split()]
        except OSError:
            pass
    out = []
    for pid in found:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                if b"sdtmgen.report.worker" in fh.read():
                    out.append(pid)
        except OSError:
            pass
    return out


@pytest.fixture(scope="module")
def km_spec(frames, report_config):
    from sdtmgen.report.ard import Ard

    inputs = prepare(frames, report_config)
    outcome = report_config.outcome("recovery")
    ard = Ard(groups=inputs.groups, overall=inputs.overall, group_variable=report_config.groups.variable,
              conf_level=report_config.proportion_conf_level)
    paramcd, by_level = next(iter(recovery(ard, inputs, outcome).items()))
    return plots.km_spec(f"time to recovery of {paramcd}", by_level, inputs.groups, report_config)


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="the test finds the worker through /proc")
def test_the_worker_draws_the_same_bytes_and_ends_with_the_report(km_spec):
    inline = InlinePainter().submit("km", km_spec).result()
    with FigureWorker() as worker:
        assert _worker_pids()
        drawn = [worker.submit("km", km_spec, f"km{i}.png") for i in range(3)]
        assert [f.result(timeout=60) for f in drawn] == [inline] * 3
    assert inline.startswith(b"\x89PNG")
    assert _worker_pids() == []


def test_a_figure_the_worker_cannot_draw_is_a_figure_error_naming_it(km_spec):
    with FigureWorker() as worker:
        bad = worker.submit("km", {**km_spec, "days": None}, "km_broken.png")
        with pytest.raises(FigureError, match=r"km_broken.png could not be drawn \(figure worker\)") as err:
            bad.result(timeout=60)
        assert "Traceback" in str(err.value)
        assert worker.submit("km", km_spec, "km_fine.png").result(timeout=60).startswith(b"\x89PNG")  # still serving


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_a_worker_that_dies_fails_the_figures_still_waiting(km_spec):
    with FigureWorker() as worker:
        os.kill(worker._proc.pid, signal.SIGKILL)
        worker._proc.wait()
        with pytest.raises(FigureError, match=r"km.png: the figure worker ended \(exit code -9\)"):
            worker.submit("km", km_spec, "km.png").result(timeout=60)


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="the test finds the worker through /proc")
def test_an_error_in_the_report_stops_the_worker(frames, report_config, monkeypatch):
    from sdtmgen.report import build

    def fails(*args, **kwargs):
        assert _worker_pids(), "the worker runs while the report is computed"
        raise KeyboardInterrupt("stopped while the listings are computed")

    monkeypatch.setattr(build, "review_listings", fails)
    with pytest.raises(KeyboardInterrupt, match="stopped while"):
        build.make_report(frames, report_config)
    assert _worker_pids() == []


def test_the_pipe_carries_arrays_and_plain_values_and_refuses_any_other_class():
    import io
    import os
    import pickle

    import numpy as np

    from sdtmgen.report.worker import _Unpickler

    sent = (3, "km", {"x": np.arange(5, dtype=float), "labels": ["a", "b"], "n": np.int64(4), "ok": None})
    job, kind, spec = _Unpickler(io.BytesIO(pickle.dumps(sent, protocol=pickle.HIGHEST_PROTOCOL))).load()
    assert (job, kind) == (3, "km") and spec["x"].tolist() == [0, 1, 2, 3, 4] and spec["n"] == 4

    class Evil:
        def __reduce__(self):
            return (os.system, ("true",))

    with pytest.raises(pickle.UnpicklingError, match="system is not sent"):
        _Unpickler(io.BytesIO(pickle.dumps(Evil()))).load()
