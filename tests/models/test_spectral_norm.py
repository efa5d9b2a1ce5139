"""Spectral normalisation (wavegen.models.spectral_norm) against numpy's SVD."""

import jax
import jax.numpy as jnp
import numpy as np

from wavegen.models import spectral_norm as sn


def _kernel_params(seed=0):
    rng = np.random.default_rng(seed)
    return {
        "conv": {
            "kernel": jnp.asarray(rng.normal(size=(25, 8, 16)), jnp.float32),
            "bias": jnp.asarray(rng.normal(size=(16,)), jnp.float32),
        },
        "head": {"kernel": jnp.asarray(rng.normal(size=(64, 1)), jnp.float32)},
    }


def _sigma_max(w) -> float:
    w = np.asarray(w, np.float64)
    return float(np.linalg.svd(w.reshape(-1, w.shape[-1]), compute_uv=False)[0])


def test_power_iteration_on_a_fixed_weight_normalises_its_largest_singular_value_to_one():
    params = _kernel_params()
    u = sn.init_vectors(params, jax.random.key(0))
    assert jax.tree.map(jnp.shape, u) == {"conv": {"kernel": (16,)}, "head": {"kernel": (1,)}}
    step = jax.jit(sn.power_iteration)
    for _ in range(200):
        u = step(params, u)
    normed, sigmas = sn.normalize(params, u)
    # The normalised [K·C_in, C_out] matrix has σ_max 1 (SVD, independent of the iteration).
    np.testing.assert_allclose(_sigma_max(normed["conv"]["kernel"]), 1.0, rtol=1e-4)
    np.testing.assert_allclose(_sigma_max(normed["head"]["kernel"]), 1.0, rtol=1e-5)
    np.testing.assert_allclose(sigmas[0], _sigma_max(params["conv"]["kernel"]), rtol=1e-4)
    np.testing.assert_array_equal(normed["conv"]["bias"], params["conv"]["bias"])


def test_sigma_estimate_is_a_lower_bound_that_rises_towards_sigma_max():
    params = _kernel_params(1)
    w = params["conv"]["kernel"]
    u = sn.init_vectors(params, jax.random.key(3))
    est = []
    for _ in range(10):
        est.append(float(sn.sigma(w, u["conv"]["kernel"])))
        u = sn.power_iteration(params, u)
    assert all(e <= _sigma_max(w) * (1 + 1e-6) for e in est)
    assert all(b >= a * (1 - 1e-6) for a, b in zip(est, est[1:], strict=False))


def test_one_column_head_is_exact_after_one_iteration():
    params = _kernel_params(2)
    u = sn.power_iteration(params, sn.init_vectors(params, jax.random.key(0)))
    head = np.asarray(params["head"]["kernel"])
    np.testing.assert_allclose(
        sn.sigma(params["head"]["kernel"], u["head"]["kernel"]), np.linalg.norm(head), rtol=1e-6
    )


def test_gradient_of_sigma_is_the_papers_outer_product():
    # ∂σ/∂M = v uᵀ with v = M u / ||M u|| (u held constant): Miyato et al. 2018, eq. 12.
    rng = np.random.default_rng(4)
    m = rng.normal(size=(6, 4)).astype(np.float32)
    u = rng.normal(size=4).astype(np.float32)
    u /= np.linalg.norm(u)
    grad = jax.grad(sn.sigma)(jnp.asarray(m), jnp.asarray(u))
    v = m @ u / np.linalg.norm(m @ u)
    np.testing.assert_allclose(grad, np.outer(v, u), rtol=1e-5, atol=1e-6)
