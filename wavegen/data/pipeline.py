"""``build_dataset``: config → scanned, labelled, split, decoded, sliced and cached dataset."""

from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import ml_collections
import numpy as np
from tqdm.auto import tqdm

from wavegen.data import audio_io, cache, clusters, presets, sources
from wavegen.data.dataset import AudioDataset, sorted_label_names
from wavegen.data.errors import AudioDataError
from wavegen.data.slicing import check_slicing, slice_signal
from wavegen.data.synthetic import build_synthetic

log = logging.getLogger(__name__)
# Settings that change what is decoded or how it is labelled/split: all of them enter the key.
DECODE_KEYS = (
    "source",
    "sample_rate",
    "length",
    "label",
    "label_pattern",
    "label_column",
    "pad",
    "crop",
    "slices_per_file",
    "normalize",
    "skip_bad",
)


def build_dataset(
    cfg: ml_collections.ConfigDict | dict, split: str | None = None, *, progress: bool = True
) -> AudioDataset:
    """The dataset described by a ``data`` config section.

    Folder sources are decoded once into the cache (see ``wavegen.data.cache``) and come back as
    a read-only memmap; the synthetic source is generated in memory and is always labelled by
    pitch class. Presets fill in label settings (``wavegen.data.presets``).

    Args:
      cfg: the ``data`` section (``wavegen.defaults.data_config()`` keys; missing keys take their
        defaults).
      split: 'train', 'test' or 'all'; overrides ``cfg.split``.
      progress: show a tqdm bar while decoding.

    Returns:
      The dataset: waveforms [N, length] float32 in [-1, 1], labels [N] int32.

    Raises:
      AudioDataError: a bad config value or a bad input file (the message names it).
    """
    settings = _settings(cfg)
    split = split or settings["split"]
    _validate(settings)
    if settings["source"] == "synthetic":
        dataset = build_synthetic(ml_collections.ConfigDict(settings), split)
    else:
        dataset = _build_folder(settings, split, progress)
    k = int(settings["clusters"])
    if k > 0:  # self-conditioning: the split's own clusters replace whatever labels it had
        labels = clusters.cluster_labels(
            np.asarray(dataset.waveforms), dataset.sample_rate, k, int(settings["seed"])
        )
        dataset = dataclasses.replace(dataset, labels=labels, label_names=clusters.cluster_names(k))
    return dataset


def _settings(cfg: ml_collections.ConfigDict | dict) -> dict:
    from wavegen.defaults import data_config

    given = cfg.to_dict() if isinstance(cfg, ml_collections.ConfigDict) else dict(cfg)
    merged = data_config().to_dict()
    unknown = sorted(set(given) - set(merged))
    if unknown:
        raise AudioDataError(f"unknown data config keys {unknown} (known: {sorted(merged)})")
    merged.update(given)
    return presets.apply_preset(merged)


def _validate(s: dict) -> None:
    if not audio_io.MIN_SAMPLE_RATE <= int(s["sample_rate"]) <= audio_io.MAX_SAMPLE_RATE:
        raise AudioDataError(
            f"data.sample_rate={s['sample_rate']} is outside {audio_io.MIN_SAMPLE_RATE}.."
            f"{audio_io.MAX_SAMPLE_RATE} Hz"
        )
    check_slicing(int(s["length"]), s["pad"], s["crop"], int(s["slices_per_file"]))
    if s["normalize"] not in audio_io.NORMALIZE_MODES:
        raise AudioDataError(
            f"data.normalize must be one of {audio_io.NORMALIZE_MODES}, got {s['normalize']!r}"
        )
    if not isinstance(s["clusters"], int) or s["clusters"] < 0:
        raise AudioDataError(f"data.clusters must be an integer >= 0, got {s['clusters']!r}")
    if s["label"] not in sources.LABEL_MODES:
        raise AudioDataError(f"data.label must be one of {sources.LABEL_MODES}, got {s['label']!r}")


def _build_folder(s: dict, split: str, progress: bool) -> AudioDataset:
    source = s["source"]
    root = sources.resolve_root(s["path"])
    universe = presets.restrict(source, root, sources.scan_folder(root))
    rule, split_inputs = presets.split_rule(source, root)
    files, failed = presets.select_split(universe, rule, split, root, source)

    labeller, label_inputs = _labeller(s, root, universe)
    # Label every file of the dataset (not just this split) so train and test share one index;
    # only this split's unlabellable files are errors.
    label_of: dict[str, str] = {}
    split_paths = {f.path for f in files}
    for f in universe if labeller is not None else []:
        try:
            label_of[f.path] = labeller(f)
        except AudioDataError as e:
            if f.path in split_paths:
                failed.append((f.path, str(e)))
    names = sorted_label_names(list(label_of.values()))

    skipped: list[tuple[str, str]] = []
    bad = dict(failed)
    if bad and not s["skip_bad"]:
        raise AudioDataError(next(iter(bad.values())))
    skipped.extend(sorted(bad.items()))
    files = [f for f in files if f.path not in bad]
    if not files:
        raise AudioDataError(
            f"{root}: no usable files in split {split!r} of data.source={source!r}"
            + (
                f" (split rule: {presets.SPLIT_RULES[source]})"
                if source in presets.SPLIT_RULES
                else ""
            )
            + (f" ({len(skipped)} skipped)" if skipped else "")
        )

    settings = {k: s[k] for k in DECODE_KEYS}
    settings["split"] = split
    settings["root"] = str(root)
    if s["crop"] == "random":
        settings["seed"] = int(s["seed"])
    inputs = [f.path for f in universe] + [str(p) for p in split_inputs + label_inputs]
    key = cache.cache_key(cache.file_stats(inputs), settings)
    entry = cache.cache_root(s["cache_dir"]) / key

    job = _DecodeJob(files, s, label_of, names, skipped, progress)
    waves, index = _load_or_build(entry, key, job)
    result = AudioDataset(
        waveforms=waves,
        labels=np.asarray(index["labels"], np.int32),
        label_names=list(index["label_names"]),
        sample_rate=int(index["sample_rate"]),
        sources=list(index["sources"]),
        skipped=[(str(a), str(b)) for a, b in index["skipped"]],
        cache_path=str(entry),
    )
    if result.skipped:
        log.warning(
            "skipped %d bad files (data.skip_bad=True):\n%s",
            len(result.skipped),
            "\n".join(f"  {r}" for _, r in result.skipped),  # each reason names its file
        )
    return result


