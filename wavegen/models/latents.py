"""The GANs' latent distribution: z ~ U(-1, 1)^d, as in the WaveGAN/SpecGAN reference code."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def latents(num: int, latent_dim: int, seed: int, *, interpolate: bool = False) -> jax.Array:
    """[num, latent_dim] latents U(-1, 1); with ``interpolate`` a straight line between two."""
    key = jax.random.key(seed)
    if not interpolate:
        return jax.random.uniform(key, (num, latent_dim), minval=-1.0, maxval=1.0)
    ends = jax.random.uniform(key, (2, latent_dim), minval=-1.0, maxval=1.0)
    t = jnp.linspace(0.0, 1.0, num)[:, None]
    return ends[0] * (1 - t) + ends[1] * t


__all__ = ["latents"]
