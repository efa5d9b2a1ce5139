"""Decode-once cache of a folder source: a memory-mapped float32 array plus a JSON index.

Layout of one entry, ``<cache root>/<key>/``:

- ``waveforms.npy``: [N, length] float32 (``np.lib.format.open_memmap``; loaded with
  ``np.load(mmap_mode='r', allow_pickle=False)``, so nothing is unpickled and nothing is read
  into memory until used).
- ``index.json``: labels, label_names, sources, skipped, sample_rate, length, settings.
- ``COMPLETE``: the completion marker, holding the key.

The cache root is ``data.cache_dir``, else ``$WAVEGEN_CACHE``, else ``~/.cache/wavegen``. The key
is the sha256 of a format version, every decoding setting, and (path, size, mtime_ns) of every
input file (audio and the metadata files labels/splits come from), so changing a file or a
setting makes a new entry. An entry is written into a temporary sibling folder, marker last, and
renamed into place in one step; an entry without the marker, with an index that does not parse,
or with an array of the wrong shape/dtype is rebuilt, never reused. A build killed half way
leaves only its temporary folder, which the next build of the same entry deletes. Old entries
are not deleted automatically (delete the folder to reclaim space).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from wavegen.data.errors import AudioDataError

FORMAT_VERSION = 1
WAVEFORMS = "waveforms.npy"
INDEX = "index.json"
MARKER = "COMPLETE"
log = logging.getLogger(__name__)


def cache_root(configured: str = "") -> Path:
    """``data.cache_dir``, else ``$WAVEGEN_CACHE``, else ``~/.cache/wavegen``."""
    text = configured or os.environ.get("WAVEGEN_CACHE", "")
    return Path(text).expanduser() if text else Path.home() / ".cache" / "wavegen"


def file_stats(paths: Iterable[str | Path]) -> list[tuple[str, int, int]]:
    """Sorted (path, size, mtime_ns) of each file: what the cache key sees of the inputs."""
    out = []
    for p in paths:
        try:
            st = os.stat(p)
        except OSError as e:
            raise AudioDataError(f"{p}: cannot stat input file ({e.strerror})") from e
        out.append((str(p), int(st.st_size), int(st.st_mtime_ns)))
    return sorted(out)


def cache_key(stats: list[tuple[str, int, int]], settings: dict) -> str:
    """sha256 hex of the format version, the decoding settings and the input file stats."""
    blob = json.dumps(
        {"format_version": FORMAT_VERSION, "settings": settings, "files": stats},
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(blob.encode()).hexdigest()


def load_entry(entry: Path, key: str, length: int) -> tuple[np.ndarray, dict] | None:
    """A complete, consistent entry as (waveforms [N, length] read-only memmap, index), else None.

    A missing entry returns None quietly; a present but partial/corrupt one is logged.
    """
    if not entry.exists():
        return None
    try:
        marker = (entry / MARKER).read_text().strip()
        if marker != key:
            raise ValueError(f"completion marker holds {marker!r}, expected the key")
        index = json.loads((entry / INDEX).read_text())
        waves = np.load(entry / WAVEFORMS, mmap_mode="r", allow_pickle=False)
        n = int(index["num_examples"])
        if index.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"format version {index.get('format_version')} != {FORMAT_VERSION}")
        if waves.dtype != np.float32 or waves.shape != (n, length):
            raise ValueError(f"array {waves.dtype}{waves.shape}, expected float32{(n, length)}")
        if len(index["labels"]) != n or len(index["sources"]) != n:
            raise ValueError("index lengths do not match the array")
    except (OSError, ValueError, KeyError, TypeError) as e:  # json errors are ValueErrors
        log.warning("cache entry %s is incomplete or corrupt (%s); rebuilding it", entry, e)
        return None
    return waves, index


class ArrayWriter:
    """Appends [k, length] float32 blocks to an .npy memmap whose final N is not known upfront.

    Starts at ``capacity`` rows, grows by doubling, and is cut to the rows written by
    :meth:`finish` (each resize is one chunked copy, so memory stays bounded).
    """

    def __init__(self, path: Path, capacity: int, length: int):
        self.path, self.length, self.n = path, length, 0
        self.array = np.lib.format.open_memmap(
            path, mode="w+", dtype=np.float32, shape=(max(capacity, 1), length)
        )

    def append(self, block: np.ndarray) -> None:
        """block: [k, length] float32."""
        k = block.shape[0]
        if self.n + k > self.array.shape[0]:
            self._resize(max(2 * self.array.shape[0], self.n + k))
        self.array[self.n : self.n + k] = block
        self.n += k

    def finish(self) -> int:
        """Flushes, trims to the rows written, and returns that number."""
        if self.n != self.array.shape[0]:
            self._resize(self.n)
        self.array.flush()
        del self.array
        return self.n

    def _resize(self, rows: int) -> None:
        tmp = self.path.with_suffix(".resize.npy")
        new = np.lib.format.open_memmap(
            tmp, mode="w+", dtype=np.float32, shape=(max(rows, 1), self.length)
        )
        chunk = 4096
        for i in range(0, min(self.n, rows), chunk):
            new[i : min(i + chunk, self.n)] = self.array[i : min(i + chunk, self.n)]
        new.flush()
        del self.array
        os.replace(tmp, self.path)
        self.array = new


def write_entry(
    entry: Path, key: str, length: int, capacity: int, fill: Callable[[ArrayWriter], dict]
) -> None:
    """Builds an entry atomically.

    Args:
      entry: the final folder ``<root>/<key>``.
      key: the cache key (written into the marker).
      length: samples per example.
      capacity: expected number of examples (a hint; the writer grows/trims).
      fill: writes every example through the writer and returns the index fields (labels,
        label_names, sources, skipped, sample_rate, settings).
    """
    entry.parent.mkdir(parents=True, exist_ok=True)
    remove_dead_builders(entry)
    tmp = entry.parent / f".{entry.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        writer = ArrayWriter(tmp / WAVEFORMS, capacity, length)
        index = fill(writer)
        n = writer.finish()
        index.update(format_version=FORMAT_VERSION, key=key, num_examples=n, length=length)
        (tmp / INDEX).write_text(json.dumps(index))
        (tmp / MARKER).write_text(key)  # last: its presence means everything above is complete
        _move_into_place(tmp, entry, key, length)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def remove_dead_builders(entry: Path) -> None:
    """Deletes temporary folders of ``entry`` left by builders that were killed.

    A temporary folder is named after its builder's pid; one whose process no longer exists on
    this machine is a partial build that will never finish (a cache shared by several machines
    should not be built from more than one of them at a time).
    """
    for tmp in entry.parent.glob(f".{entry.name}.tmp-*"):
        try:
            pid = int(tmp.name.rsplit(".tmp-", 1)[1].split("-")[0])
        except (IndexError, ValueError):
            continue
        if pid == os.getpid():
            continue
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            log.info("removing partial cache build %s (its process %d is gone)", tmp, pid)
            shutil.rmtree(tmp, ignore_errors=True)
        except PermissionError:
            pass  # alive, owned by someone else


def _move_into_place(tmp: Path, entry: Path, key: str, length: int) -> None:
    if entry.exists():
        if load_entry(entry, key, length) is not None:
            return  # another process finished the same entry first; keep theirs
        stale = entry.parent / f".{entry.name}.stale-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        os.rename(entry, stale)
        shutil.rmtree(stale, ignore_errors=True)
    try:
        os.rename(tmp, entry)
    except OSError:
        # Lost a race with another builder between the check and the rename: theirs is as good.
        if load_entry(entry, key, length) is None:
            raise
