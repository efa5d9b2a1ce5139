"""Named dataset layouts ('fsdd', 'sc09', 'nsynth', 'notes', 'drums'): label defaults and splits.

A preset is the 'folder' source plus (1) defaults for ``data.label`` / ``label_pattern`` /
``label_column`` and (2) a split rule. A preset default is applied only where the config still
holds the schema default (``wavegen.defaults.data_config()``), so explicit non-default values
win. Presets never change ``sample_rate`` or ``length``: an explicit 16000 could not be told
from the default, and the loader resamples anyway.

- fsdd: labels from the name pattern ``{digit}_{speaker}_{index}.wav`` (the digit); split:
  index 0-4 test, 5-49 train (the dataset's official split).
- sc09: labels from the parent folder; only the words zero..nine are kept. Split:
  ``testing_list.txt`` is test, train is in neither it nor ``validation_list.txt``; without the
  lists, Speech Commands' own sha1-of-speaker rule (10% valid, 10% test).
- nsynth: labels from ``examples.json`` (field 'pitch' by default; a ``<field>_str`` twin, e.g.
  instrument_family_str, names the label). Split: subfolders ``nsynth-train`` / ``nsynth-test``
  (``nsynth-valid`` only in 'all'); a single ``nsynth-<split>`` folder serves its own split.
- notes, drums: labels from ``metadata.csv`` column instrument / kit. Split: velocity-80 clips
  whose pitch / note is divisible by 4 are test, the rest train.

Plain 'folder' has no split rule: 'train' and 'all' are every file and 'test' is an
AudioDataError (there is no held-out set to give, and silently testing on training files would be
worse than failing).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from pathlib import Path

from wavegen.data.errors import AudioDataError
from wavegen.data.sources import AudioFile, read_metadata

FSDD_PATTERN = r"^(?P<label>\d)_(?P<speaker>[a-z]+)_(?P<index>\d+)\.wav$"
FSDD_TEST_INDICES = range(5)
SC09_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
NSYNTH_SPLITS = {"train": "nsynth-train", "valid": "nsynth-valid", "test": "nsynth-test"}
ONE_SHOT_TEST_VELOCITY = 80
ONE_SHOT_TEST_STEP = 4

PRESETS: dict[str, dict[str, str]] = {
    "fsdd": dict(label="pattern", label_pattern=FSDD_PATTERN),
    "sc09": dict(label="parent"),
    "nsynth": dict(label="metadata", label_column="pitch"),
    "notes": dict(label="metadata", label_column="instrument"),
    "drums": dict(label="metadata", label_column="kit"),
}
SOURCES = ("synthetic", "folder", *PRESETS)
SPLIT_RULES = {
    "fsdd": "take index 0-4 is test, 5-49 train",
    "sc09": "testing_list.txt / validation_list.txt, else the sha1-of-speaker rule",
    "nsynth": "the nsynth-train / nsynth-valid / nsynth-test folders",
    "notes": "velocity-80 clips with pitch divisible by 4 are test",
    "drums": "velocity-80 clips with note divisible by 4 are test",
}
SPLITS = ("train", "test", "all")
# Clip format per preset: what its experiments train on (experiments/wavegan_*.py), so that
# `wavegen eval`'s classifier and reference data see audio shaped like the generators' output.
CLIP_FORMATS: dict[str, dict[str, object]] = {
    "fsdd": dict(sample_rate=8000, length=16384, pad="end", normalize="peak"),
    "sc09": dict(sample_rate=16000, length=16384, pad="end", normalize="none"),
    "notes": dict(sample_rate=16000, length=16384, pad="end", normalize="none"),
    "drums": dict(sample_rate=16000, length=16384, pad="end", normalize="none"),
    # NSynth's 4 s notes at their own 16 kHz, cut to WaveGAN's 16384 samples (the attack and
    # the first second of the note, as the NSynth-shaped notes set of experiments/wavegan_notes).
    "nsynth": dict(sample_rate=16000, length=16384, pad="end", normalize="none"),
}
# Sources whose clips are one pitched note each (pitch metrics and monitors default on), with
# their pitch tracker's settings (wavegen.eval.pitch.estimate_f0). The synthetic set spans
# 131-988 Hz (the defaults, 60-1100 Hz); the GM notes set spans MIDI 28-96 (41-2093 Hz) and
# NSynth MIDI 21-108 as used here, which need a lower fmin (hence a 2048-sample frame for the
# lags) and a higher fmax.
PITCH_SETTINGS: dict[str, dict[str, object]] = {
    "synthetic": {},
    "notes": dict(fmin=40.0, fmax=2200.0, frame_length=2048),
    "nsynth": dict(fmin=40.0, fmax=2200.0, frame_length=2048),
}

# split_of(file) → 'train' | 'test' | 'valid', or AudioDataError when the file has no split.
SplitRule = Callable[[AudioFile], str]


def apply_preset(settings: dict) -> dict:
    """``data`` settings with the preset's defaults filled in where the schema default stands."""
    from wavegen.defaults import data_config

    source = settings.get("source", "")
    if source not in SOURCES:
        raise AudioDataError(f"data.source must be one of {SOURCES}, got {source!r}")
    defaults = data_config()
    out = dict(settings)
    for key, value in PRESETS.get(source, {}).items():
        if out.get(key) == defaults[key]:
            out[key] = value
    return out


