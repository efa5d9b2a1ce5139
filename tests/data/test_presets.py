"""Presets and label rules: shared FSDD / notes / drums, and SC09 / NSynth layouts written here."""

import csv
import hashlib
import json
import re

import numpy as np
import pytest

from tests.data.conftest import tone, write_audio
from wavegen.data import AudioDataError, build_dataset
from wavegen.defaults import data_config


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory):
    return str(tmp_path_factory.mktemp("shared-cache"))


def shared_cfg(source, path, cache, **overrides):
    cfg = data_config()
    cfg.source, cfg.path, cfg.cache_dir = source, str(path), cache
    for k, v in overrides.items():
        cfg[k] = v
    return cfg


@pytest.mark.data
def test_fsdd_official_split(shared_data, shared_cache):
    cfg = shared_cfg("fsdd", shared_data / "fsdd" / "recordings", shared_cache, sample_rate=8000)
    train = build_dataset(cfg, "train", progress=False)
    test = build_dataset(cfg, "test", progress=False)
    # 6 speakers x 10 digits x 50 takes; takes 0-4 are the official test set.
    assert (len(train), len(test)) == (2700, 300)
    assert train.label_names == test.label_names == [str(d) for d in range(10)]
    assert np.bincount(test.labels).tolist() == [30] * 10
    for ds, wanted in ((train, range(5, 50)), (test, range(5))):
        for src, label in zip(ds.sources, ds.labels, strict=True):
            digit, _, take = re.match(r".*/(\d)_([a-z]+)_(\d+)\.wav$", src).groups()
            assert int(take) in wanted and ds.label_names[label] == digit
    assert train.waveforms.shape == (2700, 16384)


