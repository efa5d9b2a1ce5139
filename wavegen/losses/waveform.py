"""Waveform-domain objectives in JAX: scale-invariant SDR (its negative is a separation loss)."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def si_sdr(reference: jax.Array, estimate: jax.Array) -> jax.Array:
    """Scale-invariant signal-to-distortion ratio in dB (Le Roux et al. 2019), per clip.

    Both signals are made zero-mean; with ``alpha = <s, ŝ> / ||s||^2``, SI-SDR is
    ``10 log10(||alpha s||^2 / ||alpha s - ŝ||^2)``. Energies are floored at ``eps * ||s||^2``
    (float32 eps), so an exact copy gives a large finite value. A constant reference (zero
    energy, where SI-SDR is undefined) gives NaN; callers drop such clips. The numpy
    ``wavegen.eval.metrics.si_sdr`` is the float64 version for evaluation.

    Args:
        reference: [..., T] clean signals s.
        estimate: [..., T] estimates ŝ.

    Returns:
        [...] float32 dB.
    """
    s = jnp.asarray(reference, jnp.float32)
    s_hat = jnp.asarray(estimate, jnp.float32)
    s = s - jnp.mean(s, axis=-1, keepdims=True)
    s_hat = s_hat - jnp.mean(s_hat, axis=-1, keepdims=True)
    ref_energy = jnp.sum(s**2, axis=-1, keepdims=True)
    alpha = jnp.sum(s * s_hat, axis=-1, keepdims=True) / jnp.where(ref_energy > 0, ref_energy, 1)
    target = alpha * s
    floor = jnp.finfo(jnp.float32).eps * ref_energy[..., 0]
    target_energy = jnp.maximum(jnp.sum(target**2, axis=-1), floor)
    noise_energy = jnp.maximum(jnp.sum((s_hat - target) ** 2, axis=-1), floor)
    db = 10.0 * jnp.log10(target_energy / noise_energy)
    return jnp.where(ref_energy[..., 0] > 0, db, jnp.nan)


__all__ = ["si_sdr"]
