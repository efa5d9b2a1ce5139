"""The log-spectrogram critic: its STFT against numpy's, shapes, conditioning."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from wavegen.models.spectral_critic import POWER_FLOOR, SpectralCritic, log_power_spectrogram


def numpy_log_power(x: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)  # periodic Hann
    frames = 1 + (x.shape[1] - n_fft) // hop
    fr = np.stack([x[:, i * hop : i * hop + n_fft] * window for i in range(frames)], axis=1)
    return np.log(np.abs(np.fft.rfft(fr, axis=-1)) ** 2 + POWER_FLOOR)


@pytest.mark.parametrize(
    "length, n_fft, hop", [(4096, 1024, 256), (1000, 256, 64), (1000, 200, 60)]
)
def test_log_power_spectrogram_matches_numpy_rfft(length, n_fft, hop):
    # (1000, 256, 64): T not a multiple of the hop; (1000, 200, 60): hop does not divide n_fft.
    x = np.random.default_rng(0).normal(0, 0.3, (3, length)).astype(np.float32)
    got = np.asarray(log_power_spectrogram(jnp.asarray(x), n_fft, hop))
    want = numpy_log_power(x.astype(np.float64), n_fft, hop)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, atol=2e-3)


def test_a_tone_peaks_in_its_bin():
    sr, n_fft, f0 = 16000, 1024, 437.5  # bin 28 exactly: 28 * 16000 / 1024
    x = np.sin(2 * np.pi * f0 * np.arange(4096) / sr)[None].astype(np.float32)
    spec = np.asarray(log_power_spectrogram(jnp.asarray(x), n_fft, 256))
    assert (spec.argmax(axis=-1) == 28).all()


def test_critic_shapes_and_projection_conditioning():
    x = jnp.asarray(np.random.default_rng(1).normal(0, 0.3, (4, 4096)), jnp.float32)
    plain = SpectralCritic(4096, rngs=nnx.Rngs(0))
    assert plain(x).shape == (4,)
    cond = SpectralCritic(4096, minibatch_std=2, num_classes=3, rngs=nnx.Rngs(0))
    a = cond(x, jnp.array([0, 1, 2, 0]))
    b = cond(x, jnp.array([1, 1, 2, 0]))
    assert a.shape == (4,)
    # The label only moves its own example's logit (projection head), the rest are identical.
    assert a[0] != b[0]
    np.testing.assert_array_equal(a[1:], b[1:])


def test_critic_gradient_through_r1_is_finite_on_silence():
    critic = SpectralCritic(4096, rngs=nnx.Rngs(0))
    grads = jax.grad(lambda v: jnp.sum(critic(v)))(jnp.zeros((2, 4096)))
    assert np.isfinite(np.asarray(grads)).all()


def test_short_clips_are_refused():
    with pytest.raises(ValueError, match="n_fft"):
        SpectralCritic(512, n_fft=1024, rngs=nnx.Rngs(0))