def _metadata(path):
    with open(path / "metadata.csv", newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.data
@pytest.mark.parametrize(
    "source,column,pitch", [("notes", "instrument", "pitch"), ("drums", "kit", "note")]
)
def test_one_shot_sets_split_and_labels(source, column, pitch, shared_data, shared_cache):
    rows = _metadata(shared_data / source)
    is_test = {r["file"]: r["velocity"] == "80" and int(r[pitch]) % 4 == 0 for r in rows}
    cfg = shared_cfg(source, shared_data / source, shared_cache)
    for split in ("train", "test"):
        ds = build_dataset(cfg, split, progress=False)
        expected = sorted(f for f, t in is_test.items() if t == (split == "test"))
        assert sorted(s.rsplit("/", 1)[-1] for s in ds.sources) == expected
        assert ds.label_names == sorted({r[column] for r in rows})
        by_file = {r["file"]: r[column] for r in rows}
        for src, label in zip(ds.sources, ds.labels, strict=True):
            assert ds.label_names[label] == by_file[src.rsplit("/", 1)[-1]]
        assert ds.sample_rate == 16000 and ds.waveforms.shape[1] == 16384


def test_explicit_label_settings_win_over_the_preset(tmp_path, make_cfg):
    for name in ("0_ann_1.wav", "1_bob_7.wav"):
        write_audio(tmp_path / "recordings" / name, tone(200))
    ds = build_dataset(make_cfg(tmp_path, source="fsdd", label="parent"), "train", progress=False)
    assert ds.label_names == ["recordings"] and len(ds) == 1
    ds = build_dataset(make_cfg(tmp_path, source="fsdd"), "train", progress=False)
    assert ds.label_names == ["0", "1"] and ds.labels.tolist() == [1]


SC09_LAYOUT = {
    "zero": ["aaaa1111_nohash_0", "bbbb2222_nohash_0", "cccc3333_nohash_1"],
    "nine": ["aaaa1111_nohash_1", "dddd4444_nohash_0"],
    "dog": ["aaaa1111_nohash_0"],  # not a digit word: not part of SC09
    "_background_noise_": ["white_noise"],
}


def _sc09(root, with_lists, layout=SC09_LAYOUT):
    for word, names in layout.items():
        for n in names:
            write_audio(root / word / f"{n}.wav", tone(300))
    if with_lists:
        (root / "testing_list.txt").write_text("zero/bbbb2222_nohash_0.wav\n")
        (root / "validation_list.txt").write_text("nine/dddd4444_nohash_0.wav\n")


def test_sc09_layout_with_lists(tmp_path, make_cfg):
    _sc09(tmp_path, with_lists=True)
    cfg = make_cfg(tmp_path, source="sc09")
    rel = lambda ds: sorted(s.split(str(tmp_path) + "/")[1] for s in ds.sources)  # noqa: E731
    train = build_dataset(cfg, "train", progress=False)
    assert rel(train) == [
        "nine/aaaa1111_nohash_1.wav",
        "zero/aaaa1111_nohash_0.wav",
        "zero/cccc3333_nohash_1.wav",
    ]
    assert rel(build_dataset(cfg, "test", progress=False)) == ["zero/bbbb2222_nohash_0.wav"]
    assert len(build_dataset(cfg, "all", progress=False)) == 5
    assert train.label_names == ["nine", "zero"]


def speech_commands_set(file_name: str) -> str:
    """Speech Commands' documented ``which_set`` (its README): the speaker is the name before
    ``_nohash_``; sha1 of it mod 2^27, scaled to a percentage of 2^27 - 1: below 10 is
    validation, below 20 testing, the rest training."""
    speaker = file_name.split("_nohash_")[0]
    digest = int(hashlib.sha1(speaker.encode("utf-8")).hexdigest(), 16)
    percentage = (digest % 2**27) * (100.0 / (2**27 - 1))
    return "valid" if percentage < 10 else "test" if percentage < 20 else "train"


# Speakers picked so that every split of the hash rule is used (the table is checked against
# the rule below): two test speakers, one validation speaker (in neither train nor test).
SC09_HASH_SPLITS = {
    "aaaa1111": "train",
    "bbbb2222": "train",
    "cccc3333": "train",
    "dddd4444": "test",
    "9999aaaa": "test",
    "12345678": "valid",
}
SC09_HASH_LAYOUT = {
    "zero": [
        "aaaa1111_nohash_0",
        "bbbb2222_nohash_0",
        "cccc3333_nohash_1",
        "9999aaaa_nohash_0",
        "12345678_nohash_0",
    ],
    "nine": ["aaaa1111_nohash_1", "dddd4444_nohash_0", "dddd4444_nohash_1", "12345678_nohash_1"],
    "dog": ["dddd4444_nohash_2"],  # not a digit word: not part of SC09
    "_background_noise_": ["white_noise"],
}


def test_sc09_without_lists_keeps_each_speaker_in_one_split(tmp_path, make_cfg):
    assert {s: speech_commands_set(f"{s}_nohash_0") for s in SC09_HASH_SPLITS} == SC09_HASH_SPLITS
    _sc09(tmp_path, with_lists=False, layout=SC09_HASH_LAYOUT)
    cfg = make_cfg(tmp_path, source="sc09")
    digit_files = [f"{w}/{n}.wav" for w in ("nine", "zero") for n in SC09_HASH_LAYOUT[w]]
    expected = {
        split: sorted(f for f in digit_files if speech_commands_set(f.split("/")[1]) == split)
        for split in ("train", "test")
    }
    assert expected["test"] == [
        "nine/dddd4444_nohash_0.wav",
        "nine/dddd4444_nohash_1.wav",
        "zero/9999aaaa_nohash_0.wav",
    ]
    rel = lambda ds: sorted(s.split(str(tmp_path) + "/")[1] for s in ds.sources)  # noqa: E731
    for split in ("train", "test"):
        assert rel(build_dataset(cfg, split, progress=False)) == expected[split], split
    # The validation speaker is in neither split, but in 'all' (every digit file).
    assert rel(build_dataset(cfg, "all", progress=False)) == sorted(digit_files)


def _nsynth(root):
    for split, notes in (
        ("train", ["guitar_acoustic_000-060-100", "bass_synthetic_001-040-050"]),
        ("test", ["guitar_acoustic_002-061-075"]),
    ):
        folder = root / f"nsynth-{split}"
        meta = {}
        for note in notes:
            write_audio(folder / "audio" / f"{note}.wav", tone(400), sr=16000)
            family = note.split("_")[0]
            meta[note] = {
                "pitch": int(note.split("-")[1]),
                "instrument_family": {"guitar": 3, "bass": 0}[family],
                "instrument_family_str": family,
            }
        (folder / "examples.json").write_text(json.dumps(meta))


def test_nsynth_layout_pitch_and_family_labels(tmp_path, make_cfg):
    _nsynth(tmp_path)
    cfg = make_cfg(tmp_path, source="nsynth", sample_rate=16000)
    train = build_dataset(cfg, "train", progress=False)
    # Pitch labels sort numerically and are shared by both splits.
    assert train.label_names == ["40", "60", "61"]
    assert sorted(train.label_names[i] for i in train.labels) == ["40", "60"]
    test = build_dataset(cfg, "test", progress=False)
    assert [test.label_names[i] for i in test.labels] == ["61"]
    family = build_dataset(
        make_cfg(tmp_path, source="nsynth", label_column="instrument_family"), "all", progress=False
    )
    assert family.label_names == ["bass", "guitar"] and len(family) == 3
    single = build_dataset(
        make_cfg(tmp_path / "nsynth-test", source="nsynth"), "test", progress=False
    )
    assert len(single) == 1
    with pytest.raises(AudioDataError, match="nsynth-train"):
        build_dataset(make_cfg(tmp_path / "nsynth-test", source="nsynth"), "train", progress=False)


def test_plain_folder_has_no_test_split_and_reads_labels(tmp_path, make_cfg):
    write_audio(tmp_path / "cats" / "a.wav", tone(300))
    write_audio(tmp_path / "dogs" / "b.flac", tone(300))
    (tmp_path / "metadata.csv").write_text("file,kind\ncats/a.wav,meow\ndogs/b.flac,woof\n")
    with pytest.raises(AudioDataError, match="split='test'.*no split rule"):
        build_dataset(make_cfg(tmp_path), "test", progress=False)
    parent = build_dataset(make_cfg(tmp_path, label="parent"), "train", progress=False)
    assert parent.label_names == ["cats", "dogs"] and parent.labels.tolist() == [0, 1]
    meta = build_dataset(
        make_cfg(tmp_path, label="metadata", label_column="kind"), "all", progress=False
    )
    assert meta.label_names == ["meow", "woof"] and meta.labels.tolist() == [0, 1]
    none = build_dataset(make_cfg(tmp_path), "all", progress=False)
    assert none.labels.tolist() == [-1, -1] and none.label_names == []
    with pytest.raises(AudioDataError, match="no column 'species'"):
        build_dataset(make_cfg(tmp_path, label="metadata", label_column="species"), progress=False)


def test_file_missing_from_metadata_is_named(tmp_path, make_cfg):
    write_audio(tmp_path / "a.wav", tone(300))
    write_audio(tmp_path / "extra.wav", tone(300))
    (tmp_path / "metadata.csv").write_text("file,kind\na.wav,x\n")
    cfg = make_cfg(tmp_path, label="metadata", label_column="kind")
    with pytest.raises(AudioDataError, match="extra.wav: not listed in"):
        build_dataset(cfg, progress=False)
    cfg.skip_bad = True
    assert len(build_dataset(cfg, progress=False)) == 1


def test_unknown_source_and_key(make_cfg):
    with pytest.raises(AudioDataError, match="data.source"):
        build_dataset(make_cfg("x", source="youtube"), progress=False)
    with pytest.raises(AudioDataError, match="unknown data config keys"):
        build_dataset({"source": "synthetic", "sample_rte": 8000}, progress=False)
