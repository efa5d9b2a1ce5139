"""Adversarial losses over sub-discriminators (wavegen.losses.adversarial) by hand."""

import jax.numpy as jnp
import numpy as np
import pytest

from wavegen.losses.adversarial import (
    mean_discriminator_loss,
    multi_discriminator_loss,
    multi_generator_losses,
)
from wavegen.losses.gan import discriminator_loss


def test_summed_losses_match_hand_computation():
    real = [
        (jnp.array([[2.0], [0.5]]), [jnp.ones((2, 3))]),
        (jnp.array([[-1.0, 0.0]]), [jnp.zeros((1, 2))]),
    ]
    fake = [
        (jnp.array([[-2.0], [0.5]]), [jnp.full((2, 3), 3.0)]),
        (jnp.array([[1.0, -3.0]]), [jnp.ones((1, 2))]),
    ]
    # hinge D: mean relu(1 - real) + mean relu(1 + fake), per sub-discriminator, summed.
    d1 = np.mean([0.0, 0.5]) + np.mean([0.0, 1.5])
    d2 = np.mean([2.0, 1.0]) + np.mean([2.0, 0.0])
    assert float(multi_discriminator_loss("hinge", real, fake)) == pytest.approx(d1 + d2)
    adv, fm = multi_generator_losses("hinge", real, fake)
    assert float(adv) == pytest.approx(-np.mean([-2.0, 0.5]) - np.mean([1.0, -3.0]))
    assert float(fm) == pytest.approx(np.mean([2.0, 1.0]))  # mean of per-map mean |r - f|


def test_mean_over_sub_discriminators_and_one_is_the_plain_loss():
    rng = np.random.default_rng(1)
    real = [(rng.normal(size=(3,)), []), (rng.normal(size=(3, 4, 1)), [])]
    fake = [(rng.normal(size=(3,)), []), (rng.normal(size=(3, 4, 1)), [])]
    real = [(jnp.asarray(a, jnp.float32), f) for a, f in real]
    fake = [(jnp.asarray(a, jnp.float32), f) for a, f in fake]

    def hinge(r, f):
        return np.mean(np.maximum(0, 1 - r)) + np.mean(np.maximum(0, 1 + f))

    pairs = zip(real, fake, strict=True)
    want = np.mean([hinge(np.asarray(r), np.asarray(f)) for (r, _), (f, _) in pairs])
    np.testing.assert_allclose(mean_discriminator_loss("hinge", real, fake), want, rtol=1e-6)
    # One sub-discriminator: exactly the plain loss (the default critic's numbers unchanged).
    np.testing.assert_array_equal(
        mean_discriminator_loss("hinge", real[:1], fake[:1]),
        discriminator_loss("hinge", real[0][0], fake[0][0]),
    )
