"""The package's STFT (wavegen.audio.stft) against explicit numpy loops and librosa."""

import jax.numpy as jnp
import librosa
import numpy as np
import pytest

from wavegen.audio.stft import MAG_FLOOR, complex_stft, frame, stft_magnitude, stft_magnitude_np


def np_stft_mag(x, n_fft, hop):
    """Centred (reflect-padded) periodic-Hann magnitude STFT with an explicit frame loop."""
    pad = n_fft // 2
    xp = np.pad(x, [(0, 0), (pad, pad)], mode="reflect")
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)
    num_frames = 1 + (xp.shape[1] - n_fft) // hop
    frames = np.stack([xp[:, t * hop : t * hop + n_fft] for t in range(num_frames)], axis=1)
    return np.maximum(np.abs(np.fft.rfft(frames * window, axis=-1)), MAG_FLOOR)


@pytest.mark.parametrize(("frame_length", "hop"), [(8, 2), (8, 3), (5, 5)])
def test_frame_matches_loop(frame_length, hop):
    x = np.arange(2 * 23, dtype=np.float32).reshape(2, 23)
    got = np.asarray(frame(jnp.asarray(x), frame_length, hop))
    count = 1 + (23 - frame_length) // hop
    expected = np.stack([x[:, i * hop : i * hop + frame_length] for i in range(count)], axis=1)
    np.testing.assert_array_equal(got, expected)


def test_stft_magnitude_matches_librosa(signals):
    _, y = signals
    got = np.asarray(stft_magnitude(jnp.asarray(y), 256, 64))
    ref = np.abs(librosa.stft(y, n_fft=256, hop_length=64, window="hann", pad_mode="reflect"))
    np.testing.assert_allclose(got, np.maximum(ref, MAG_FLOOR).transpose(0, 2, 1), atol=2e-5)


def test_stft_magnitude_uncentred_frame_count():
    mag = stft_magnitude(jnp.ones((3, 1000)), 256, 64, center=False)
    assert mag.shape == (3, 1 + (1000 - 256) // 64, 129)


@pytest.mark.parametrize(("n_fft", "hop"), [(256, 64), (128, 40), (64, 16)])
def test_numpy_twin_matches_the_loop_and_the_jax_stft(signals, n_fft, hop):
    x, _ = signals
    want = np_stft_mag(x.astype(np.float64), n_fft, hop)
    got = stft_magnitude_np(x, n_fft, hop)
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(
        np.asarray(stft_magnitude(jnp.asarray(x), n_fft, hop)), want, atol=2e-5
    )


def test_numpy_twin_refuses_a_signal_too_short_for_its_padding():
    with pytest.raises(ValueError, match="n_fft // 2 = 128"):
        stft_magnitude_np(np.zeros((1, 128)), 256)


def test_complex_stft_matches_librosa():
    x = np.random.default_rng(0).standard_normal(1000).astype(np.float32)
    got = np.asarray(complex_stft(jnp.asarray(x[None]), 256, 64))[0]
    ref = librosa.stft(x, n_fft=256, hop_length=64, window="hann", pad_mode="reflect").T
    np.testing.assert_allclose(got[..., 0] + 1j * got[..., 1], ref, atol=2e-4)
