"""Give memory freed by a finished build stage back to the operating system.

Both allocators under pandas keep freed memory for reuse: glibc's malloc (numpy arrays) and
Arrow's pool (text columns). Each can reuse only its own, so memory one keeps after a stage
is not there for the other in the next stage, and the build's peak grows by it. Between stages
(a few calls per build) both are asked to return what they hold unused.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools


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