@dataclasses.dataclass(frozen=True)
class _DecodeJob:
    """What a cache miss decodes: the files in order, the data settings, each file's label
    name, the sorted label names, the list skipped files are appended to, the progress bar."""

    files: list[sources.AudioFile]
    s: dict
    label_of: dict[str, str]
    names: list[str]
    skipped: list[tuple[str, str]]
    progress: bool


def _load_or_build(entry: Path, key: str, job: _DecodeJob) -> tuple[np.ndarray, dict]:
    """The cache entry's (waveforms memmap, index), decoding ``files`` into it on a miss."""
    s = job.s
    length = int(s["length"])
    loaded = cache.load_entry(entry, key, length)
    if loaded is not None:
        return loaded
    log.info("decoding %d files into cache %s", len(job.files), entry)

    def fill(writer: cache.ArrayWriter) -> dict:
        return dict(
            _decode_into(writer, job),
            label_names=job.names,
            sample_rate=int(s["sample_rate"]),
            settings={k: s[k] for k in DECODE_KEYS},
        )

    try:
        cache.write_entry(entry, key, length, len(job.files), fill)
    except OSError as e:
        raise AudioDataError(f"cannot write the data cache {entry}: {e}") from e
    loaded = cache.load_entry(entry, key, length)
    if loaded is None:
        raise AudioDataError(f"the data cache {entry} was written but does not read back")
    return loaded


def _labeller(
    s: dict, root: Path, universe: list[sources.AudioFile]
) -> tuple[Callable[[sources.AudioFile], str] | None, list[Path]]:
    """(file → label name, or None for 'none'; the files the labels are read from)."""
    if s["label"] == "none":
        return None, []
    if s["source"] == "nsynth" and s["label"] == "metadata":
        return presets.nsynth_labeller(root, s["label_column"]), presets.nsynth_inputs(universe)
    return sources.label_function(
        s["label"], root, pattern=s["label_pattern"], column=s["label_column"]
    )


def _decode_into(writer: cache.ArrayWriter, job: _DecodeJob) -> dict:
    """Decodes ``job.files`` in order into ``writer``; returns labels, sources and skipped."""
    files, s, label_of, skipped = job.files, job.s, job.label_of, job.skipped
    label_index = {n: i for i, n in enumerate(job.names)}
    labels: list[int] = []
    srcs: list[str] = []

    def work(f: sources.AudioFile) -> np.ndarray:
        x = audio_io.decode(f.path, int(s["sample_rate"]), s["normalize"])
        return slice_signal(
            x,
            int(s["length"]),
            pad=s["pad"],
            crop=s["crop"],
            slices_per_file=int(s["slices_per_file"]),
            seed=(int(s["seed"]), f.index),
        )

    bar = tqdm(total=len(files), desc="decoding audio", unit="file", disable=not job.progress)
    try:
        for f, result in _ordered_map(work, files):
            bar.update(1)
            if isinstance(result, AudioDataError):
                if not s["skip_bad"]:
                    raise result
                skipped.append((f.path, str(result)))
                continue
            writer.append(result)
            label = label_index[label_of[f.path]] if f.path in label_of else -1
            labels.extend([label] * result.shape[0])
            srcs.extend([f.path] * result.shape[0])
    finally:
        bar.close()
    if not labels:
        raise AudioDataError(f"no usable audio: all {len(files)} files were skipped as bad")
    return dict(labels=labels, sources=srcs, skipped=sorted(skipped))


def _ordered_map(
    fn: Callable[[sources.AudioFile], np.ndarray], items: list[sources.AudioFile]
) -> Iterator[tuple[sources.AudioFile, np.ndarray | AudioDataError]]:
    """(item, fn(item) or the AudioDataError it raised), in order, on a few threads.

    libsndfile and soxr work outside the GIL, so threads overlap decoding; at most
    ``4 × workers`` results are held at once, so memory does not grow with the dataset.
    """
    workers = max(1, min(8, os.cpu_count() or 1))

    def safe(item):
        try:
            return fn(item)
        except AudioDataError as e:
            return e

    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        pending: collections.deque = collections.deque()
        for item in items:
            pending.append((item, pool.submit(safe, item)))
            if len(pending) >= 4 * workers:
                done_item, fut = pending.popleft()
                yield done_item, fut.result()
        while pending:
            done_item, fut = pending.popleft()
            yield done_item, fut.result()
