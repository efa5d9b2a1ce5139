"""Adversarial losses over a list of sub-discriminators (MelGAN / HiFi-GAN / EnCodec critics).

A multi-discriminator's output is a list ``[(logits [B, ...], [feature maps [B, ...]]), ...]``
(:data:`wavegen.models.discriminators.DiscriminatorOutput`). Two reductions are used:

- the *sum* over sub-discriminators, as MelGAN and HiFi-GAN add their sub-losses (the VAE's
  phase 2): :func:`multi_discriminator_loss`, :func:`multi_generator_losses`;
- the *mean* over sub-discriminators (WaveGAN with a library critic, so that adding critics does
  not rescale the loss the GAN recipes were tuned for): :func:`mean_discriminator_loss`,
  :func:`mean_generator_loss`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from wavegen.losses.gan import discriminator_loss, feature_matching_loss, generator_loss
from wavegen.models.discriminators import DiscriminatorOutput


def multi_discriminator_loss(
    loss_name: str, real: DiscriminatorOutput, fake: DiscriminatorOutput
) -> jax.Array:
    """Sum over sub-discriminators of ``discriminator_loss(loss_name, real_i, fake_i)``; []."""
    return sum(
        discriminator_loss(loss_name, r, f) for (r, _), (f, _) in zip(real, fake, strict=True)
    )


def multi_generator_losses(
    loss_name: str, real: DiscriminatorOutput, fake: DiscriminatorOutput
) -> tuple[jax.Array, jax.Array]:
    """(adversarial, feature matching) generator terms over all sub-discriminators.

    Adversarial: sum over sub-discriminators of ``generator_loss``. Feature matching: mean L1
    over every feature map of every sub-discriminator (real features should be computed
    without gradient to the discriminator; the generator step differentiates only the fake).
    """
    adv = sum(generator_loss(loss_name, f) for f, _ in fake)
    real_feats = [jax.lax.stop_gradient(m) for _, maps in real for m in maps]
    fake_feats = [m for _, maps in fake for m in maps]
    return adv, feature_matching_loss(real_feats, fake_feats)


def mean_discriminator_loss(
    name: str, real: DiscriminatorOutput, fake: DiscriminatorOutput
) -> jax.Array:
    """Mean over sub-discriminators of ``discriminator_loss(name, real_i, fake_i)``; []."""
    terms = [discriminator_loss(name, r, f) for (r, _), (f, _) in zip(real, fake, strict=True)]
    return terms[0] if len(terms) == 1 else jnp.mean(jnp.stack(terms))


def mean_generator_loss(name: str, fake: DiscriminatorOutput) -> jax.Array:
    """Mean over sub-discriminators of ``generator_loss(name, fake_i)``; []."""
    terms = [generator_loss(name, f) for f, _ in fake]
    return terms[0] if len(terms) == 1 else jnp.mean(jnp.stack(terms))


__all__ = [
    "mean_discriminator_loss",
    "mean_generator_loss",
    "multi_discriminator_loss",
    "multi_generator_losses",
]
