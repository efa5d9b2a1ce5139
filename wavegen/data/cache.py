"""Decode once: a cache of decoded clips keyed by the files and every decoding setting.

Layout of one entry, ``<cache root>/<source>-<key>/``:
- ``waveforms.npy``: [N, length] float32, opened with ``np.load(mmap_mode='r')`` (no pickle);
- ``index.json``: labels, label names, sources, skipped files, sample rate, settings, count;
- ``COMPLETE``: written last. An entry without it, or whose arrays disagree with its index, is
  partial or damaged: it is deleted and rebuilt, never used.

The key is a sha256 over (path, size, mtime_ns) of every file and the decoding settings, so a
changed file or setting makes a new entry. Entries are built in a temporary folder and renamed
into place, so a build killed half way leaves nothing that looks complete.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np

from wavegen.data.dataset import AudioDataset

FORMAT_VERSION = 1
MARKER = "COMPLETE"
log = logging.getLogger(__name__)


def cache_root(cfg_dir: str) -> Path:
    """``data.cache_dir``, else $WAVEGEN_CACHE, else ~/.cache/wavegen."""
    root = cfg_dir or os.environ.get("WAVEGEN_CACHE") or "~/.cache/wavegen"
    return Path(root).expanduser()


def cache_key(files: list[Path], settings: dict) -> str:
    """sha256 over the files' (path, size, mtime_ns) and the settings (JSON, sorted)."""
    h = hashlib.sha256()
    h.update(json.dumps({"version": FORMAT_VERSION, **settings}, sort_keys=True).encode())
    for f in files:
        st = f.stat()
        h.update(f"{f.resolve()}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:32]


def load(entry: Path) -> AudioDataset | None:
    """The cached dataset, or None when the entry is missing, partial or damaged (then removed)."""
    if not entry.exists():
        return None
    try:
        if not (entry / MARKER).is_file():
            raise ValueError("no completion marker (a build was interrupted)")
        index = json.loads((entry / "index.json").read_text())
        waves = np.load(entry / "waveforms.npy", mmap_mode="r", allow_pickle=False)
        n = index["count"]
        if waves.shape != (n, index["settings"]["length"]) or waves.dtype != np.float32:
            raise ValueError(f"waveforms {waves.shape} {waves.dtype} do not match the index")
        if len(index["labels"]) != n or len(index["sources"]) != n:
            raise ValueError("labels/sources do not match the waveform count")
    except (OSError, ValueError, KeyError, json.JSONDecodeError) as e:
        log.warning("data cache %s is unusable (%s): rebuilding it", entry, e)
        shutil.rmtree(entry, ignore_errors=True)
        return None
    return AudioDataset(
        waveforms=waves,
        labels=np.asarray(index["labels"], np.int32),
        label_names=list(index["label_names"]),
        sample_rate=int(index["sample_rate"]),
        sources=list(index["sources"]),
        skipped=[tuple(s) for s in index["skipped"]],
        cache_path=str(entry),
    )


def build(
    entry: Path,
    count: int,
    length: int,
    fill: Callable[[np.ndarray], tuple[np.ndarray, list[str], list[str], list[tuple[str, str]]]],
    *,
    sample_rate: int,
    settings: dict,
) -> AudioDataset:
    """Builds an entry: ``fill(out [count, length] memmap)`` decodes into ``out`` and returns
    (labels [M] int32, label_names, sources, skipped) for the first M <= count rows it filled.
    """
    entry.parent.mkdir(parents=True, exist_ok=True)
    tmp = entry.with_name(f"{entry.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        out = np.lib.format.open_memmap(
            tmp / "waveforms.npy", mode="w+", dtype=np.float32, shape=(count, length)
        )
        labels, names, sources, skipped = fill(out)
        used = len(labels)
        out.flush()
        del out
        if used != count:  # skipped files: rewrite with the rows actually filled
            full = np.load(tmp / "waveforms.npy", mmap_mode="r")
            np.save(tmp / "kept.npy", np.asarray(full[:used]))
            del full
            os.replace(tmp / "kept.npy", tmp / "waveforms.npy")
        index = {
            "count": used,
            "labels": [int(v) for v in labels],
            "label_names": names,
            "sources": sources,
            "skipped": [list(s) for s in skipped],
            "sample_rate": sample_rate,
            "settings": settings,
        }
        (tmp / "index.json").write_text(json.dumps(index))
        (tmp / MARKER).write_text("ok\n")
        shutil.rmtree(entry, ignore_errors=True)
        os.replace(tmp, entry)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    loaded = load(entry)
    assert loaded is not None, entry
    return loaded
