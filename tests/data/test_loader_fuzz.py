"""Fuzzing the audio loader (tools/fuzz_loader.py, 300 generated files here; 10,000 in
docs/reliability.md): every adversarial file decodes cleanly or raises an AudioDataError naming
it, within a time and memory bound, and a folder of them builds with exactly those files skipped."""

import importlib.util
import io
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from wavegen.data import AudioDataError, audio_io

REPO = Path(__file__).resolve().parents[2]


def load_fuzzer():
    spec = importlib.util.spec_from_file_location("fuzz_loader", REPO / "tools" / "fuzz_loader.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_300_adversarial_files_decode_or_fail_clearly(tmp_path):
    fuzz = load_fuzzer()
    report = fuzz.run(300, rng_seed=1, time_limit=20.0, max_rss_mb=300.0, folder_every=5,
                      folder_size=20, keep=tmp_path / "failures", work=tmp_path)  # fmt: skip
    assert report["tried"] == 300
    assert report["decoded"] + report["clear_error_naming_file"] == 300
    assert report["decoded"] > 0 and report["clear_error_naming_file"] > 0
    assert report["folder_builds"]["folders"] >= 2


@pytest.mark.parametrize("channels", [1, 8])
def test_flac_declaring_2_to_the_36_frames_is_an_error_not_a_huge_allocation(tmp_path, channels):
    """Found by the fuzzer: a FLAC STREAMINFO may declare 2^36 frames; reading the file in one
    call allocated (frames x channels) floats up front (a 2 TiB MemoryError)."""
    fuzz = load_fuzzer()
    buf = io.BytesIO()
    sf.write(buf, np.zeros((3000, channels)), 16000, format="FLAC", subtype="PCM_16")
    data = bytearray(buf.getvalue())
    data[18:26] = fuzz._flac_streaminfo(16000, channels, 16, 2**36 - 1)
    path = tmp_path / "huge.flac"
    path.write_bytes(bytes(data))
    before = fuzz.peak_rss_mb()
    with pytest.raises(AudioDataError, match="huge.flac"):
        audio_io.decode(path, 8000)
    assert fuzz.peak_rss_mb() - before < 100


def test_long_file_is_read_in_blocks_and_capped(tmp_path, monkeypatch):
    x = np.random.default_rng(0).uniform(-0.5, 0.5, (5000, 2)).astype(np.float32)
    sf.write(tmp_path / "a.wav", x, 8000, subtype="FLOAT")
    monkeypatch.setattr(audio_io, "BLOCK_FRAMES", 1024)  # several blocks, one partial
    y, sr = audio_io.read_mono(tmp_path / "a.wav")
    assert sr == 8000
    np.testing.assert_allclose(y, x.mean(axis=1), atol=1e-7)
    monkeypatch.setattr(audio_io, "MAX_FRAMES", 4096)
    with pytest.raises(AudioDataError, match="a.wav: longer than 4096 frames"):
        audio_io.read_mono(tmp_path / "a.wav")
    monkeypatch.setattr(audio_io, "MAX_FRAMES", 6000)  # upsampling 8 kHz → 16 kHz: 10000 frames
    with pytest.raises(AudioDataError, match="a.wav: 5000 frames at 8000 Hz would be more"):
        audio_io.decode(tmp_path / "a.wav", 16000)
