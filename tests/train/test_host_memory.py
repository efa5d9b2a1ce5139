"""retain_freed_memory: a freed large block stays in the process (glibc's accounting says so)."""

import json
import os
import subprocess
import sys

import pytest

from wavegen.train.host_memory import _glibc, allocator_environment, retain_freed_memory

# Run in a fresh interpreter: the thresholds are process-wide and conftest may have set them.
PROBE = """
import ctypes, json, sys, threading
from wavegen.train.host_memory import _glibc, retain_freed_memory

applied = retain_freed_memory()
libc = _glibc()
fields = "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split()
class MallInfo2(ctypes.Structure):
    _fields_ = [(f, ctypes.c_size_t) for f in fields]
libc.mallinfo2.restype = MallInfo2
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
size = 96 << 20  # above the 64 MiB heap of a thread's own arena


def malloc_and_free():
    p = libc.malloc(size)
    ctypes.memset(p, 1, size)
    libc.free(p)


if sys.argv[1] == "main":
    malloc_and_free()
else:  # as XLA's worker threads allocate
    worker = threading.Thread(target=malloc_and_free)
    worker.start()
    worker.join()
print(json.dumps({"applied": applied, "free_bytes_kept": libc.mallinfo2().fordblks}))
"""


def _probe(retain: str, thread: str, extra_env: dict[str, str] | None = None) -> dict:
    env = dict(os.environ, WAVEGEN_RETAIN_HOST_MEMORY=retain, **(extra_env or {}))
    out = subprocess.run(
        [sys.executable, "-c", PROBE, thread], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)


@pytest.mark.skipif(
    not hasattr(_glibc(), "mallinfo2"), reason="needs glibc >= 2.33 (mallopt, mallinfo2)"
)
@pytest.mark.parametrize("thread", ["main", "other"])
def test_freed_block_is_kept_only_when_retaining(thread: str) -> None:
    default = _probe("0", thread)
    retained = _probe("1", thread)
    assert default["applied"] is False and retained["applied"] is True
    # Defaults: a 96 MiB block is its own mmap, unmapped on free. Retained: it stays in the heap,
    # also when another thread allocated it (it would get an arena capped at 64 MiB otherwise).
    assert default["free_bytes_kept"] < 16 << 20
    assert retained["free_bytes_kept"] >= 96 << 20


@pytest.mark.skipif(
    not hasattr(_glibc(), "mallinfo2"), reason="needs glibc >= 2.33 (mallopt, mallinfo2)"
)
@pytest.mark.parametrize("thread", ["main", "other"])
def test_allocator_environment_gives_another_process_the_same_settings(thread: str) -> None:
    """What tools/bench.py hands the torch reference: glibc reads it at start-up."""
    probed = _probe("0", thread, allocator_environment())
    assert probed["applied"] is False  # the process itself did not call mallopt
    assert probed["free_bytes_kept"] >= 96 << 20


def test_limit_is_checked() -> None:
    with pytest.raises(ValueError, match="limit_bytes"):
        retain_freed_memory(2**31)
    with pytest.raises(ValueError, match="limit_bytes"):
        allocator_environment(0)
