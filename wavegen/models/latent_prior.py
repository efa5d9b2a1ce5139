"""An autoregressive prior over a waveform VAE's latent sequences (RAVE's second stage).

The model sees latent frames z [B, L, D] (D = the VAE's ``latent_dim``, L frames per clip) and
predicts, for every frame t, a diagonal Gaussian over z_t given z_<t: (mean, log_scale)
[B, L, D]. The input is shifted right by one frame (a zero frame first), then goes through a
stack of causal dilated convolutions, so output t depends only on frames < t.

Architecture: a 1×1 projection D → C, an optional class embedding added to every frame (C),
then one residual block per dilation d: LeakyReLU → causal conv (kernel k, dilation d, C → C)
→ LeakyReLU → 1×1 conv (C → C), added to its input; finally LeakyReLU → 1×1 conv to 2·D.
A conv stack (not a GRU) because training is then one parallel pass over the sequence, and
the causal convs are gathered shifted copies and one matmul (``lax.conv`` with dilation is
slow to differentiate on XLA:CPU, see :mod:`wavegen.models.vae`). Receptive field:
``1 + (k - 1) · sum(dilations)`` frames.

Sampling (:meth:`LatentPrior.sample`) is ancestral and reparameterised: frame t is
``mean_t + temperature · exp(log_scale_t) · eps_t`` with eps [B, L, D] standard normal given by
the caller, one forward pass per frame in a ``lax.scan``.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from flax import nnx

LEAK = 0.2  # LeakyReLU slope, as the VAE's
LOG_SCALE_RANGE = (-7.0, 3.0)  # clamp of the predicted log-scales: keeps the NLL finite


def causal_shift(x: jax.Array, shift: int) -> jax.Array:
    """x [B, L, C] delayed by ``shift`` frames along L (zeros enter at the start)."""
    if shift == 0:
        return x
    return jnp.pad(x, ((0, 0), (shift, 0), (0, 0)))[:, : x.shape[1]]


class CausalConv(nnx.Module):
    """Causal dilated conv [B, L, Cin] → [B, L, Cout]: output t sees inputs t - i·d, i < k.

    Computed as one matmul over the k delayed copies of the input stacked on channels.
    """

    def __init__(self, cin: int, cout: int, kernel_size: int, dilation: int, *, rngs: nnx.Rngs):
        self.kernel_size, self.dilation = kernel_size, dilation
        self.proj = nnx.Linear(kernel_size * cin, cout, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        taps = [causal_shift(x, i * self.dilation) for i in reversed(range(self.kernel_size))]
        return self.proj(jnp.concatenate(taps, axis=-1))


class LatentPrior(nnx.Module):
    """Causal conv stack predicting a diagonal Gaussian over each next latent frame.

    Args:
      latent_dim: D, channels of a latent frame.
      channels: C, the hidden width.
      kernel_size: taps of each causal dilated conv.
      dilations: one residual block per entry.
      num_classes: > 0: class-conditional (a label embedding is added to every frame).
      residual: predict each frame's mean as the previous frame plus the network's output
        (zeros before the first frame), so "the same as before" is the network's zero. Latents
        that hold still within a clip (the harmonic VAE's pitch channel) then stay still in
        samples instead of drifting as the errors of a learned copy accumulate.
      rngs: parameter initialisation.
    """

    def __init__(
        self,
        latent_dim: int,
        *,
        channels: int = 128,
        kernel_size: int = 3,
        dilations: tuple[int, ...] = (1, 2, 4, 8, 16),
        num_classes: int = 0,
        residual: bool = False,
        rngs: nnx.Rngs,
    ):
        self.latent_dim, self.num_classes, self.residual = latent_dim, num_classes, residual
        self.inp = nnx.Linear(latent_dim, channels, rngs=rngs)
        self.label_embed = nnx.Embed(num_classes, channels, rngs=rngs) if num_classes else None
        self.convs = nnx.List(
            [CausalConv(channels, channels, kernel_size, d, rngs=rngs) for d in dilations]
        )
        self.mixes = nnx.List([nnx.Linear(channels, channels, rngs=rngs) for _ in dilations])
        self.out = nnx.Linear(channels, 2 * latent_dim, rngs=rngs)

    @staticmethod
    def receptive_field(kernel_size: int, dilations: tuple[int, ...]) -> int:
        """Frames before t that output t can see (the shift adds one, the convs the rest)."""
        return 1 + (kernel_size - 1) * sum(dilations)

    def __call__(
        self, z: jax.Array, labels: jax.Array | None = None
    ) -> tuple[jax.Array, jax.Array]:
        """Teacher-forced predictions.

        Args:
          z: [B, L, D] latent frames.
          labels: [B] int class labels (conditional models), else None.

        Returns:
          (mean, log_scale) [B, L, D]: entry t parameterises p(z_t | z_<t, label).
        """
        previous = causal_shift(z, 1)
        h = self.inp(previous)
        if self.label_embed is not None:
            if labels is None:
                raise ValueError("a conditional LatentPrior needs labels [B]")
            h = h + self.label_embed(labels)[:, None, :]
        for conv, mix in zip(self.convs, self.mixes, strict=True):
            y = conv(jax.nn.leaky_relu(h, LEAK))
            h = h + mix(jax.nn.leaky_relu(y, LEAK))
        mean, log_scale = jnp.split(self.out(jax.nn.leaky_relu(h, LEAK)), 2, axis=-1)
        if self.residual:
            mean = previous + mean
        return mean, jnp.clip(log_scale, *LOG_SCALE_RANGE)

    def sample(
        self, eps: jax.Array, labels: jax.Array | None = None, temperature: float = 1.0
    ) -> jax.Array:
        """Ancestral samples driven by the noise ``eps``.

        Args:
          eps: [B, L, D] standard-normal noise (its L sets the number of frames).
          labels: [B] int (conditional models) or None.
          temperature: multiplier of every predicted scale (0: the mean path).

        Returns:
          z [B, L, D] with ``z_t = mean_t(z_<t) + temperature · exp(log_scale_t) · eps_t``.
        """

        def step(z, t):
            mean, log_scale = self(z, labels)
            m = jax.lax.dynamic_index_in_dim(mean, t, axis=1, keepdims=False)
            s = jax.lax.dynamic_index_in_dim(log_scale, t, axis=1, keepdims=False)
            e = jax.lax.dynamic_index_in_dim(eps, t, axis=1, keepdims=False)
            frame = m + temperature * jnp.exp(s) * e
            return jax.lax.dynamic_update_index_in_dim(z, frame, t, axis=1), None

        # Frames after t are still zero when t is drawn; causality makes them irrelevant.
        z, _ = jax.lax.scan(step, jnp.zeros_like(eps), jnp.arange(eps.shape[1]))
        return z


def gaussian_nll(mean: jax.Array, log_scale: jax.Array, z: jax.Array) -> jax.Array:
    """Negative log-density of z under N(mean, exp(log_scale)²), per element.

    Args:
      mean, log_scale, z: arrays of one shape (e.g. [B, L, D]).

    Returns:
      The same shape, nats: ``log_scale + ½ log 2π + ½ ((z - mean) / exp(log_scale))²``.
    """
    return (
        log_scale
        + 0.5 * math.log(2.0 * math.pi)
        + 0.5 * jnp.square((z - mean) * jnp.exp(-log_scale))
    )
