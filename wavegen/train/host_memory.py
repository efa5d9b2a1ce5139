"""Keep freed host memory in the process, so XLA:CPU's per-call buffers are not faulted in anew.

XLA:CPU mallocs every intermediate and output buffer of a jitted call afresh and frees it
after. With glibc's defaults, blocks above its (dynamic, at most 32 MiB) mmap threshold are
fresh ``mmap``s and a freed heap top above 128 KiB is given back to the kernel, so every call of
a train step page-faults its multi-megabyte buffers in again. XLA's worker threads also get
glibc arenas of their own, whose heaps are capped at 64 MiB: a larger block from such a thread
is always an ``mmap``, whatever the threshold. On a 2-core VM the faults dominated memory-bound
ops, several times over (tools/bench_layers.py; the numbers are in docs/benchmarks.md, "Why the
code is written this way").

:func:`retain_freed_memory` raises both thresholds and limits glibc to one arena, so freed
blocks stay in malloc's free lists and are reused by the next call. The price is that the
process keeps its peak heap until it exits, which a training or benchmark process does anyway,
and that threads share one allocator lock (XLA allocates few, large blocks). Only glibc has
these knobs; elsewhere it does nothing. Set ``WAVEGEN_RETAIN_HOST_MEMORY=0`` to keep the
allocator's defaults.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import sys

log = logging.getLogger(__name__)

# mallopt parameters from glibc's <malloc.h>, with the environment variable glibc reads for each
# at start-up (for other processes, e.g. a benchmark's reference run).
M_TRIM_THRESHOLD = (-1, "MALLOC_TRIM_THRESHOLD_")
M_MMAP_THRESHOLD = (-3, "MALLOC_MMAP_THRESHOLD_")
M_ARENA_MAX = (-8, "MALLOC_ARENA_MAX")
# Blocks up to this size come from the heap and are reused; larger ones are still mmap'ed.
# mallopt takes an int, so 2**31 - 1 is the largest value it can be given.
DEFAULT_LIMIT_BYTES = 2**30


def _settings(limit_bytes: int) -> list[tuple[tuple[int, str], int]]:
    """((mallopt parameter, environment variable), value) of what retain_freed_memory sets."""
    if not 0 < limit_bytes < 2**31:
        raise ValueError(f"limit_bytes must be in (0, 2**31), got {limit_bytes}")
    return [(M_MMAP_THRESHOLD, limit_bytes), (M_TRIM_THRESHOLD, limit_bytes), (M_ARENA_MAX, 1)]


def allocator_environment(limit_bytes: int = DEFAULT_LIMIT_BYTES) -> dict[str, str]:
    """The glibc environment variables that give a new process what retain_freed_memory sets."""
    return {env: str(value) for (_, env), value in _settings(limit_bytes)}


def _glibc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        # gnu_get_libc_version exists only in glibc (musl also has a mallopt, which ignores us).
        libc.gnu_get_libc_version.restype = ctypes.c_char_p
        libc.gnu_get_libc_version()
    except (OSError, AttributeError):
        return None
    return libc


def retain_freed_memory(limit_bytes: int = DEFAULT_LIMIT_BYTES) -> bool:
    """Make glibc keep freed blocks of up to ``limit_bytes`` for reuse instead of unmapping them.

    Call it once at process start, before JAX starts its threads (it affects later allocations
    and threads that have not allocated yet).

    Args:
      limit_bytes: new mmap and trim thresholds, in bytes (at most 2**31 - 1).

    Returns:
      True if the thresholds were set; False on a non-glibc platform or when
      ``WAVEGEN_RETAIN_HOST_MEMORY=0``.
    """
    settings = _settings(limit_bytes)
    if os.environ.get("WAVEGEN_RETAIN_HOST_MEMORY", "1") == "0":
        return False
    libc = _glibc()
    if libc is None:
        return False
    ok = all(libc.mallopt(param, value) for (param, _), value in settings)
    if not ok:
        log.debug("mallopt refused the thresholds; keeping the allocator's defaults")
    return ok
