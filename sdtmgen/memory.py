"""Memory of a build: which allocator Arrow uses during a run, and giving memory freed by a finished
stage back to the operating system.

Both allocators under pandas keep freed memory for reuse: glibc's malloc (numpy arrays) and
Arrow's pool (text columns). Each can reuse only its own, so memory one keeps after a stage
is not there for the other in the next stage, and the build's peak grows by it. Between stages
(a few calls per build) both are asked to return what they hold unused.

Arrow's pool during a run (``arrow_pool``): pyarrow's wheels default to mimalloc, which keeps freed
pages of the build's large text buffers long enough that, at 10,000 subjects, the build's peak RSS was
~2,500-2,560 MiB; with Arrow's jemalloc pool (in the same wheels) the same build peaks at ~2,340 MiB, in
the same CPU time (docs/performance.md). The run switches Arrow's default pool to jemalloc while it runs
and puts the previous one back when the last run of the process ends, so a program importing sdtmgen
keeps its own choice. Nothing changes where pyarrow has no jemalloc or the user chose a pool with
``ARROW_DEFAULT_MEMORY_POOL``. Buffers remember the pool they came from, so switching is safe for
arrays made before or after.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import threading
from contextlib import contextmanager
from typing import Any, Iterator

#: the pool a run uses when the user did not choose one
RUN_POOL = "jemalloc"

_lock = threading.Lock()
_runs = 0
_previous: Any = None


@functools.lru_cache(maxsize=1)
def _malloc_trim():
    """glibc's malloc_trim, or None where there is none (macOS, musl, Windows)."""
    name = ctypes.util.find_library("c")
    try:
        return getattr(ctypes.CDLL(name), "malloc_trim", None) if name else None
    except OSError:
        return None


def release_unused_memory() -> None:
    import pyarrow as pa

    pa.default_memory_pool().release_unused()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def _run_pool() -> Any:
    """Arrow's jemalloc pool, or None (not in this pyarrow, or ARROW_DEFAULT_MEMORY_POOL set by the user)."""
    import pyarrow as pa

    if os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
        return None
    try:
        return pa.jemalloc_memory_pool()
    except (NotImplementedError, AttributeError):  # built without jemalloc (e.g. some platforms' wheels)
        return None


@contextmanager
def arrow_pool() -> Iterator[None]:
    """Arrow's default pool set to ``RUN_POOL`` while inside (nested and concurrent runs share it); the
    process's previous default back when the last run leaves."""
    global _runs, _previous
    import pyarrow as pa

    with _lock:
        if _runs == 0:
            pool = _run_pool()
            _previous = pa.default_memory_pool() if pool is not None else None
            if pool is not None:
                pa.set_memory_pool(pool)
        _runs += 1
    try:
        yield
    finally:
        with _lock:
            _runs -= 1
            if _runs == 0 and _previous is not None:
                pa.set_memory_pool(_previous)
                _previous = None
