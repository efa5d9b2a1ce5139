"""8-bit μ-law companding (ITU-T G.711 curve, μ = 255) between waveforms and 256 integer codes.

The sample-level RNN (:mod:`wavegen.models.samplernn`) predicts each sample as one of
``Q = 256`` classes. With μ = Q - 1 = 255:

- compress: ``y = sign(x) · ln(1 + μ|x|) / ln(1 + μ)``, x ∈ [-1, 1] → y ∈ [-1, 1];
- quantise: ``code = floor((y + 1) / 2 · μ + 1/2)`` ∈ {0, …, 255} (round to nearest);
- dequantise: ``y = 2 · code / μ - 1``;
- expand: ``x = sign(y) · ((1 + μ)^|y| - 1) / μ``.

This is WaveNet's quantiser (TF reference implementation). ``decode(encode(x))`` is within half a
quantisation step of x in the companded domain; ``encode(decode(c)) == c`` exactly for all 256
codes. Silence (x = 0) is code :data:`SILENCE` = 128 (y = 0 lies half-way between 127 and 128
and rounds up). All functions are pure ``jax.numpy`` (usable under jit) and accept numpy input.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

Q_LEVELS = 256
MU = Q_LEVELS - 1
SILENCE = Q_LEVELS // 2  # encode(0.0)


def compress(x: jax.Array) -> jax.Array:
    """Waveform [...] in [-1, 1] → companded values [...] in [-1, 1] (float32)."""
    x = jnp.clip(jnp.asarray(x, jnp.float32), -1.0, 1.0)
    return jnp.sign(x) * jnp.log1p(MU * jnp.abs(x)) / jnp.log1p(jnp.float32(MU))


def expand(y: jax.Array) -> jax.Array:
    """Companded values [...] in [-1, 1] → waveform [...] in [-1, 1] (float32)."""
    y = jnp.asarray(y, jnp.float32)
    return jnp.sign(y) * jnp.expm1(jnp.abs(y) * jnp.log1p(jnp.float32(MU))) / MU


def encode(x: jax.Array) -> jax.Array:
    """Waveform [...] float in [-1, 1] (clipped) → μ-law codes [...] int32 in {0, …, 255}."""
    y = compress(x)
    return jnp.clip(jnp.floor((y + 1.0) / 2.0 * MU + 0.5), 0, MU).astype(jnp.int32)


def codes_to_unit(codes: jax.Array) -> jax.Array:
    """Codes [...] int → companded values ``2 · code / 255 - 1`` [...] float32 in [-1, 1]."""
    return 2.0 * jnp.asarray(codes, jnp.float32) / MU - 1.0


def decode(codes: jax.Array) -> jax.Array:
    """μ-law codes [...] int in {0, …, 255} → waveform [...] float32 in [-1, 1]."""
    return expand(codes_to_unit(codes))
