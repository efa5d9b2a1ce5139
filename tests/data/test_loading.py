"""Decoding, labels, splits, slicing, cache and every bad-input case, on files the tests write."""

import json
import os

import numpy as np
import pytest
import soundfile as sf

from wavegen.data import AudioDataError, build_dataset
from wavegen.data import cache as cache_mod
from wavegen.data.slicing import slice_clip
from wavegen.defaults import data_config


def cfg_for(tmp_path, **kw):
    c = data_config()
    c.source = "folder"
    c.path = str(tmp_path / "audio")
    c.cache_dir = str(tmp_path / "cache")
    c.sample_rate = 8000
    c.length = 4000
    c.split = "all"
    for k, v in kw.items():
        c[k] = v
    return c


def write(path, x, sr=8000, subtype="PCM_16"):
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, x, sr, subtype=subtype)
    return path


def tone(freq, sr, seconds, amp=0.5):
    t = np.arange(int(sr * seconds)) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_resampling_keeps_a_sines_frequency(tmp_path):
    """A 440 Hz sine written at 8 kHz and loaded at 16 kHz peaks at 440 Hz ± 1 FFT bin."""
    write(tmp_path / "audio" / "a.wav", tone(440, 8000, 1.0))
    ds = build_dataset(cfg_for(tmp_path, sample_rate=16000, length=16000), progress=False)
    x = np.asarray(ds.waveforms[0])
    assert ds.sample_rate == 16000 and x.shape == (16000,)
    spec = np.abs(np.fft.rfft(x))
    bin_hz = 16000 / len(x)
    assert abs(np.argmax(spec) * bin_hz - 440) <= bin_hz
    assert np.abs(x).max() == pytest.approx(0.5, abs=0.02)


def test_mono_mixdown_and_labels_from_parent(tmp_path):
    left, right = tone(300, 8000, 0.5, 0.4), tone(300, 8000, 0.5, 0.2)
    write(tmp_path / "audio" / "cat" / "s.wav", np.stack([left, right], 1))
    write(tmp_path / "audio" / "dog" / "m.wav", left)
    ds = build_dataset(cfg_for(tmp_path, label="parent"), progress=False)
    assert ds.label_names == ["cat", "dog"]
    assert list(ds.labels) == [0, 1]
    np.testing.assert_allclose(ds.waveforms[0][:4000], (left + right)[:4000] / 2, atol=1e-4)


def test_pattern_labels_and_mismatch_error(tmp_path):
    write(tmp_path / "audio" / "3_bob_7.wav", tone(200, 8000, 0.2))
    write(tmp_path / "audio" / "x_bob_7.wav", tone(200, 8000, 0.2))
    c = cfg_for(tmp_path, label="pattern", label_pattern=r"^(?P<label>\d)_")
    with pytest.raises(AudioDataError, match="x_bob_7.wav.*does not match"):
        build_dataset(c, progress=False)
    c.skip_bad = True
    ds = build_dataset(c, progress=False)
    assert ds.label_names == ["3"] and len(ds) == 1
    assert len(ds.skipped) == 1 and "x_bob_7.wav" in ds.skipped[0][0]


def test_metadata_labels(tmp_path):
    write(tmp_path / "audio" / "a.flac", tone(200, 8000, 0.2))
    write(tmp_path / "audio" / "b.flac", tone(300, 8000, 0.2))
    (tmp_path / "audio" / "metadata.csv").write_text("file,kind\na.flac,x\nb.flac,y\n")
    ds = build_dataset(cfg_for(tmp_path, label="metadata", label_column="kind"), progress=False)
    assert [ds.label_names[i] for i in ds.labels] == ["x", "y"]


def test_pad_end_center_and_crop(tmp_path):
    x = np.arange(1, 11, dtype=np.float32)
    np.testing.assert_array_equal(
        slice_clip(x, 14, pad="end", crop="start", slices=1, seed=0)[0], np.r_[x, np.zeros(4)]
    )
    np.testing.assert_array_equal(
        slice_clip(x, 14, pad="center", crop="start", slices=1, seed=0)[0],
        np.r_[np.zeros(2), x, np.zeros(2)],
    )
    np.testing.assert_array_equal(
        slice_clip(x, 4, pad="end", crop="start", slices=1, seed=0)[0], x[:4]
    )
    np.testing.assert_array_equal(
        slice_clip(x, 4, pad="end", crop="center", slices=1, seed=0)[0], x[3:7]
    )
    r = slice_clip(x, 4, pad="end", crop="random", slices=3, seed=5)
    assert r.shape == (3, 4)
    for row in r:  # each random window is a contiguous piece of x
        assert row[0] in x and np.array_equal(row, np.arange(row[0], row[0] + 4))
    np.testing.assert_array_equal(r, slice_clip(x, 4, pad="end", crop="random", slices=3, seed=5))


def test_several_slices_per_file(tmp_path):
    write(tmp_path / "audio" / "long.wav", tone(100, 8000, 2.0))
    write(tmp_path / "audio" / "short.wav", tone(100, 8000, 0.1))
    ds = build_dataset(cfg_for(tmp_path, slices_per_file=3, crop="start"), progress=False)
    assert len(ds) == 4  # 3 windows of the long file + 1 padded short one
    assert ds.sources.count(str(tmp_path / "audio" / "long.wav")) == 3


