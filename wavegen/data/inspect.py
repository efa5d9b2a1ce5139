"""``wavegen data inspect``: what to know about an audio folder before training on it."""

from __future__ import annotations

import collections
import re
from pathlib import Path

import numpy as np

from wavegen.data.audio_io import read_info
from wavegen.data.errors import AudioDataError
from wavegen.data.sources import FSDD_PATTERN, scan_audio

LABEL_COLUMNS = ("label", "instrument", "kit", "word", "class")


def inspect_folder(path: str | Path, *, pattern: str | None = None) -> dict:
    """Summary of every audio file below ``path`` (headers only: fast, nothing decoded).

    Labels: ``pattern`` (regex with group 'label') if given; else metadata.csv's first label-like
    column; else FSDD-style names; else parent folder names.

    Returns:
      {"path", "files", "labels", "label_source", "label_counts", "duration_s": {min, median,
      max, total}, "sample_rates": {rate: count}, "channels": {n: count}, "bad_files": [[f, why]]}
    """
    root = Path(path)
    if not root.is_dir():
        raise AudioDataError(f"{root}: folder not found")
    files = scan_audio(root)
    durations, rates, channels, bad, good = [], collections.Counter(), collections.Counter(), [], []
    for f in files:
        try:
            info = read_info(f)
        except AudioDataError as e:
            bad.append([str(f), str(e)])
            continue
        good.append(f)
        durations.append(info.frames / info.samplerate)
        rates[info.samplerate] += 1
        channels[info.channels] += 1
    labels, label_source = _labels(root, good, pattern)
    counts = collections.Counter(v for v in labels if v is not None)
    d = np.asarray(durations) if durations else np.zeros(1)
    return {
        "path": str(root),
        "files": len(files),
        "readable_files": len(good),
        "labels": len(counts),
        "label_source": label_source,
        "label_counts": dict(sorted(counts.items())),
        "duration_s": {
            "min": float(d.min()),
            "median": float(np.median(d)),
            "max": float(d.max()),
            "total": float(d.sum()),
        },
        "sample_rates": {str(k): v for k, v in sorted(rates.items())},
        "channels": {str(k): v for k, v in sorted(channels.items())},
        "bad_files": bad,
    }


def _labels(root: Path, files: list[Path], pattern: str | None) -> tuple[list, str]:
    if pattern:
        rx = re.compile(pattern)
        return [(m.group("label") if (m := rx.search(f.name)) else None) for f in files], "pattern"
    meta = root / "metadata.csv"
    if meta.is_file():
        import csv

        with open(meta, newline="") as fh:
            rows = list(csv.DictReader(fh))
        cols = [c for c in LABEL_COLUMNS if rows and c in rows[0]]
        if cols:
            table = {r["file"]: r[cols[0]] for r in rows}
            return [table.get(f.name) for f in files], f"metadata.csv:{cols[0]}"
    rx = re.compile(FSDD_PATTERN)
    if files and all(rx.search(f.name) for f in files):
        return [rx.search(f.name).group("label") for f in files], "file name (FSDD pattern)"
    parents = {f.parent for f in files}
    if len(parents) > 1:
        return [f.parent.name for f in files], "parent folder"
    return [None] * len(files), "none found"


def format_report(r: dict) -> str:
    """The report as aligned text."""
    d = r["duration_s"]
    lines = [
        f"folder:       {r['path']}",
        f"files:        {r['files']} ({r['readable_files']} readable)",
        f"labels:       {r['labels']} (from {r['label_source']})",
    ]
    if r["label_counts"]:
        shown = ", ".join(f"{k}: {v}" for k, v in list(r["label_counts"].items())[:20])
        more = " …" if len(r["label_counts"]) > 20 else ""
        lines.append(f"per label:    {shown}{more}")
    lines += [
        f"durations:    min {d['min']:.3f} s, median {d['median']:.3f} s, max {d['max']:.3f} s "
        f"(total {d['total'] / 60:.1f} min)",
        "sample rates: " + ", ".join(f"{k} Hz: {v}" for k, v in r["sample_rates"].items()),
        "channels:     " + ", ".join(f"{k}: {v}" for k, v in r["channels"].items()),
        f"bad files:    {len(r['bad_files'])}",
    ]
    lines += [f"  {f}: {why}" for f, why in r["bad_files"][:50]]
    return "\n".join(lines)
