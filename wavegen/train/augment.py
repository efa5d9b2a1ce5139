"""Differentiable augmentation of the discriminator's inputs (DiffAugment / ADA style).

Small data sets let D memorise its training clips; augmenting every input D sees — real clips
in its update and fakes in both updates — with the same random distribution keeps it from doing
so without teaching G to produce augmented audio (Zhao et al. 2020, DiffAugment; Karras et al.
2020, ADA). The transforms are differentiable in the audio, so G's gradient flows through them.

Two transforms, each applied to an example with probability ``p``, parameters drawn per example:

- time shift by an integer ``s ~ U{-S..S}`` samples, zero-filled (a circular shift would move a
  note's silent tail in front of its attack);
- gain by ``g ~ U(-G, G)`` dB.

Sampling the parameters (from a key) is split from applying them (audiotools' habit), so a test
can apply one draw to two batches and see the same transform.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp


class AugmentParams(NamedTuple):
    """Per-example transform parameters for a batch of B clips."""

    shift: jax.Array  # [B] int32 samples (positive: later in time); 0 where not applied
    gain: jax.Array  # [B] float32 linear factor; 1 where not applied


def sample_params(
    key: jax.Array, batch: int, *, max_shift: int, max_gain_db: float, p: float
) -> AugmentParams:
    """Draws the transforms of one batch.

    Args:
      key: PRNG key.
      batch: B.
      max_shift: S, the largest shift in samples (0: no shift).
      max_gain_db: G, the largest gain in dB either way (0: no gain change).
      p: probability that each transform is applied to an example.

    Returns:
      :class:`AugmentParams` of [B] arrays.
    """
    k_s, k_g, k_ps, k_pg = jax.random.split(key, 4)
    shift = jax.random.randint(k_s, (batch,), -max_shift, max_shift + 1)
    shift = jnp.where(jax.random.bernoulli(k_ps, p, (batch,)), shift, 0).astype(jnp.int32)
    gain_db = jax.random.uniform(k_g, (batch,), minval=-max_gain_db, maxval=max_gain_db)
    gain_db = jnp.where(jax.random.bernoulli(k_pg, p, (batch,)), gain_db, 0.0)
    return AugmentParams(shift, (10.0 ** (gain_db / 20.0)).astype(jnp.float32))


def apply(x: jax.Array, params: AugmentParams) -> jax.Array:
    """Applies ``params`` to clips x [B, T] (differentiable in x); returns [B, T], x's dtype."""
    t = jnp.arange(x.shape[1])
    src = t[None, :] - params.shift[:, None]  # [B, T]: output sample t reads input t - s
    valid = (src >= 0) & (src < x.shape[1])
    shifted = jnp.take_along_axis(x, jnp.clip(src, 0, x.shape[1] - 1), axis=1)
    out = jnp.where(valid, shifted, 0) * params.gain[:, None]
    return out.astype(x.dtype)


def augment(
    x: jax.Array, key: jax.Array, *, max_shift: int, max_gain_db: float, p: float
) -> jax.Array:
    """x [B, T] → [B, T] with freshly drawn transforms (:func:`sample_params` + :func:`apply`)."""
    params = sample_params(key, x.shape[0], max_shift=max_shift, max_gain_db=max_gain_db, p=p)
    return apply(x, params)
