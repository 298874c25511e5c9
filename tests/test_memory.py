"""sdtmgen.memory: the Arrow pool a run uses, and that the process gets its own pool back."""

from __future__ import annotations

import threading

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from sdtmgen.memory import arrow_pool, release_unused_memory


def _has_jemalloc() -> bool:
    try:
        pa.jemalloc_memory_pool()
    except NotImplementedError:
        return False
    return True


needs_jemalloc = pytest.mark.skipif(not _has_jemalloc(), reason="this pyarrow is built without jemalloc")


@needs_jemalloc
def test_a_run_allocates_from_jemalloc_and_gives_the_previous_pool_back(monkeypatch):
    monkeypatch.delenv("ARROW_DEFAULT_MEMORY_POOL", raising=False)
    before = pa.default_memory_pool().backend_name
    jemalloc = pa.jemalloc_memory_pool()
    with arrow_pool():
        assert pa.default_memory_pool().backend_name == "jemalloc"
        held = jemalloc.bytes_allocated()
        text = pc.binary_join_element_wise(pa.array(["x" * 100] * 100_000), pa.array(["y"] * 100_000), "")
        assert jemalloc.bytes_allocated() >= held + 100_000 * 101  # the compute result came from jemalloc
    assert pa.default_memory_pool().backend_name == before
    del text  # a buffer made inside is freed by its own pool after the switch back
    release_unused_memory()


@needs_jemalloc
def test_nested_and_concurrent_runs_restore_only_when_the_last_leaves(monkeypatch):
    monkeypatch.delenv("ARROW_DEFAULT_MEMORY_POOL", raising=False)
    before = pa.default_memory_pool().backend_name
    inside, leave = threading.Event(), threading.Event()
    seen = []

    def other_run() -> None:
        with arrow_pool():
            inside.set()
            leave.wait(10)
        seen.append(pa.default_memory_pool().backend_name)

    with arrow_pool():
        worker = threading.Thread(target=other_run)
        worker.start()
        assert inside.wait(10)
        with arrow_pool():
            assert pa.default_memory_pool().backend_name == "jemalloc"
        assert pa.default_memory_pool().backend_name == "jemalloc"
    assert pa.default_memory_pool().backend_name == "jemalloc"  # the other run is still going
    leave.set()
    worker.join(10)
    assert seen == [before] and pa.default_memory_pool().backend_name == before


def test_a_pool_chosen_by_the_user_is_left_alone(monkeypatch):
    monkeypatch.setenv("ARROW_DEFAULT_MEMORY_POOL", "system")
    before = pa.default_memory_pool().backend_name
    with arrow_pool():
        assert pa.default_memory_pool().backend_name == before
    assert pa.default_memory_pool().backend_name == before
