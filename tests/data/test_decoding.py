"""Decoding files: bad input → AudioDataError naming the file; resampling, mono, pad/crop."""

import logging
import struct

import numpy as np
import pytest

from tests.data.conftest import tone, write_audio
from wavegen.data import AudioDataError, build_dataset


def _wav_with_rate(path, rate):
    """A valid 16-bit WAV whose header's sample-rate field is then overwritten."""
    write_audio(path, tone(800))
    data = bytearray(path.read_bytes())
    struct.pack_into("<I", data, 24, rate)  # the fmt chunk's sample rate field
    path.write_bytes(bytes(data))


def _truncate(path, fraction):
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])


def _make_bad(kind, folder):
    """Writes one bad file of ``kind`` into ``folder``; returns its name."""
    if kind == "corrupt_text":
        (folder / "bad.wav").write_text("this is not audio " * 20)
        return "bad.wav"
    if kind == "unreadable_format":
        (folder / "bad.ogg").write_bytes(np.random.default_rng(0).bytes(3000))
        return "bad.ogg"
    if kind == "empty_file":
        (folder / "bad.wav").write_bytes(b"")
        return "bad.wav"
    if kind == "zero_frames":
        write_audio(folder / "bad.wav", np.zeros(0, np.float32))
        return "bad.wav"
    if kind == "truncated_header":
        _truncate(write_audio(folder / "bad.wav", tone(800)), 0.002)
        return "bad.wav"
    if kind == "truncated_wav_data":
        _truncate(write_audio(folder / "bad.wav", tone(8000)), 0.5)
        return "bad.wav"
    if kind == "truncated_flac":
        rng = np.random.default_rng(1)  # noise: FLAC cannot compress it into a tiny file
        _truncate(write_audio(folder / "bad.flac", rng.uniform(-0.5, 0.5, 8000)), 0.5)
        return "bad.flac"
    if kind in ("nan", "inf"):
        x = tone(800)
        x[100] = np.nan if kind == "nan" else np.inf
        write_audio(folder / "bad.wav", x, subtype="FLOAT")
        return "bad.wav"
    if kind == "sample_rate_0":
        _wav_with_rate(folder / "bad.wav", 0)
        return "bad.wav"
    if kind == "sample_rate_1hz":
        _wav_with_rate(folder / "bad.wav", 1)
        return "bad.wav"
    if kind == "label_pattern_mismatch":
        write_audio(folder / "no_digit_here.wav", tone(800))
        return "no_digit_here.wav"
    raise AssertionError(kind)


BAD_KINDS = [
    "corrupt_text",
    "unreadable_format",
    "empty_file",
    "zero_frames",
    "truncated_header",
    "truncated_wav_data",
    "truncated_flac",
    "nan",
    "inf",
    "sample_rate_0",
    "sample_rate_1hz",
    "label_pattern_mismatch",
]


@pytest.mark.parametrize("kind", BAD_KINDS)
def test_bad_file_raises_naming_it_or_is_skipped(kind, tmp_path, make_cfg, caplog):
    folder = tmp_path / "audio"
    write_audio(folder / "3_good.wav", tone(800))
    bad = _make_bad(kind, folder)
    kw = dict(label="pattern", label_pattern=r"^(?P<label>\d)_")
    with pytest.raises(AudioDataError, match=bad):
        build_dataset(make_cfg(folder, **kw), progress=False)
    caplog.set_level(logging.WARNING)
    ds = build_dataset(make_cfg(folder, skip_bad=True, **kw), progress=False)
    assert len(ds) == 1 and ds.sources[0].endswith("3_good.wav")
    assert [p.rsplit("/", 1)[-1] for p, _ in ds.skipped] == [bad]
    assert ds.label_names == ["3"] and ds.labels.tolist() == [0]
    assert "skipped 1 bad files" in caplog.text and bad in caplog.text


def test_missing_folder_and_folder_without_audio(tmp_path, make_cfg):
    with pytest.raises(AudioDataError, match="nowhere.*does not exist"):
        build_dataset(make_cfg(tmp_path / "nowhere"), progress=False)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "readme.txt").write_text("no audio")
    with pytest.raises(AudioDataError, match="no audio files under .*docs"):
        build_dataset(make_cfg(tmp_path / "docs"), progress=False)


def test_empty_path_without_env_is_explained(make_cfg, monkeypatch):
    monkeypatch.delenv("WAVEGEN_DATA", raising=False)
    with pytest.raises(AudioDataError, match="WAVEGEN_DATA"):
        build_dataset(make_cfg(""), progress=False)


def test_all_files_bad_with_skip_is_still_an_error(tmp_path, make_cfg):
    (tmp_path / "a.wav").write_text("junk")
    with pytest.raises(AudioDataError, match="skipped"):
        build_dataset(make_cfg(tmp_path, skip_bad=True), progress=False)