def restrict(source: str, root: Path, files: list[AudioFile]) -> list[AudioFile]:
    """The files that belong to the dataset at all (SC09: the ten digit words; else all)."""
    if source == "sc09":
        kept = [f for f in files if Path(f.relpath).parent.name in SC09_WORDS]
        if not kept:
            raise AudioDataError(
                f"{root}: no SC09 files: expected Speech Commands folders named "
                f"{', '.join(SC09_WORDS)} holding <hash>_nohash_<n>.wav"
            )
        return kept
    return files


def split_rule(source: str, root: Path) -> tuple[SplitRule | None, list[Path]]:
    """The preset's split rule (None for plain folders) and the files it reads (for the cache)."""
    if source == "fsdd":
        return _fsdd_split, []
    if source == "sc09":
        return _sc09_rule(root)
    if source == "nsynth":
        return _nsynth_rule(root), []
    if source in ("notes", "drums"):
        meta_path = root / "metadata.csv"
        rows = read_metadata(meta_path, ["velocity"])

        def one_shot_split(f: AudioFile) -> str:
            row = rows.get(f.relpath)
            if row is None:
                raise AudioDataError(f"{f.path}: not listed in {meta_path}")
            pitch = row.get("pitch", row.get("note"))
            try:
                velocity, pitch = int(row["velocity"]), int(pitch)
            except (TypeError, ValueError) as e:
                raise AudioDataError(
                    f"{f.path}: {meta_path} needs integer velocity and pitch/note columns, got "
                    f"velocity={row.get('velocity')!r} pitch/note={pitch!r}"
                ) from e
            test = velocity == ONE_SHOT_TEST_VELOCITY and pitch % ONE_SHOT_TEST_STEP == 0
            return "test" if test else "train"

        return one_shot_split, [meta_path]
    return None, []


def select_split(
    files: list[AudioFile], rule: SplitRule | None, split: str, root: Path, source: str
) -> tuple[list[AudioFile], list[tuple[str, str]]]:
    """The files of ``split``, and (file, reason) for files the rule could not place."""
    if split not in SPLITS:
        raise AudioDataError(f"data.split must be one of {SPLITS}, got {split!r}")
    if rule is None:
        if split == "test":
            raise AudioDataError(
                f"data.split='test' but data.source={source!r} ({root}) has no split rule: use "
                "a preset (fsdd, sc09, nsynth, notes, drums) or split='all'/'train' (every file)"
            )
        return files, []
    if split == "all":  # every file of the dataset, whether or not the rule could place it
        return files, []
    chosen, failed = [], []
    for f in files:
        try:
            which = rule(f)
        except AudioDataError as e:
            failed.append((f.path, str(e)))
            continue
        if which == split:
            chosen.append(f)
    return chosen, failed


