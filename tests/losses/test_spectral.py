"""Spectral losses against an independent numpy STFT (numpy framing + np.fft.rfft) and librosa."""

import jax
import jax.numpy as jnp
import librosa
import numpy as np
import pytest

from tests.audio.test_stft import np_stft_mag
from wavegen.audio.stft import mel_filterbank, stft_magnitude
from wavegen.losses.spectral import log_mel_l1, multi_resolution_stft_loss, stft_loss


def np_stft_loss(x, y, n_fft, hop, eps=1e-5):
    mx, my = np_stft_mag(x, n_fft, hop), np_stft_mag(y, n_fft, hop)
    sc = np.linalg.norm(my - mx) / np.linalg.norm(my)
    return sc, np.mean(np.abs(np.log(my + eps) - np.log(mx + eps)))


@pytest.mark.parametrize(("n_fft", "hop"), [(256, 64), (128, 32), (100, 30)])
def test_stft_loss_matches_numpy(signals, n_fft, hop):
    x, y = signals
    sc, log_mag = stft_loss(jnp.asarray(x), jnp.asarray(y), n_fft, hop)
    sc_ref, log_ref = np_stft_loss(x.astype(np.float64), y.astype(np.float64), n_fft, hop)
    np.testing.assert_allclose(sc, sc_ref, rtol=1e-4)
    np.testing.assert_allclose(log_mag, log_ref, rtol=1e-4)


def test_multi_resolution_loss_matches_numpy_and_is_zero_on_identical(signals):
    x, y = signals
    sizes = (512, 256, 128, 64)
    got = multi_resolution_stft_loss(jnp.asarray(x), jnp.asarray(y), sizes)
    expected = np.mean([sum(np_stft_loss(x, y, n, n // 4)) for n in sizes])
    np.testing.assert_allclose(got, expected, rtol=1e-4)
    assert float(multi_resolution_stft_loss(jnp.asarray(y), jnp.asarray(y), sizes)) == 0.0


def test_multi_resolution_loss_gradient_is_finite_even_on_silence(signals):
    x, y = signals
    loss = jax.jit(lambda p, t: multi_resolution_stft_loss(p, t, (256, 64)))
    grad = jax.grad(loss)(jnp.asarray(x), jnp.asarray(y))
    assert np.all(np.isfinite(grad)) and float(jnp.abs(grad).max()) > 0
    silent = jnp.zeros_like(jnp.asarray(y))
    assert np.all(np.isfinite(jax.grad(loss)(silent, silent)))
    assert np.all(np.isfinite(jax.grad(loss)(silent, jnp.asarray(y))))


def test_log_mel_l1_matches_librosa(signals):
    x, y = signals
    basis = mel_filterbank(8000, n_fft=256, n_mels=32)
    assert basis.shape == (32, 129)
    got = log_mel_l1(jnp.asarray(x), jnp.asarray(y), basis, 64)

    def np_log_mel(w):
        mel = librosa.feature.melspectrogram(
            y=w, sr=8000, n_fft=256, hop_length=64, n_mels=32, power=1.0, pad_mode="reflect"
        )
        return np.log(mel + 1e-5)

    expected = np.mean(np.abs(np_log_mel(x) - np_log_mel(y)))
    np.testing.assert_allclose(got, expected, rtol=1e-3)
    assert float(log_mel_l1(jnp.asarray(y), jnp.asarray(y), basis)) == 0.0


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="same shape"):
        multi_resolution_stft_loss(jnp.ones((2, 500)), jnp.ones((2, 400)), (64,))
    with pytest.raises(ValueError, match="n_fft // 2 = 256"):
        stft_magnitude(jnp.ones((1, 200)), 512)
    with pytest.raises(ValueError, match="fft_sizes is empty"):
        multi_resolution_stft_loss(jnp.ones(500), jnp.ones(500), ())