@pytest.mark.parametrize(
    "name, make, needle",
    [
        (
            "corrupt.wav",
            lambda p: p.write_bytes(b"RIFF\x24\x00\x00\x00WAVEjunkjunkjunk"),
            "corrupt.wav",
        ),
        ("empty.wav", lambda p: write(p, np.zeros(0, np.float32)), "zero-length"),
        ("noise.flac", lambda p: p.write_bytes(os.urandom(2000)), "noise.flac"),
        (
            "nan.wav",
            lambda p: write(
                p, np.r_[tone(200, 8000, 0.1), np.nan].astype(np.float32), subtype="FLOAT"
            ),
            "NaN",
        ),
        (
            "inf.wav",
            lambda p: write(
                p, np.r_[tone(200, 8000, 0.1), np.inf].astype(np.float32), subtype="FLOAT"
            ),
            "NaN/Inf",
        ),
    ],
)
def test_bad_files_name_the_file_or_are_skipped(tmp_path, name, make, needle):
    write(tmp_path / "audio" / "good.wav", tone(200, 8000, 0.3))
    (tmp_path / "audio").mkdir(exist_ok=True)
    make(tmp_path / "audio" / name)
    c = cfg_for(tmp_path)
    with pytest.raises(AudioDataError, match=needle):
        build_dataset(c, progress=False)
    c.skip_bad = True
    ds = build_dataset(c, progress=False)
    assert len(ds) == 1 and [os.path.basename(f) for f, _ in ds.skipped] == [name]


def test_truncated_wav_is_detected(tmp_path):
    p = write(tmp_path / "audio" / "cut.wav", tone(200, 8000, 1.0))
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(AudioDataError, match="cut.wav.*truncated"):
        build_dataset(cfg_for(tmp_path), progress=False)


def test_missing_folder_and_folder_without_audio(tmp_path):
    with pytest.raises(AudioDataError, match="folder not found"):
        build_dataset(cfg_for(tmp_path), progress=False)
    (tmp_path / "audio").mkdir()
    (tmp_path / "audio" / "notes.txt").write_text("hello")
    with pytest.raises(AudioDataError, match="no audio files"):
        build_dataset(cfg_for(tmp_path), progress=False)


def test_plain_folder_has_no_test_split(tmp_path):
    write(tmp_path / "audio" / "a.wav", tone(200, 8000, 0.2))
    with pytest.raises(AudioDataError, match="no train/test rule"):
        build_dataset(cfg_for(tmp_path), split="test", progress=False)


def test_cache_hit_invalidation_and_partial_rebuild(tmp_path, monkeypatch):
    p = write(tmp_path / "audio" / "a.wav", tone(200, 8000, 0.3))
    c = cfg_for(tmp_path)
    first = build_dataset(c, progress=False)
    calls = []
    import wavegen.data.build as build_mod

    real_decode = build_mod.decode
    monkeypatch.setattr(
        build_mod, "decode", lambda *a, **k: calls.append(a) or real_decode(*a, **k)
    )
    again = build_dataset(c, progress=False)
    assert calls == [], "a cache hit decodes nothing"
    np.testing.assert_array_equal(again.waveforms, first.waveforms)

    # The file changes (content, size and mtime): a new entry with the new content.
    write(p, tone(200, 8000, 0.3, amp=0.1))
    os.utime(p, ns=(p.stat().st_atime_ns, p.stat().st_mtime_ns + 10**9))
    changed = build_dataset(c, progress=False)
    assert len(calls) == 1
    assert np.abs(changed.waveforms).max() == pytest.approx(0.1, abs=0.01)

    # A partial entry (no completion marker) is detected and rebuilt, not reused.
    entry = changed.cache_path
    os.remove(os.path.join(entry, cache_mod.MARKER))
    rebuilt = build_dataset(c, progress=False)
    assert len(calls) == 2
    np.testing.assert_array_equal(rebuilt.waveforms, changed.waveforms)
    # A damaged index is rebuilt too.
    with open(os.path.join(entry, "index.json"), "w") as f:
        json.dump({"count": 5}, f)
    build_dataset(c, progress=False)
    assert len(calls) == 3


def test_settings_change_the_cache_key(tmp_path):
    write(tmp_path / "audio" / "a.wav", tone(200, 8000, 0.3))
    a = build_dataset(cfg_for(tmp_path), progress=False)
    b = build_dataset(cfg_for(tmp_path, normalize="peak"), progress=False)
    assert a.cache_path != b.cache_path
    assert np.abs(b.waveforms).max() == pytest.approx(0.99, abs=1e-3)


def test_synthetic_set_is_deterministic_labelled_and_split():
    c = data_config()
    c.synthetic_size = 40
    c.length = 2048
    tr, te = build_dataset(c, "train"), build_dataset(c, "test")
    assert len(tr) + len(te) == 40 and not set(tr.sources) & set(te.sources)
    np.testing.assert_array_equal(tr.waveforms, build_dataset(c, "train").waveforms)
    assert tr.waveforms.dtype == np.float32 and np.abs(tr.waveforms).max() <= 1.0
    assert (tr.labels >= 0).all() and tr.labels.max() < len(tr.label_names)
