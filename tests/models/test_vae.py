"""Waveform VAE model and its loss pieces: shapes, dilated conv, KL, β schedule, loss sum,
latent fidelity, config errors."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from wavegen.config import load_config
from wavegen.models.vae import (
    VAEConfigError,
    build_vae,
    dilated_conv1d,
    kl_per_channel,
    reparameterize,
    snake,
)
from wavegen.train.vae import (
    VAEConfigKeyError,
    VAETask,
    kl_beta,
    latent_fidelity,
    weighted_total,
)
from wavegen.train.vae import (
    vae_config as vae_schema,
)

TINY = "experiments/vae_notes.py:tiny"


def vae_config(**model):
    cfg = vae_schema()
    cfg.data.length = 2048
    cfg.model.update(dict(latent_dim=3, capacity=4, max_channels=8, dilations=(1, 3)) | model)
    return cfg


@pytest.mark.parametrize(
    "bands,ratios,upsample", [(4, (2, 4), "transpose"), (0, (4, 4, 2), "nearest")]
)
def test_encoder_decoder_shapes(bands, ratios, upsample):
    cfg = vae_config(pqmf_bands=bands, ratios=ratios, upsample=upsample)
    enc, dec, split, s = build_vae(cfg, rngs=nnx.Rngs(0))
    m = max(bands, 1)
    assert s.compression == m * math.prod(ratios)
    x = jnp.asarray(np.random.default_rng(0).uniform(-1, 1, (2, 2048)), jnp.float32)

    @nnx.jit  # one compile instead of one per eager op
    def run(enc, dec, x):
        bands_x = split.to_bands(x)
        mean, logvar = enc(bands_x)
        return bands_x, mean, logvar, split.to_waveform(dec(mean)[0])

    bands_x, mean, logvar, y = run(enc, dec, x)
    assert bands_x.shape == (2, 2048 // m, m)
    assert mean.shape == logvar.shape == (2, 2048 // s.compression, 3)
    assert y.shape == x.shape
    assert np.all(np.isfinite(np.asarray(y)))


def test_dilated_conv_matches_lax():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 50, 3)).astype(np.float32)
    w = rng.standard_normal((3, 3, 5)).astype(np.float32)
    for d in (1, 3, 9):
        want = jax.lax.conv_general_dilated(
            x, w, (1,), [(d, d)], rhs_dilation=(d,), dimension_numbers=("NWC", "WIO", "NWC")
        )
        got = dilated_conv1d(jnp.asarray(x), jnp.asarray(w), None, d)
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-5, atol=1e-5)


def test_kl_per_channel_matches_closed_form():
    rng = np.random.default_rng(0)
    mean = rng.standard_normal((2, 3, 4))
    std = rng.uniform(0.1, 2.0, (2, 3, 4))
    # KL(N(m, s^2) || N(0, 1)) = log(1/s) + (s^2 + m^2)/2 - 1/2, averaged over batch and frames.
    want = np.mean(-np.log(std) + (std**2 + mean**2) / 2 - 0.5, axis=(0, 1))
    got = kl_per_channel(jnp.asarray(mean, jnp.float32), jnp.asarray(2 * np.log(std), jnp.float32))
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-5)
    zero = kl_per_channel(jnp.zeros((1, 2, 3)), jnp.zeros((1, 2, 3)))
    np.testing.assert_array_equal(np.asarray(zero), 0.0)


def test_reparameterize_has_the_posterior_moments():
    mean = jnp.full((4000, 1, 2), 0.5)
    logvar = jnp.log(jnp.full((4000, 1, 2), 0.25))
    z = np.asarray(reparameterize(mean, logvar, jax.random.key(0)))
    assert abs(z.mean() - 0.5) < 0.02 and abs(z.std() - 0.5) < 0.02


def test_kl_beta_is_log_linear_warmup():
    start, end, warmup = 1e-4, 0.1, 10
    for step in (0, 3, 5, 10, 20):
        t = min(step / warmup, 1.0)
        want = start ** (1 - t) * end**t  # geometric interpolation
        assert float(kl_beta(jnp.asarray(step), start, end, warmup)) == pytest.approx(want, 1e-5)
    assert float(kl_beta(jnp.asarray(0), start, end, 0)) == pytest.approx(end)
    assert float(kl_beta(jnp.asarray(3), start, 0.0, warmup)) == 0.0


def test_weighted_total_uses_beta_for_kl_and_ignores_unweighted_terms():
    terms = {"recon/stft": jnp.asarray(2.0), "recon/mel": jnp.asarray(5.0), "kl": jnp.asarray(3.0)}
    weights = {"recon/stft": 1.5, "kl": 100.0}  # the kl weight is replaced by beta
    total = weighted_total(terms, weights, jnp.asarray(0.01))
    assert float(total) == pytest.approx(1.5 * 2.0 + 0.01 * 3.0)


def test_vae_loss_is_zero_for_a_perfect_reconstruction_and_prior_posterior():
    """recon/stft and recon/mel vanish for y == x and KL vanishes for N(0, I) posteriors, so
    the combined loss is exactly 0 with finite gradients."""
    task = VAETask(load_config(TINY))
    x = jnp.asarray(np.random.default_rng(0).uniform(-0.5, 0.5, (2, 2048)), jnp.float32)
    zeros = jnp.zeros((2, 4, 4))

    def loss(y):
        terms = task.reconstruction_terms(y, x)
        terms["kl"] = jnp.sum(kl_per_channel(zeros, zeros))
        return weighted_total(terms, task.weights, jnp.asarray(0.1)), terms

    (total, terms), grad = jax.jit(jax.value_and_grad(loss, has_aux=True))(x)
    assert float(total) == 0.0
    assert all(float(v) == 0.0 for v in terms.values())
    assert np.all(np.isfinite(np.asarray(grad)))
    total_off, _ = jax.jit(loss)(0.5 * x)
    assert float(total_off) > 0.1


def test_latent_fidelity_counts_principal_components():
    rng = np.random.default_rng(0)
    # Variances 100, 10, 1, 0.01 along random orthogonal axes of an 8-dim space.
    basis = np.linalg.qr(rng.standard_normal((8, 8)))[0][:4]
    scales = np.sqrt([100.0, 10.0, 1.0, 0.01])
    z = (rng.standard_normal((20000, 4)) * scales) @ basis
    # Fractions: 100/111.01 = 0.90082, 110/111.01 = 0.99090, 111/111.01 = 0.99991.
    assert latent_fidelity(z) == {0.8: 1, 0.9: 1, 0.95: 2, 0.99: 2}
    assert latent_fidelity(np.zeros((5, 3))) == {0.8: 0, 0.9: 0, 0.95: 0, 0.99: 0}


def test_snake_is_x_plus_sin_squared_over_alpha_and_its_vae_builds():
    x = np.linspace(-3, 3, 13, dtype=np.float32).reshape(1, 13, 1) * np.ones((1, 1, 2), np.float32)
    alpha = np.array([1.0, 2.5], np.float32)
    ref = x + np.sin(alpha * x) ** 2 / alpha
    np.testing.assert_allclose(
        np.asarray(snake(jnp.asarray(x), jnp.asarray(alpha))), ref, atol=1e-6
    )
    enc, dec, split, s = build_vae(vae_config(activation="snake"), rngs=nnx.Rngs(0))
    mean, _ = enc(split.to_bands(jnp.zeros((1, 2048))))
    bands, controls = dec(mean)
    assert bands.shape == (1, 2048 // s.bands, s.bands) and controls is None
    # one learned frequency per channel of every activation
    alphas = [p for path, p in nnx.to_flat_state(nnx.state(dec, nnx.Param)) if path[-1] == "alpha"]
    assert alphas and all(np.all(np.asarray(a[...]) == 1.0) for a in alphas)


def test_bad_config_raises_naming_the_key():
    with pytest.raises(VAEConfigError, match="data.length"):
        build_vae(vae_config(pqmf_bands=16, ratios=(4, 4, 4, 4)), rngs=nnx.Rngs(0))
    with pytest.raises(VAEConfigError, match="model.ratios"):
        build_vae(vae_config(ratios=(2, 0)), rngs=nnx.Rngs(0))
    with pytest.raises(VAEConfigError, match="model.upsample"):
        build_vae(vae_config(upsample="linear"), rngs=nnx.Rngs(0))
    with pytest.raises(VAEConfigError, match="model.activation"):
        build_vae(vae_config(activation="gelu"), rngs=nnx.Rngs(0))
    with pytest.raises(VAEConfigError, match="model.latent_dim"):
        build_vae(vae_config(harmonics=8, latent_dim=1), rngs=nnx.Rngs(0))
    with pytest.raises(VAEConfigError, match="model.f0_range"):
        build_vae(vae_config(harmonics=8, f0_range=(40.0, 9000.0)), rngs=nnx.Rngs(0))
    with pytest.raises(VAEConfigKeyError, match="loss.weights"):
        VAETask(load_config(TINY, ["loss.weights.kl=-1.0"]))
    cfg = load_config(TINY)
    with cfg.unlocked():
        cfg.loss.weights["recon/l1"] = 1.0
    with pytest.raises(VAEConfigKeyError, match="recon/l1"):
        VAETask(cfg)
    with pytest.raises(VAEConfigKeyError, match="loss.name"):
        VAETask(load_config(TINY, ["loss.name=wgan-gp"]))