def _fsdd_split(f: AudioFile) -> str:
    m = re.match(FSDD_PATTERN, Path(f.relpath).name)
    if m is None:
        raise AudioDataError(
            f"{f.path}: not an FSDD file name {{digit}}_{{speaker}}_{{index}}.wav "
            f"(pattern {FSDD_PATTERN!r}), so it has no official split"
        )
    return "test" if int(m.group("index")) in FSDD_TEST_INDICES else "train"


def _sc09_rule(root: Path) -> tuple[SplitRule, list[Path]]:
    lists = {name: root / f"{name}_list.txt" for name in ("validation", "testing")}
    if all(p.is_file() for p in lists.values()):
        members = {
            name: {line.strip() for line in p.read_text().splitlines() if line.strip()}
            for name, p in lists.items()
        }

        def from_lists(f: AudioFile) -> str:
            if f.relpath in members["testing"]:
                return "test"
            return "valid" if f.relpath in members["validation"] else "train"

        return from_lists, list(lists.values())
    return _sc09_hash_split, []


def _sc09_hash_split(f: AudioFile) -> str:
    """Speech Commands' ``which_set``: a stable split by speaker hash (10% valid, 10% test)."""
    speaker = re.sub(r"_nohash_.*$", "", Path(f.relpath).name)
    max_per_class = 2**27 - 1
    digest = int(hashlib.sha1(speaker.encode()).hexdigest(), 16)
    percentage = (digest % (max_per_class + 1)) * (100.0 / max_per_class)
    if percentage < 10:
        return "valid"
    return "test" if percentage < 20 else "train"


def _nsynth_rule(root: Path) -> SplitRule:
    by_folder = {folder: split for split, folder in NSYNTH_SPLITS.items()}

    def nsynth_split(f: AudioFile) -> str:
        for part in Path(f.path).relative_to(root.parent).parts[:-1]:
            if part in by_folder:
                return by_folder[part]
        raise AudioDataError(
            f"{f.path}: not inside an nsynth-train / nsynth-valid / nsynth-test folder, so it "
            "has no NSynth split (use data.split='all' for a single unnamed folder)"
        )

    return nsynth_split


def nsynth_labeller(root: Path, field: str) -> Callable[[AudioFile], str]:
    """Labels from the ``examples.json`` beside each file's ``audio/`` folder (keyed by stem)."""
    cache: dict[Path, dict] = {}

    def label(f: AudioFile) -> str:
        path = Path(f.path)
        meta_path = (path.parent.parent if path.parent.name == "audio" else path.parent) / (
            "examples.json"
        )
        if meta_path not in cache:
            if not meta_path.is_file():
                raise AudioDataError(f"{f.path}: no NSynth examples.json at {meta_path}")
            try:
                cache[meta_path] = json.loads(meta_path.read_text())
            except json.JSONDecodeError as e:
                raise AudioDataError(f"{meta_path}: invalid JSON ({e})") from e
        entry = cache[meta_path].get(path.stem)
        if entry is None:
            raise AudioDataError(f"{f.path}: note {path.stem!r} not in {meta_path}")
        value = entry.get(f"{field}_str", entry.get(field))
        if value is None:
            raise AudioDataError(f"{f.path}: no field {field!r} in {meta_path}[{path.stem!r}]")
        return str(value)

    return label


def nsynth_inputs(files: list[AudioFile]) -> list[Path]:
    """Every examples.json the NSynth labels come from (for the cache key)."""
    out = set()
    for f in files:
        p = Path(f.path)
        out.add((p.parent.parent if p.parent.name == "audio" else p.parent) / "examples.json")
    return sorted(out)
