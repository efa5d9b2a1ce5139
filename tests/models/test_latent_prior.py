"""The latent prior network: shapes, causality, its sampler against teacher forcing, the NLL
against a numpy Gaussian log-density."""

import math

import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from wavegen.models.latent_prior import LatentPrior, causal_shift, gaussian_nll

B, L, D = 3, 12, 4


def prior(num_classes: int = 0) -> LatentPrior:
    return LatentPrior(
        D, channels=8, kernel_size=3, dilations=(1, 2), num_classes=num_classes, rngs=nnx.Rngs(0)
    )


def latents(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, 1, (B, L, D)).astype(np.float32)


def test_shapes_of_forward_and_sampling():
    model = prior()
    mean, log_scale = model(jnp.asarray(latents()))
    assert mean.shape == log_scale.shape == (B, L, D)
    eps = jnp.asarray(latents(1)[:, :7])  # any number of frames
    assert model.sample(eps).shape == (B, 7, D)
    labelled = prior(num_classes=5)
    mean, _ = labelled(jnp.asarray(latents()), jnp.array([0, 1, 4]))
    assert mean.shape == (B, L, D)
    with pytest.raises(ValueError, match="labels"):
        labelled(jnp.asarray(latents()))


def test_causal_shift_delays_frames():
    x = np.arange(2 * 5 * 1, dtype=np.float32).reshape(2, 5, 1)
    y = np.asarray(causal_shift(jnp.asarray(x), 2))
    np.testing.assert_array_equal(y[:, :2], 0)
    np.testing.assert_array_equal(y[:, 2:], x[:, :3])


@pytest.mark.parametrize("t", [0, 5, L - 1])
def test_changing_frame_t_changes_no_prediction_up_to_t(t):
    """Output t is p(z_t | z_<t): editing z_t leaves outputs 0..t alone and moves t+1."""
    model = prior()
    z = latents()
    edited = z.copy()
    edited[:, t] += 3.0
    (m0, s0), (m1, s1) = model(jnp.asarray(z)), model(jnp.asarray(edited))
    np.testing.assert_array_equal(np.asarray(m0)[:, : t + 1], np.asarray(m1)[:, : t + 1])
    np.testing.assert_array_equal(np.asarray(s0)[:, : t + 1], np.asarray(s1)[:, : t + 1])
    if t + 1 < L:
        assert not np.allclose(np.asarray(m0)[:, t + 1], np.asarray(m1)[:, t + 1])


@pytest.mark.parametrize("temperature", [1.0, 0.5])
def test_samples_are_mean_plus_scaled_noise_under_teacher_forcing(temperature):
    """Each sampled frame is mean_t + T·exp(log_scale_t)·eps_t of the teacher-forced outputs
    on the sampled sequence itself."""
    model = prior()
    eps = latents(2)
    z = np.asarray(model.sample(jnp.asarray(eps), temperature=temperature))
    mean, log_scale = (np.asarray(a) for a in model(jnp.asarray(z)))
    np.testing.assert_allclose(z, mean + temperature * np.exp(log_scale) * eps, atol=1e-5)
    assert not np.allclose(z, mean)  # the noise mattered


def test_zero_temperature_ignores_the_noise_and_labels_change_samples():
    model = prior(num_classes=3)
    labels = jnp.array([0, 1, 2])
    a = model.sample(jnp.asarray(latents(3)), labels, temperature=0.0)
    b = model.sample(jnp.asarray(latents(4)), labels, temperature=0.0)
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-6)
    c = model.sample(jnp.asarray(latents(3)), jnp.array([1, 1, 1]), temperature=0.0)
    assert not np.allclose(np.asarray(a)[0], np.asarray(c)[0])
    np.testing.assert_allclose(np.asarray(a)[1], np.asarray(c)[1], atol=1e-6)


def test_gaussian_nll_matches_numpy_log_density():
    rng = np.random.default_rng(0)
    mean = rng.normal(0, 1, (2, 5, 3))
    log_scale = rng.uniform(-2, 1, (2, 5, 3))
    z = rng.normal(0, 2, (2, 5, 3))
    sigma = np.exp(log_scale)
    # log N(z; μ, σ²) = -log(σ √(2π)) - (z - μ)² / (2σ²)
    reference = -(-np.log(sigma * math.sqrt(2 * math.pi)) - (z - mean) ** 2 / (2 * sigma**2))
    got = np.asarray(gaussian_nll(*(jnp.asarray(a, jnp.float32) for a in (mean, log_scale, z))))
    np.testing.assert_allclose(got, reference, rtol=1e-5, atol=1e-5)
    # Unit Gaussian at its mean: ½ log 2π nats.
    zero = jnp.zeros(())
    assert float(gaussian_nll(zero, zero, zero)) == pytest.approx(0.5 * math.log(2 * math.pi))


def test_residual_prior_predicts_changes_from_the_previous_frame():
    """residual=True: mean_t = z_{t-1} + the plain network's mean (same weights), and a zero
    network output holds the previous frame, so zero-temperature samples keep frame 0."""
    z = jnp.asarray(latents())
    plain = prior()
    res = LatentPrior(
        D, channels=8, kernel_size=3, dilations=(1, 2), residual=True, rngs=nnx.Rngs(0)
    )
    m0, s0 = plain(z)
    m1, s1 = res(z)
    np.testing.assert_allclose(np.asarray(m1), np.asarray(causal_shift(z, 1) + m0), atol=1e-6)
    np.testing.assert_array_equal(np.asarray(s1), np.asarray(s0))
    res.out.kernel[...] = jnp.zeros_like(res.out.kernel[...])
    bias = np.zeros(2 * D, np.float32)
    bias[:D] = 0.5  # frame 0's mean; every later frame adds 0.5 more
    res.out.bias[...] = jnp.asarray(bias)
    path = np.asarray(res.sample(jnp.zeros((B, L, D)), temperature=0.0))
    np.testing.assert_allclose(
        path[:, :, 0], np.broadcast_to(0.5 * np.arange(1, L + 1), (B, L)), atol=1e-5
    )
