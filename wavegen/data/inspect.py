"""``wavegen data inspect PATH``: what is in an audio folder, without decoding all of it.

Reads each file's header with ``soundfile.info`` and the last few frames (which catches
zero-length, corrupt and truncated files cheaply), then reports file and label counts,
durations, sample rates, channel counts and bad files with reasons. Labels are auto-detected:
a ``pattern`` argument (regex with a ``label`` group) if given, else ``metadata.csv``'s first
non-numeric column after ``file``, else an FSDD-style ``<digits>_`` file-name prefix when every
file has one, else parent folder names.
"""

from __future__ import annotations

import collections
import re
from pathlib import Path

import numpy as np
import soundfile as sf

from wavegen.data.audio_io import read_info
from wavegen.data.dataset import sorted_label_names
from wavegen.data.errors import AudioDataError
from wavegen.data.sources import METADATA_FILE, compile_pattern, read_metadata, scan_folder

TAIL_FRAMES = 64
FSDD_PREFIX = re.compile(r"^(?P<label>\d+)_")


def probe(path: str | Path) -> tuple[int, int, int, str]:
    """(frames, sample rate, channels, format) of a file whose header and tail are readable.

    Raises:
      AudioDataError: unreadable, zero-length, implausible rate, or truncated.
    """
    info = read_info(path)
    try:
        with sf.SoundFile(str(path)) as f:
            f.seek(max(info.frames - TAIL_FRAMES, 0))
            got = f.read(TAIL_FRAMES, dtype="float32").shape[0]
    except (sf.SoundFileError, RuntimeError, OSError) as e:
        raise AudioDataError(f"{path}: corrupt or truncated audio ({e})") from e
    if got < min(TAIL_FRAMES, info.frames):
        raise AudioDataError(
            f"{path}: truncated file: header says {info.frames} frames, the last ones are missing"
        )
    return int(info.frames), int(info.samplerate), int(info.channels), str(info.format)


def _metadata_labels(root: Path) -> tuple[str, dict[str, str]] | None:
    meta = root / METADATA_FILE
    if not meta.is_file():
        return None
    rows = read_metadata(meta, [])
    columns = [c for c in next(iter(rows.values()), {}) if c != "file"]
    if not columns:
        return None

    def numeric(col: str) -> bool:
        return all(re.fullmatch(r"-?\d+(\.\d*)?", r.get(col) or "") for r in rows.values())

    column = next((c for c in columns if not numeric(c)), columns[0])
    return f"{METADATA_FILE} column {column!r}", {k: r[column] for k, r in rows.items()}


def _label_files(root: Path, relpaths: list[str], pattern: str | None) -> tuple[str, dict]:
    """(how labels were found, relpath → label) for the files that have one."""
    names = {p: Path(p).name for p in relpaths}
    if pattern:
        rx = compile_pattern(pattern)
        found = {p: m.group("label") for p, n in names.items() if (m := rx.search(n))}
        return f"pattern {pattern!r}", {p: v for p, v in found.items() if v is not None}
    meta = _metadata_labels(root)
    if meta is not None:
        how, table = meta
        return how, {p: table[p] for p in relpaths if p in table}
    prefixes = {p: FSDD_PREFIX.match(n) for p, n in names.items()}
    if relpaths and all(prefixes.values()):
        return "file-name prefix '<digits>_'", {p: m.group("label") for p, m in prefixes.items()}
    return "parent folder", {p: (Path(root, p).parent.name) for p in relpaths}


def inspect_folder(path: str | Path, *, pattern: str | None = None) -> dict:
    """Summary of an audio folder (JSON-serialisable).

    Returns:
      dict with path, num_files, num_readable, label_source, num_labels, labels (name → count),
      unlabelled (count), duration_s (min/median/max/total), sample_rates and channels
      (value → count), formats (name → count), bad_files ([file, reason] pairs).

    Raises:
      AudioDataError: the folder is missing or has no audio files.
    """
    root = Path(path).expanduser()
    if not root.is_dir():
        raise AudioDataError(f"{root}: no such folder")
    files = scan_folder(root.resolve())
    durations, rates, channels, formats = [], collections.Counter(), collections.Counter(), {}
    formats = collections.Counter()
    bad, good = [], []
    for f in files:
        try:
            frames, sr, ch, fmt = probe(f.path)
        except AudioDataError as e:
            bad.append([f.relpath, str(e).removeprefix(f"{f.path}: ")])
            continue
        good.append(f.relpath)
        durations.append(frames / sr)
        rates[str(sr)] += 1
        channels[str(ch)] += 1
        formats[fmt] += 1
    how, labels = _label_files(root, good, pattern)
    counts = collections.Counter(labels.values())
    d = np.asarray(durations) if durations else np.zeros(1)
    return {
        "path": str(root),
        "num_files": len(files),
        "num_readable": len(good),
        "label_source": how,
        "num_labels": len(counts),
        "labels": {n: counts[n] for n in sorted_label_names(list(counts))},
        "unlabelled": len(good) - len(labels),
        "duration_s": {
            "min": round(float(d.min()), 4),
            "median": round(float(np.median(d)), 4),
            "max": round(float(d.max()), 4),
            "total": round(float(d.sum()), 2),
        },
        "sample_rates": dict(sorted(rates.items(), key=lambda kv: int(kv[0]))),
        "channels": dict(sorted(channels.items(), key=lambda kv: int(kv[0]))),
        "formats": dict(sorted(formats.items())),
        "bad_files": bad,
    }


def format_report(report: dict) -> str:
    """A short human-readable rendering of :func:`inspect_folder`'s dict."""

    def counts(d: dict) -> str:
        return ", ".join(f"{k}: {v}" for k, v in d.items()) or "-"

    dur = report["duration_s"]
    labels = report["labels"]
    shown = counts(dict(list(labels.items())[:20])) + (" ..." if len(labels) > 20 else "")
    lines = [
        f"folder:        {report['path']}",
        f"files:         {report['num_files']} ({report['num_readable']} readable, "
        f"{len(report['bad_files'])} bad)",
        f"labels:        {report['num_labels']} from {report['label_source']}"
        + (f" ({report['unlabelled']} files unlabelled)" if report["unlabelled"] else ""),
        f"               {shown}",
        f"duration (s):  min {dur['min']:.3f}  median {dur['median']:.3f}  max {dur['max']:.3f}"
        f"  total {dur['total']:.1f}",
        f"sample rates:  {counts({k + ' Hz': v for k, v in report['sample_rates'].items()})}",
        f"channels:      {counts(report['channels'])}",
        f"formats:       {counts(report['formats'])}",
    ]
    if report["bad_files"]:
        lines.append("bad files:")
        lines += [f"  {name}: {reason}" for name, reason in report["bad_files"]]
    return "\n".join(lines)
