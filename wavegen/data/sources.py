"""Which files a data config means: folder scan, labels, presets (FSDD, SC09, NSynth, notes, drums)
and train/test splits.

Labels come from one of:
- 'pattern': a regex with a named group ``label`` searched in the file name
  (FSDD: ``(?P<label>\\d)_(?P<speaker>[a-z]+)_(?P<index>\\d+)``);
- 'parent': the parent folder's name (SC09 / Speech Commands);
- 'metadata': a column of ``metadata.csv`` (column ``file``) in the folder, or of NSynth's
  ``examples.json``.

Splits are a property of a preset: FSDD's official split (recording index 0-4 test, 5-49 train);
SC09's ``testing_list.txt`` / ``validation_list.txt``; notes and drums: velocity-80 clips whose
pitch/note is divisible by 4 are test. A plain 'folder' has no split rule: 'train' and 'all'
mean every file, 'test' is an error.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import re
from pathlib import Path

from wavegen.data.audio_io import audio_extensions
from wavegen.data.errors import AudioDataError

FSDD_PATTERN = r"^(?P<label>\d)_(?P<speaker>[A-Za-z]+)_(?P<index>\d+)\."
SC09_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
SOURCES = ("synthetic", "folder", "fsdd", "sc09", "nsynth", "notes", "drums")
LABEL_MODES = ("none", "pattern", "parent", "metadata")
SPLITS = ("train", "test", "all")

# Preset defaults, applied where the config still has the base default ('' / 'none').
PRESETS: dict[str, dict[str, str]] = {
    "fsdd": {"label": "pattern", "label_pattern": FSDD_PATTERN},
    "sc09": {"label": "parent"},
    "nsynth": {"label": "metadata", "label_column": "pitch"},
    "notes": {"label": "metadata", "label_column": "instrument"},
    "drums": {"label": "metadata", "label_column": "kit"},
}


@dataclasses.dataclass(frozen=True)
class FileEntry:
    """One audio file with its label text (None when unlabelled)."""

    path: Path
    label: str | None


def resolve_root(cfg) -> Path:
    """The data folder: ``cfg.path`` or $WAVEGEN_DATA; AudioDataError when missing."""
    root = cfg.path or os.environ.get("WAVEGEN_DATA", "")
    if not root:
        raise AudioDataError(
            f"data.source={cfg.source!r} needs a folder: set data.path or WAVEGEN_DATA"
        )
    path = Path(root).expanduser()
    if not path.is_dir():
        raise AudioDataError(f"data.path {path}: folder not found")
    return path


def label_settings(cfg) -> tuple[str, str, str]:
    """(label mode, pattern, column) after the preset's defaults."""
    preset = PRESETS.get(cfg.source, {})
    mode = cfg.label if cfg.label != "none" else preset.get("label", "none")
    pattern = cfg.label_pattern or preset.get("label_pattern", "")
    column = cfg.label_column or preset.get("label_column", "")
    if mode not in LABEL_MODES:
        raise AudioDataError(f"data.label must be one of {LABEL_MODES}, got {mode!r}")
    return mode, pattern, column


def scan_audio(root: Path) -> list[Path]:
    """Every audio file below ``root`` (recursive), sorted; AudioDataError when there is none."""
    exts = audio_extensions()
    files = sorted(
        p for p in root.rglob("*") if p.is_file() and p.suffix.lower().lstrip(".") in exts
    )
    if not files:
        raise AudioDataError(
            f"{root}: no audio files found (looked recursively for {', '.join(sorted(exts))})"
        )
    return files


def list_files(cfg, split: str) -> tuple[list[FileEntry], list[tuple[str, str]]]:
    """The files of ``split`` with their labels, and (file, reason) of those skipped.

    Raises:
      AudioDataError: missing folder, no audio, a file whose label cannot be found (unless
        ``cfg.skip_bad``), an unknown split or source.
    """
    if split not in SPLITS:
        raise AudioDataError(f"data.split must be one of {SPLITS}, got {split!r}")
    if cfg.source not in SOURCES:
        raise AudioDataError(f"data.source must be one of {SOURCES}, got {cfg.source!r}")
    root = resolve_root(cfg)
    if cfg.source == "nsynth" and (root / "audio").is_dir():
        files = scan_audio(root / "audio")
    else:
        files = scan_audio(root)
    mode, pattern, column = label_settings(cfg)
    labeler = _make_labeler(mode, pattern, column, root, cfg.source)
    in_split = _make_split_rule(cfg.source, split, root)
    entries, skipped = [], []
    for path in files:
        try:
            label = labeler(path)
            keep = in_split(path, label)
        except AudioDataError as e:
            if not cfg.skip_bad:
                raise
            skipped.append((str(path), str(e)))
            continue
        if keep:
            entries.append(FileEntry(path, label))
    if not entries:
        raise AudioDataError(f"{root}: no files in split {split!r} for source {cfg.source!r}")
    return entries, skipped


