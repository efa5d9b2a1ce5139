"""The JAX SI-SDR against the float64 evaluation one and against analytic cases."""

import jax.numpy as jnp
import numpy as np
import pytest

from wavegen.eval.metrics import si_sdr as si_sdr_np
from wavegen.losses.waveform import si_sdr


def test_matches_the_numpy_metric():
    rng = np.random.default_rng(0)
    s = rng.standard_normal((4, 2000)).astype(np.float32)
    s_hat = (0.7 * s + 0.1 * rng.standard_normal((4, 2000))).astype(np.float32)
    np.testing.assert_allclose(
        si_sdr(jnp.asarray(s), jnp.asarray(s_hat)), si_sdr_np(s, s_hat), atol=1e-3
    )


def test_analytic_value_and_scale_invariance():
    # ŝ = s + n with n orthogonal to s and ||n||^2 = ||s||^2 / 100 → exactly 20 dB.
    t = np.arange(1000)
    s = np.sin(2 * np.pi * 5 * t / 1000)
    n = 0.1 * np.cos(2 * np.pi * 5 * t / 1000)
    assert float(si_sdr(jnp.asarray(s), jnp.asarray(s + n))) == pytest.approx(20.0, abs=1e-3)
    assert float(si_sdr(jnp.asarray(s), jnp.asarray(3.0 * (s + n)))) == pytest.approx(
        20.0, abs=1e-3
    )


def test_constant_reference_is_nan():
    out = np.asarray(si_sdr(jnp.zeros((2, 100)), jnp.ones((2, 100))))
    assert np.isnan(out).all()
