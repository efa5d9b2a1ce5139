"""Finding a folder's audio files and labelling them.

A folder source is a recursive scan of ``data.path`` (or ``$WAVEGEN_DATA``) for every file with an
extension soundfile reads (wav, flac, ogg, aiff, ...; names starting with '.' are ignored, e.g.
macOS '._x.wav' forks), sorted by relative path. Labels ('data.label'):

- 'none': every label is -1.
- 'pattern': ``re.search(data.label_pattern, file name)``; the named group ``label`` is the label
  (anchor with ``^...$`` for a full match).
- 'parent': the name of the file's parent folder.
- 'metadata': column ``data.label_column`` of ``metadata.csv`` in the folder, whose ``file``
  column holds paths relative to the folder.

A file that cannot be labelled is an AudioDataError naming it, or a skipped file with
``skip_bad``. Label names are collected over every scanned file (before any split is taken), so
train and test sets of one folder share one label index.
"""

from __future__ import annotations

import csv
import dataclasses
import os
import re
from collections.abc import Callable
from pathlib import Path

from wavegen.data.audio_io import audio_extensions
from wavegen.data.errors import AudioDataError

LABEL_MODES = ("none", "pattern", "parent", "metadata")
METADATA_FILE = "metadata.csv"


@dataclasses.dataclass(frozen=True)
class AudioFile:
    """One scanned file.

    Attributes:
      path: absolute path.
      relpath: path relative to the scanned folder, '/'-separated.
      index: position in the sorted scan of the whole folder (seeds random crops).
      label: label name, or None when unlabelled.
    """

    path: str
    relpath: str
    index: int
    label: str | None = None


def resolve_root(path: str) -> Path:
    """``data.path``, else ``$WAVEGEN_DATA``, as an existing folder; AudioDataError otherwise."""
    text = path or os.environ.get("WAVEGEN_DATA", "")
    if not text:
        raise AudioDataError(
            "data.path is empty and WAVEGEN_DATA is not set: give the audio folder with "
            "--config.data.path=FOLDER"
        )
    root = Path(text).expanduser()
    if not root.exists():
        raise AudioDataError(f"data folder {root} does not exist (data.path / WAVEGEN_DATA)")
    if not root.is_dir():
        raise AudioDataError(f"data.path {root} is not a folder")
    return root.resolve()


def scan_folder(root: Path) -> list[AudioFile]:
    """Every audio file under ``root``, sorted by relative path; AudioDataError if none."""
    exts = audio_extensions()
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for name in filenames:
            if not name.startswith(".") and name.rsplit(".", 1)[-1].lower() in exts:
                found.append(Path(dirpath, name).relative_to(root).as_posix())
    if not found:
        raise AudioDataError(
            f"no audio files under {root} (looked for extensions: {', '.join(sorted(exts))})"
        )
    return [AudioFile(str(root / rel), rel, i) for i, rel in enumerate(sorted(found))]


def read_metadata(path: Path, required: list[str]) -> dict[str, dict[str, str]]:
    """Rows of a metadata CSV keyed by its ``file`` column ('/'-separated relative path).

    Raises:
      AudioDataError: missing file, or a required column (``file`` and ``required``) is absent.
    """
    if not path.is_file():
        raise AudioDataError(f"{path} not found (labels/split come from this file)")
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        columns = reader.fieldnames or []
        for col in ["file", *required]:
            if col not in columns:
                raise AudioDataError(
                    f"{path}: no column {col!r} (columns: {', '.join(columns) or 'none'})"
                )
        return {Path(row["file"]).as_posix(): row for row in reader}


def compile_pattern(pattern: str) -> re.Pattern:
    """``data.label_pattern`` compiled; it must have a named group ``label``."""
    if not pattern:
        raise AudioDataError("data.label='pattern' needs data.label_pattern (a regex)")
    try:
        rx = re.compile(pattern)
    except re.error as e:
        raise AudioDataError(f"data.label_pattern {pattern!r} is not a valid regex: {e}") from e
    if "label" not in rx.groupindex:
        raise AudioDataError(
            f"data.label_pattern {pattern!r} has no named group 'label', e.g. (?P<label>\\d+)"
        )
    return rx


def label_function(
    mode: str, root: Path, *, pattern: str = "", column: str = ""
) -> tuple[Callable[[AudioFile], str], list[Path]]:
    """How to label a file under ``data.label=mode``.

    Returns:
      (file → label name, raising AudioDataError when it has none; the extra files the labels
      are read from, which the cache key must cover).
    """
    if mode == "pattern":
        rx = compile_pattern(pattern)

        def by_pattern(f: AudioFile) -> str:
            m = rx.search(Path(f.relpath).name)
            if m is None or m.group("label") is None:
                raise AudioDataError(
                    f"{f.path}: file name does not match data.label_pattern {pattern!r}"
                )
            return m.group("label")

        return by_pattern, []
    if mode == "parent":
        return (lambda f: Path(f.path).parent.name), []
    if mode == "metadata":
        if not column:
            raise AudioDataError(
                f"data.label='metadata' needs data.label_column (a column of {METADATA_FILE})"
            )
        meta_path = root / METADATA_FILE
        rows = read_metadata(meta_path, [column])

        def by_metadata(f: AudioFile) -> str:
            row = rows.get(f.relpath)
            if row is None:
                raise AudioDataError(f"{f.path}: not listed in {meta_path}")
            value = (row.get(column) or "").strip()
            if not value:
                raise AudioDataError(f"{f.path}: empty {column!r} in {meta_path}")
            return value

        return by_metadata, [meta_path]
    raise AudioDataError(f"data.label must be one of {LABEL_MODES}, got {mode!r}")