def test_resampling_keeps_a_440hz_sine_at_440hz(tmp_path, make_cfg):
    write_audio(tmp_path / "a.wav", tone(8000, 440.0, sr=8000), sr=8000, subtype="FLOAT")
    ds = build_dataset(make_cfg(tmp_path, sample_rate=16000, length=16384), progress=False)
    x = ds.waveforms[0]
    # 1 s at 8 kHz is 16000 samples at 16 kHz, zero-padded at the end to 16384.
    assert np.abs(x[16010:]).max() == 0 and np.abs(x[15900:16000]).max() > 0.3
    bin_hz = 16000 / 16384
    peak = np.argmax(np.abs(np.fft.rfft(x))) * bin_hz
    assert abs(peak - 440.0) <= bin_hz
    np.testing.assert_allclose(np.sqrt(np.mean(x[1000:15000] ** 2)), 0.5 / np.sqrt(2), rtol=0.01)


def test_stereo_is_mixed_down_to_the_channel_mean(tmp_path, make_cfg):
    left, right = tone(500, 300.0), tone(500, 1000.0, amp=0.3)
    write_audio(tmp_path / "s.wav", np.stack([left, right], axis=1), subtype="FLOAT")
    ds = build_dataset(make_cfg(tmp_path, length=500), progress=False)
    np.testing.assert_allclose(ds.waveforms[0], (left + right) / 2, atol=1e-7)


def _ramp_folder(tmp_path, n):
    """One FLOAT WAV whose sample i is i / 1e5, so a window's first value gives its offset."""
    write_audio(tmp_path / "r.wav", np.arange(n, dtype=np.float32) / 1e5, subtype="FLOAT")
    return tmp_path


def _offsets(windows):
    return [round(float(w[0]) * 1e5) for w in windows]


@pytest.mark.parametrize("pad,start", [("end", 0), ("center", 362)])
def test_short_clip_is_zero_padded(pad, start, tmp_path, make_cfg):
    ds = build_dataset(make_cfg(_ramp_folder(tmp_path, 300), pad=pad), progress=False)
    x = ds.waveforms[0]  # length 1024: (1024 - 300) // 2 = 362 zeros before a centred clip
    expected = np.zeros(1024, np.float32)
    expected[start : start + 300] = np.arange(300) / 1e5
    np.testing.assert_allclose(x, expected, atol=1e-9)


@pytest.mark.parametrize(
    "crop,slices,offsets", [("start", 1, [0]), ("center", 1, [488]), ("start", 3, [0, 488, 976])]
)
def test_long_clip_windows(crop, slices, offsets, tmp_path, make_cfg):
    folder = _ramp_folder(tmp_path, 2000)  # span for 1024-sample windows: 0..976
    ds = build_dataset(make_cfg(folder, crop=crop, slices_per_file=slices), progress=False)
    assert _offsets(ds.waveforms) == offsets and len(ds.sources) == slices
    for w, o in zip(ds.waveforms, offsets, strict=True):
        np.testing.assert_allclose(w, np.arange(o, o + 1024) / 1e5, atol=1e-9)


def test_random_crop_is_deterministic_per_seed(tmp_path, make_cfg):
    folder = _ramp_folder(tmp_path, 20000)
    get = lambda seed, cache: _offsets(  # noqa: E731
        build_dataset(
            make_cfg(folder, crop="random", slices_per_file=4, seed=seed, cache_dir=cache),
            progress=False,
        ).waveforms
    )
    a = get(0, str(tmp_path / "c1"))
    assert a == get(0, str(tmp_path / "c2"))  # rebuilt from scratch: same windows
    assert a != get(1, str(tmp_path / "c1"))
    assert all(0 <= o <= 20000 - 1024 for o in a) and len(set(a)) == 4


def test_peak_and_rms_normalisation_and_silence(tmp_path, make_cfg):
    write_audio(tmp_path / "loud.wav", tone(1024, amp=0.2), subtype="FLOAT")
    write_audio(tmp_path / "silent.wav", np.zeros(1024, np.float32), subtype="FLOAT")
    peak = build_dataset(make_cfg(tmp_path, normalize="peak"), progress=False)
    np.testing.assert_allclose(np.abs(peak.waveforms[0]).max(), 0.99, rtol=1e-5)
    assert not peak.waveforms[1].any()
    rms = build_dataset(make_cfg(tmp_path, normalize="rms"), progress=False)
    np.testing.assert_allclose(np.sqrt(np.mean(rms.waveforms[0] ** 2)), 0.1, rtol=1e-4)


def test_bad_config_values_are_named(tmp_path, make_cfg):
    write_audio(tmp_path / "a.wav", tone(100))
    for key, value in [
        ("pad", "left"),
        ("crop", "middle"),
        ("normalize", "loud"),
        ("label", "folder"),
        ("slices_per_file", 0),
        ("sample_rate", 0),
    ]:
        with pytest.raises(AudioDataError, match=f"data.{key}"):
            build_dataset(make_cfg(tmp_path, **{key: value}), progress=False)
    with pytest.raises(AudioDataError, match="label_pattern.*no named group 'label'"):
        build_dataset(make_cfg(tmp_path, label="pattern", label_pattern=r"\d"), progress=False)
