"""A small log-magnitude-spectrogram critic that WaveGAN's D can add to its waveform logits.

WaveGAN's waveform D learns pitch slowly: in laptop-budget runs on the built-in notes its
generators first produce broadband noise or the 62.5 Hz comb of their stride-4 upsampling for
hundreds of steps (docs/results.md). Harmonics are lines in a spectrogram, so a critic that sees
``log |STFT|`` gives G a direct gradient towards the right partials; the waveform D still judges
phase and transients. The two are one discriminator: their logits are summed (an ensemble in
logit space), so every loss and gradient penalty applies unchanged.

Layout: ``x [B, T]`` → Hann-windowed frames (``n_fft``, ``hop``, no centring) → ``log(|X|² +
0.01)`` [B, F, n_fft/2+1] → frequency bins as channels, 1-D convs over frames (kernel 3, stride
2, LeakyReLU 0.2) → flatten → Dense → [B]. The STFT runs in float32 whatever the input dtype.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from wavegen.models.conditioning import ProjectionHead
from wavegen.models.layers import Conv1d

LEAKY_SLOPE = 0.2
POWER_FLOOR = 1e-2


@functools.lru_cache(maxsize=8)
def _dft_basis(n_fft: int) -> np.ndarray:
    """Periodic-Hann-windowed real DFT as one matrix [n_fft, 2 (n_fft // 2 + 1)]: cos | -sin."""
    t = np.arange(n_fft)
    window = 0.5 - 0.5 * np.cos(2 * np.pi * t / n_fft)
    angle = 2 * np.pi * np.outer(t, np.arange(n_fft // 2 + 1)) / n_fft
    return np.concatenate([np.cos(angle), -np.sin(angle)], axis=1) * window[:, None]


def log_power_spectrogram(x: jax.Array, n_fft: int, hop: int) -> jax.Array:
    """x [B, T] → log power [B, frames, n_fft // 2 + 1] float32 (periodic Hann, frames from 0).

    The DFT is a matmul with a constant basis rather than ``jnp.fft``: the critic is
    differentiated twice under R1, and a matmul's second derivative is cheap on every backend.
    """
    x = x.astype(jnp.float32)
    b, t = x.shape
    basis = jnp.asarray(_dft_basis(n_fft), jnp.float32)
    if n_fft % hop == 0 and t % hop == 0:
        # Frames as sums over hop-sized blocks (block f+j times rows j·hop.. of the basis):
        # slices and matmuls only, whose second derivatives XLA:CPU runs fast, where a gather
        # of overlapping frames made R1's double backward 4x the cost of the critic update.
        k, frames = n_fft // hop, 1 + (t - n_fft) // hop
        blocks = x.reshape(b, t // hop, hop)
        spec = sum(blocks[:, j : j + frames] @ basis[j * hop : (j + 1) * hop] for j in range(k))
    else:
        frames = 1 + (t - n_fft) // hop
        idx = np.arange(n_fft)[None, :] + hop * np.arange(frames)[:, None]  # [F, n_fft]
        spec = x[:, idx] @ basis  # [B, F, 2 (n_fft/2 + 1)]
    re, im = jnp.split(spec, 2, axis=-1)
    # The floor sits near the training data's noise floor (power ~1e-2 per bin for the built-in
    # set): a tiny floor (1e-6) makes d log / dx explode in silent frames, and with it R1.
    return jnp.log(re**2 + im**2 + POWER_FLOOR)


class SpectralCritic(nnx.Module):
    """audio [B, T] → logits [B] from its log-power spectrogram.

    Args:
      length: T, samples per clip (at least ``n_fft``).
      n_fft: FFT size (1024 at 16 kHz: 15.6 Hz bins, so neighbouring low notes differ by
        about a bin and their harmonics by several).
      hop: frame hop.
      channels: widths of the conv layers (one per stride-2 layer).
      minibatch_std: > 0: ProGAN's minibatch-stddev channel over groups of this many examples
        before the head (a one-pitch batch is then visible to this critic too).
      num_classes: > 0: class-conditional through a projection head (Miyato & Koyama 2018), as
        WaveGAN's D (:class:`wavegen.models.conditioning.ProjectionHead`).
    """

    def __init__(
        self,
        length: int,
        n_fft: int = 1024,
        hop: int = 256,
        channels: tuple[int, ...] = (128, 256, 256),
        minibatch_std: int = 0,
        num_classes: int = 0,
        *,
        rngs: nnx.Rngs,
    ):
        if length < n_fft:
            raise ValueError(f"spectral critic: clips of {length} samples < n_fft {n_fft}")
        self.n_fft, self.hop = n_fft, hop
        frames = 1 + (length - n_fft) // hop
        widths = [n_fft // 2 + 1, *channels]
        self.convs = nnx.List(
            [
                # The project's matmul-formulated conv: lax.conv's second derivative (R1) is slow
                # on XLA:CPU.
                Conv1d(widths[i], widths[i + 1], 3, 2, rngs=rngs)
                for i in range(len(channels))
            ]
        )
        for _ in channels:
            frames = -(-frames // 2)
        self.mbstd_group = minibatch_std
        features = frames * (channels[-1] + (1 if minibatch_std else 0))
        self.head = ProjectionHead(features, num_classes, rngs=rngs)

    def __call__(self, x: jax.Array, labels: jax.Array | None = None) -> jax.Array:
        """x [B, T] (+ labels [B] int32 when conditional) → [B] float32 logits."""
        # Normalise the log spectrum to roughly unit scale (log power of [-1, 1] audio over the
        # floor spans about -4.6..+11), so the first conv starts in a sensible range.
        h = (log_power_spectrogram(x, self.n_fft, self.hop) - 2.0) / 4.0
        for conv in self.convs:
            h = jax.nn.leaky_relu(conv(h), LEAKY_SLOPE)
        if self.mbstd_group:
            from wavegen.models.wavegan import minibatch_stddev

            h = minibatch_stddev(h, self.mbstd_group)
        return self.head(h.reshape(h.shape[0], -1), labels)
