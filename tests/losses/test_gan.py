"""GAN losses against hand-computed values and WGAN-GP against analytic gradients."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from wavegen.losses.gan import (
    LOSSES,
    discriminator_loss,
    feature_matching_loss,
    generator_loss,
    gradient_penalty,
)

D_REAL = jnp.array([1.0, -0.5, 2.0])
D_FAKE = jnp.array([0.5, -1.5, 0.0])


def softplus_np(x):
    return np.log1p(np.exp(np.asarray(x, np.float64)))


@pytest.mark.parametrize(
    ("name", "d_expected", "g_expected"),
    [
        # mean(fake) - mean(real) = -1/3 - 5/6; G = -mean(fake) = 1/3.
        ("wgan-gp", -7.0 / 6.0, 1.0 / 3.0),
        # relu(1 - real) = [0, 1.5, 0] -> 0.5; relu(1 + fake) = [1.5, 0, 1] -> 5/6.
        ("hinge", 0.5 + 5.0 / 6.0, 1.0 / 3.0),
        (
            "dcgan",
            softplus_np(-np.array([1.0, -0.5, 2.0])).mean()
            + softplus_np(np.array([0.5, -1.5, 0.0])).mean(),
            softplus_np(-np.array([0.5, -1.5, 0.0])).mean(),
        ),
        # 0.5 mean([0, 2.25, 1]) + 0.5 mean([0.25, 2.25, 0]) = 13/24 + 10/24;
        # G: 0.5 mean([0.25, 6.25, 1]) = 1.25.
        ("lsgan", 23.0 / 24.0, 1.25),
    ],
)
def test_losses_match_hand_computed_values(name, d_expected, g_expected):
    np.testing.assert_allclose(discriminator_loss(name, D_REAL, D_FAKE), d_expected, rtol=1e-6)
    np.testing.assert_allclose(generator_loss(name, D_FAKE), g_expected, rtol=1e-6)


def test_dcgan_at_zero_logits_is_log_two():
    zeros = jnp.zeros(4)
    np.testing.assert_allclose(discriminator_loss("dcgan", zeros, zeros), 2 * np.log(2), rtol=1e-6)
    np.testing.assert_allclose(generator_loss("dcgan", zeros), np.log(2), rtol=1e-6)


def test_dcgan_is_stable_for_large_logits():
    big = jnp.array([200.0, -200.0])
    assert np.isfinite(discriminator_loss("dcgan", big, -big))
    np.testing.assert_allclose(generator_loss("dcgan", jnp.array([-200.0])), 200.0, rtol=1e-6)


@pytest.mark.parametrize("name", LOSSES)
def test_losses_jit_and_accept_bfloat16(name):
    d_loss = jax.jit(functools.partial(discriminator_loss, name))
    expected = discriminator_loss(name, D_REAL, D_FAKE)
    got = d_loss(D_REAL.astype(jnp.bfloat16), D_FAKE.astype(jnp.bfloat16))
    assert got.dtype == jnp.float32
    # All test logits are exactly representable in bfloat16.
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_unknown_name_lists_valid_names():
    with pytest.raises(ValueError, match="wgan-gp, hinge, dcgan, lsgan"):
        discriminator_loss("wgan", D_REAL, D_FAKE)
    with pytest.raises(ValueError, match="got 'vanilla'"):
        generator_loss("vanilla", D_FAKE)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gradient_penalty_of_linear_critic_is_norm_minus_one_squared(seed):
    rng = np.random.default_rng(seed)
    w = rng.normal(size=(2, 3)).astype(np.float32)
    real = rng.normal(size=(5, 2, 3)).astype(np.float32)
    fake = rng.normal(size=(5, 2, 3)).astype(np.float32)

    def critic(x):
        return jnp.sum(x * w, axis=(1, 2))

    gp = gradient_penalty(critic, jnp.asarray(real), jnp.asarray(fake), jax.random.key(seed))
    expected = (np.linalg.norm(w.astype(np.float64)) - 1.0) ** 2
    np.testing.assert_allclose(gp, expected, rtol=1e-5)


def test_gradient_penalty_of_quadratic_critic_matches_analytic_gradient():
    # real == fake makes the interpolate independent of alpha: x_hat = real.
    rng = np.random.default_rng(3)
    a = rng.normal(size=(6, 6))
    q = (a + a.T) / 2
    b = rng.normal(size=6)
    x = rng.normal(size=(4, 6))

    def critic(v):
        return 0.5 * jnp.einsum("bi,ij,bj->b", v, q, v) + v @ b

    gp = gradient_penalty(critic, jnp.asarray(x), jnp.asarray(x), jax.random.key(0))
    grad = x @ q + b  # d/dx (x^T Q x / 2 + b^T x) = Q x + b for symmetric Q
    expected = np.mean((np.linalg.norm(grad, axis=1) - 1.0) ** 2)
    np.testing.assert_allclose(gp, expected, rtol=1e-5)


def test_gradient_penalty_draws_one_uniform_alpha_per_example():
    # critic(x) = 0.5 ||x||^2 with real = 0, fake = c: the gradient at x_hat is alpha c, so the
    # penalty is mean_i (alpha_i ||c|| - 1)^2. With ||c|| = 2 and alpha ~ U(0, 1) per example,
    # E[(2 alpha - 1)^2] = 1/3 (std of the batch mean ~0.002 for B = 20000). A per-element
    # alpha would give ~0.09 instead.
    batch, dim = 20000, 4
    real = jnp.zeros((batch, dim))
    fake = jnp.ones((batch, dim))  # ||c|| = 2

    def critic(v):
        return 0.5 * jnp.sum(v**2, axis=1)

    gp = gradient_penalty(critic, real, fake, jax.random.key(7))
    assert abs(float(gp) - 1.0 / 3.0) < 0.01


def test_gradient_penalty_gradient_is_finite_at_zero_gradient_norm():
    real = jnp.ones((3, 5))

    def penalty(w):
        return gradient_penalty(lambda x: x @ w, real, -real, jax.random.key(0))

    w0 = jnp.zeros(5)
    np.testing.assert_allclose(penalty(w0), 1.0)
    assert np.all(np.isfinite(jax.grad(penalty)(w0)))
    # Away from zero the gradient w.r.t. w is 2 (||w|| - 1) w / ||w||.
    w1 = jnp.array([3.0, 0.0, 4.0, 0.0, 0.0])
    np.testing.assert_allclose(jax.grad(penalty)(w1), 2 * 4 * np.asarray(w1) / 5, rtol=1e-5)


def test_gradient_penalty_rejects_bad_shapes():
    with pytest.raises(ValueError, match="same shape"):
        gradient_penalty(lambda x: x.sum(1), jnp.ones((2, 3)), jnp.ones((2, 4)), jax.random.key(0))
    with pytest.raises(ValueError, match=r"to \[B\] scores"):
        gradient_penalty(lambda x: x, jnp.ones((2, 3)), jnp.ones((2, 3)), jax.random.key(0))


def test_feature_matching_loss_hand_computed():
    real = [jnp.array([[1.0, 2.0], [3.0, 4.0]]), jnp.array([0.5])]
    fake = [jnp.array([[1.0, 0.0], [3.0, 8.0]]), jnp.array([-0.5])]
    # map 0: mean([0, 2, 0, 4]) = 1.5; map 1: 1.0; average 1.25.
    np.testing.assert_allclose(feature_matching_loss(real, fake), 1.25, rtol=1e-6)


def test_feature_matching_loss_rejects_mismatch():
    with pytest.raises(ValueError, match="empty"):
        feature_matching_loss([], [])
    with pytest.raises(ValueError, match="2 maps"):
        feature_matching_loss([jnp.ones(2), jnp.ones(2)], [jnp.ones(2)])
    with pytest.raises(ValueError, match="feature map 0"):
        feature_matching_loss([jnp.ones(2)], [jnp.ones(3)])
