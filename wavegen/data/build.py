"""``build_dataset``: a data config → decoded, sliced, labelled clips (through the cache)."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from tqdm.auto import tqdm

from wavegen.data import cache, sources
from wavegen.data.audio_io import decode, normalize_batch
from wavegen.data.dataset import AudioDataset, sorted_label_names
from wavegen.data.errors import AudioDataError
from wavegen.data.slicing import check_slicing, slice_clip
from wavegen.data.synthetic import build_synthetic

log = logging.getLogger(__name__)


def decoding_settings(cfg) -> dict:
    """Every setting that changes the decoded arrays (part of the cache key)."""
    mode, pattern, column = sources.label_settings(cfg)
    return {
        "source": cfg.source,
        "sample_rate": int(cfg.sample_rate),
        "length": int(cfg.length),
        "label": mode,
        "label_pattern": pattern,
        "label_column": column,
        "pad": cfg.pad,
        "crop": cfg.crop,
        "slices_per_file": int(cfg.slices_per_file),
        "normalize": cfg.normalize,
        "skip_bad": bool(cfg.skip_bad),
        "seed": int(cfg.seed),
    }


def build_dataset(cfg, split: str | None = None, *, progress: bool = True) -> AudioDataset:
    """Decoded clips of a data config's split.

    Args:
      cfg: the ``data`` config section (see ``wavegen.defaults.data_config``).
      split: 'train', 'test' or 'all' (default ``cfg.split``).
      progress: show a progress bar while decoding.

    Returns:
      An :class:`AudioDataset`; file sources come from the cache (memory-mapped waveforms).

    Raises:
      AudioDataError: a bad config value, folder or file (the message names it), unless
        ``cfg.skip_bad`` is set for files, which are then skipped, counted and logged.
    """
    split = split or cfg.split
    if int(cfg.length) <= 0 or int(cfg.sample_rate) <= 0:
        raise AudioDataError(
            f"data.length and data.sample_rate must be > 0, got {cfg.length}, {cfg.sample_rate}"
        )
    check_slicing(cfg.pad, cfg.crop, int(cfg.slices_per_file))
    if cfg.source == "synthetic":
        return build_synthetic(cfg, split)
    entries, label_skipped = sources.list_files(cfg, split)
    settings = decoding_settings(cfg) | {"split": split}
    key = cache.cache_key([e.path for e in entries], settings)
    entry = cache.cache_root(cfg.cache_dir) / f"{cfg.source}-{split}-{key}"
    cached = cache.load(entry)
    if cached is not None:
        _report_skipped(cached.skipped)
        return cached

    label_names = sorted_label_names([e.label for e in entries if e.label is not None])
    label_index = {name: i for i, name in enumerate(label_names)}
    per_file = int(cfg.slices_per_file)
    length, sr = int(cfg.length), int(cfg.sample_rate)

    def decode_one(i: int) -> np.ndarray | str:
        path = entries[i].path
        try:
            x = decode(path, sr, "none")
        except AudioDataError as e:
            if not cfg.skip_bad:
                raise
            return str(e)
        return slice_clip(
            x,
            length,
            pad=cfg.pad,
            crop=cfg.crop,
            slices=per_file,
            seed=int(cfg.seed) * 1_000_003 + i,
        )

    # Upper bound of rows: only clips longer than `length` give several slices.
    count = len(entries) * per_file if per_file > 1 else len(entries)

    def fill(out: np.ndarray):
        labels, srcs, skipped = [], [], list(label_skipped)
        row = 0
        bar = tqdm(total=len(entries), desc=f"decoding {cfg.source}", disable=not progress)
        with ThreadPoolExecutor(max_workers=4) as pool:  # soundfile/soxr release the GIL
            for i, res in enumerate(pool.map(decode_one, range(len(entries)))):
                bar.update(1)
                if isinstance(res, str):
                    skipped.append((str(entries[i].path), res))
                    continue
                res = normalize_batch(res, cfg.normalize)
                np.clip(res, -1.0, 1.0, out=res)
                out[row : row + len(res)] = res
                row += len(res)
                lab = entries[i].label
                labels += [label_index[lab] if lab is not None else -1] * len(res)
                srcs += [str(entries[i].path)] * len(res)
        bar.close()
        if row == 0:
            raise AudioDataError(f"{cfg.path}: every file was bad ({len(skipped)} skipped)")
        return np.asarray(labels, np.int32), label_names, srcs, skipped

    ds = cache.build(entry, count, length, fill, sample_rate=sr, settings=settings)
    _report_skipped(ds.skipped)
    return ds


def _report_skipped(skipped: list[tuple[str, str]]) -> None:
    if skipped:
        log.warning(
            "skipped %d bad files (data.skip_bad=True):\n  %s",
            len(skipped),
            "\n  ".join(f"{f}: {r}" for f, r in skipped),
        )