def _make_labeler(mode: str, pattern: str, column: str, root: Path, source: str):
    if mode == "none":
        return lambda path: None
    if mode == "parent":
        return lambda path: path.parent.name
    if mode == "pattern":
        if not pattern:
            raise AudioDataError("data.label='pattern' needs data.label_pattern")
        try:
            regex = re.compile(pattern)
        except re.error as e:
            raise AudioDataError(f"data.label_pattern {pattern!r} is not a regex: {e}") from e
        if "label" not in regex.groupindex:
            raise AudioDataError(
                f"data.label_pattern {pattern!r} needs a named group (?P<label>...)"
            )

        def by_pattern(path: Path) -> str:
            m = regex.search(path.name)
            if m is None:
                raise AudioDataError(
                    f"{path}: file name does not match data.label_pattern {pattern!r}"
                )
            return m.group("label")

        return by_pattern
    table = _metadata_table(root, column, source)

    def by_metadata(path: Path) -> str:
        key = path.name if path.name in table else path.stem
        if key not in table:
            raise AudioDataError(f"{path}: not listed in the metadata of {root}")
        return table[key]

    return by_metadata


def _metadata_table(root: Path, column: str, source: str) -> dict[str, str]:
    """file name (or NSynth note id) → label text from metadata.csv or examples.json."""
    if not column:
        raise AudioDataError("data.label='metadata' needs data.label_column")
    csv_path, json_path = root / "metadata.csv", root / "examples.json"
    if csv_path.is_file():
        with open(csv_path, newline="") as f:
            rows = list(csv.DictReader(f))
        if not rows or "file" not in rows[0] or column not in rows[0]:
            have = ", ".join(rows[0]) if rows else "no rows"
            raise AudioDataError(f"{csv_path}: needs columns 'file' and {column!r} (has {have})")
        return {row["file"]: row[column] for row in rows}
    if json_path.is_file():
        try:
            examples = json.loads(json_path.read_text())
        except json.JSONDecodeError as e:
            raise AudioDataError(f"{json_path}: invalid JSON ({e})") from e
        try:
            return {k: str(v[column]) for k, v in examples.items()}
        except (KeyError, TypeError, AttributeError) as e:
            raise AudioDataError(f"{json_path}: entries lack the field {column!r}") from e
    raise AudioDataError(f"{root}: data.label='metadata' needs metadata.csv (or examples.json)")


def _make_split_rule(source: str, split: str, root: Path):
    """A predicate (path, label) → whether the file belongs to ``split``."""
    if source == "nsynth" or (split == "all" and source != "sc09"):  # NSynth: a folder a split
        return lambda path, label: True
    want_test = split == "test"
    if source == "fsdd":
        regex = re.compile(FSDD_PATTERN)

        def fsdd(path: Path, label) -> bool:
            m = regex.search(path.name)
            if m is None:
                raise AudioDataError(f"{path}: not an FSDD file name ({FSDD_PATTERN})")
            return (int(m.group("index")) <= 4) == want_test

        return fsdd
    if source == "sc09":
        lists = {}
        for name in ("testing_list.txt", "validation_list.txt"):
            f = root / name
            lists[name] = set(f.read_text().split()) if f.is_file() else set()

        def sc09(path: Path, label) -> bool:
            if path.parent.name not in SC09_WORDS:
                return False
            rel = f"{path.parent.name}/{path.name}"
            if split == "all":
                return True
            if want_test:
                return rel in lists["testing_list.txt"]
            return rel not in lists["testing_list.txt"] and rel not in lists["validation_list.txt"]

        return sc09
    if source in ("notes", "drums"):
        key = "pitch" if source == "notes" else "note"
        rows = _csv_rows(root / "metadata.csv", ("file", key, "velocity"))

        def shared(path: Path, label) -> bool:
            row = rows.get(path.name)
            if row is None:
                raise AudioDataError(f"{path}: not listed in {root / 'metadata.csv'}")
            is_test = int(row["velocity"]) == 80 and int(row[key]) % 4 == 0
            return is_test == want_test

        return shared
    if want_test:
        raise AudioDataError(
            f"data.source={source!r} has no train/test rule; use data.split='all' or a preset"
        )
    return lambda path, label: True


def _csv_rows(path: Path, needed: tuple[str, ...]) -> dict[str, dict[str, str]]:
    if not path.is_file():
        raise AudioDataError(f"{path}: missing (needed for the split)")
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows or any(k not in rows[0] for k in needed):
        raise AudioDataError(f"{path}: needs columns {', '.join(needed)}")
    return {row["file"]: row for row in rows}
