"""TensorBoard events written without TF are read back by tensorboard's own EventAccumulator."""

import io
import struct
import wave
import zlib

import librosa
import numpy as np
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from wavegen.train.summaries import SummaryWriter, encode_png, encode_wav, spectrogram_image


def _decode_png_grey_or_rgb(data: bytes) -> np.ndarray:
    """Independent minimal PNG reader for filter-type-0 images (what the encoder writes)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat = 8, b""
    w = h = ct = 0
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos : pos + 4])
        tag, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + n]
        crc = struct.unpack(">I", data[pos + 8 + n : pos + 12 + n])[0]
        assert crc == zlib.crc32(tag + body) & 0xFFFFFFFF
        if tag == b"IHDR":
            w, h, _, ct = struct.unpack(">IIBB", body[:10])
        elif tag == b"IDAT":
            idat += body
        pos += 12 + n
    c = {0: 1, 2: 3}[ct]
    raw = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(h, 1 + w * c)
    assert (raw[:, 0] == 0).all()
    return raw[:, 1:].reshape(h, w, c)


def test_png_round_trip():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (7, 5, 3), dtype=np.uint8)
    np.testing.assert_array_equal(_decode_png_grey_or_rgb(encode_png(img)), img)
    grey = rng.integers(0, 256, (4, 9), dtype=np.uint8)
    np.testing.assert_array_equal(_decode_png_grey_or_rgb(encode_png(grey))[..., 0], grey)


def test_wav_encoding_is_16_bit_pcm_at_rate():
    x = np.sin(np.linspace(0, 20, 800)).astype(np.float32)
    with wave.open(io.BytesIO(encode_wav(x, 8000))) as w:
        assert (w.getframerate(), w.getsampwidth(), w.getnchannels(), w.getnframes()) == (
            8000,
            2,
            1,
            800,
        )
        pcm = np.frombuffer(w.readframes(800), "<i2")
    np.testing.assert_allclose(pcm / 32767.0, x, atol=1 / 32767)


def _expected_row(f: float, sr: int, n_mels: int = 128) -> int:
    """Image row of a tone at f Hz, from librosa's HTK mel scale: rows are equally spaced in mel
    from 0 to Nyquist (n_mels + 2 points, the ends excluded), the top row is the highest band."""
    centres = np.linspace(0.0, librosa.hz_to_mel(sr / 2, htk=True), n_mels + 2)[1:-1]
    band = int(np.argmin(np.abs(centres - librosa.hz_to_mel(f, htk=True))))
    return n_mels - 1 - band


def _peak_row(img: np.ndarray) -> float:
    """Brightest row (the colormap is monotone in level), averaged over frames."""
    return int(np.argmax(img.astype(float).sum(axis=(1, 2))))


@pytest.mark.parametrize("sr, f", [(16000, 2000.0), (16000, 300.0), (8000, 440.0), (8000, 3000.0)])
def test_spectrogram_image_puts_a_tone_in_its_mel_row(sr, f):
    t = np.arange(16384) / sr
    img = spectrogram_image(np.sin(2 * np.pi * f * t), sr)
    assert img.shape == (128, 1 + (16384 - 512) // 128, 3) and img.dtype == np.uint8
    assert abs(_peak_row(img) - _expected_row(f, sr)) <= 1


def test_octaves_are_a_constant_mel_distance_apart_not_a_linear_one():
    sr = 16000
    t = np.arange(16384) / sr
    rows = [_peak_row(spectrogram_image(np.sin(2 * np.pi * f * t), sr)) for f in (500, 1000, 2000)]
    step = librosa.hz_to_mel(sr / 2, htk=True) / 129  # mel per row
    for lo, hi, (f_lo, f_hi) in ((rows[0], rows[1], (500, 1000)), (rows[1], rows[2], (1000, 2000))):
        mel_gap = librosa.hz_to_mel(f_hi, htk=True) - librosa.hz_to_mel(f_lo, htk=True)
        assert abs((lo - hi) - mel_gap / step) <= 1.5  # higher tone, smaller row index
    # On a mel axis the octave 500 → 1000 Hz spans more rows than half of 1000 → 2000 Hz's
    # (a linear axis would give exactly half).
    assert rows[0] - rows[1] > 0.6 * (rows[1] - rows[2])


def test_spectrogram_image_has_no_empty_rows_for_white_noise():
    """The narrow low mel bands still see an FFT bin (else they would be black stripes)."""
    noise = np.random.default_rng(0).standard_normal(16384)
    for sr in (8000, 16000):
        img = spectrogram_image(noise, sr).astype(float).sum(axis=(1, 2))
        assert img.min() > 0.5 * img.max()


def test_event_accumulator_reads_scalars_audio_images(tmp_path):
    writer = SummaryWriter(tmp_path)
    writer.scalars(3, {"d/loss": 1.5, "g/loss": -0.5})
    clips = np.random.default_rng(0).uniform(-1, 1, (2, 1600)).astype(np.float32)
    writer.audio_with_spectrograms(3, "samples", clips, 16000)
    writer.close()
    acc = EventAccumulator(str(tmp_path), size_guidance={"audio": 0, "images": 0, "scalars": 0})
    acc.Reload()
    tags = acc.Tags()
    assert {"d/loss", "g/loss"} <= set(tags["scalars"])
    assert acc.Scalars("d/loss")[0].value == 1.5 and acc.Scalars("d/loss")[0].step == 3
    assert {"samples/0", "samples/1"} <= set(tags["audio"])
    a = acc.Audio("samples/1")[0]
    assert a.sample_rate == 16000 and a.length_frames == 1600 and a.content_type == "audio/wav"
    assert {"samples_spectrogram/0", "samples_spectrogram/1"} <= set(tags["images"])


def test_disabled_writer_writes_nothing(tmp_path):
    w = SummaryWriter(tmp_path / "x", enabled=False)
    w.scalars(0, {"a": 1.0})
    w.close()
    assert not (tmp_path / "x").exists()
