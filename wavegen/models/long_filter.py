"""Long one-channel stride-1 filters: WaveGAN's 512-tap learned post-processing filter.

As im2col + GEMM such a filter copies every sample K times and multiplies a [B·T, K] matrix by a
[K, 1] vector. Two forms instead, both tested equal to ``lax.conv_general_dilated``:

- :func:`conv_fft`: the real FFT, O(T log T) (CPU, where it measured faster: docs/benchmarks.md);
- :func:`conv_toeplitz`: blocks of P outputs per GEMM row against Toeplitz matrices of the
  kernel, all dense GEMMs (accelerators).

Layout as in :mod:`wavegen.models.layers`: activations [B, T, 1], kernels [K, 1, 1].
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from wavegen.models.target import Target


def conv_toeplitz(x: jax.Array, kernel: jax.Array, block: int, pad_left: int) -> jax.Array:
    """'SAME' stride-1 conv computed block-wise: P = ``block`` output samples per matmul row.

    For long filters with few channels (the 512-tap 1→1 post-processing filter), im2col would copy
    every sample K times. Instead the input is cut into blocks of P samples and output block q is
    Σ_j x_block[q + j] @ M_j with Toeplitz matrices M_j[p, r] = W[P·j + p - r]: J = ⌈(K-1)/P⌉ + 1
    slices, one matmul [B·T/P, J·P·Cin] @ [J·P·Cin, P·Cout], ~J·P/K times the minimal FLOPs.
    """
    b, t, cin = x.shape
    k, _, cout = kernel.shape
    p_len = block
    pad_l = pad_left
    n_out = -(-t // p_len)
    n_shifts = (k + p_len - 2) // p_len + 1
    padded_len = p_len * (n_out + n_shifts - 1)
    xp = jnp.pad(x, ((0, 0), (pad_l, padded_len - t - pad_l), (0, 0)))
    xs = xp.reshape(b, n_out + n_shifts - 1, p_len * cin)
    cols = jnp.concatenate([xs[:, j : j + n_out] for j in range(n_shifts)], -1)  # [B, T/P, J·P·Cin]
    j = np.arange(n_shifts)[:, None, None]
    p = np.arange(p_len)[None, :, None]
    r = np.arange(p_len)[None, None, :]
    taps = p_len * j + p - r
    taps = np.where((taps >= 0) & (taps < k), taps, k)  # index K = an appended zero tap
    padded = jnp.concatenate([kernel, jnp.zeros_like(kernel[:1])], axis=0)
    m = jnp.take(padded, jnp.asarray(taps), axis=0)  # [J, P(in), P(out), Cin, Cout]
    m = jnp.transpose(m, (0, 1, 3, 2, 4)).reshape(n_shifts * p_len * cin, p_len * cout)
    return (cols @ m).reshape(b, n_out * p_len, cout)[:, :t]


def next_fast_fft_len(n: int) -> int:
    """The smallest 2·3·5-smooth integer >= n (FFT sizes the CPU FFT library handles fastest)."""
    best = 1 << max(n - 1, 0).bit_length()  # a power of two is always smooth
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            m = p35
            while m < n:
                m *= 2
            best = min(best, m)
            p35 *= 3
        p5 *= 5
    return best


def conv_fft(x: jax.Array, kernel: jax.Array, pad_left: int) -> jax.Array:
    """'SAME' stride-1 conv of one channel through the real FFT (no bias).

    y[t] = Σ_k xp[t + k] W[k] with xp the input padded by pad_l on the left is a correlation,
    i.e. a full linear convolution with the reversed kernel read from offset K-1-pad_l. One FFT
    size n >= T + K - 1 avoids circular wrap-around. For the 512-tap post filter this costs
    O(T log T) instead of the T·K multiply-adds of the GEMM forms (and its error against lax is
    smaller: ~1e-6 against ~4e-6 for the Toeplitz GEMM, measured at T=16384).
    """
    b, t, _ = x.shape
    k = kernel.shape[0]
    pad_l = pad_left
    n_fft = next_fast_fft_len(t + k - 1)
    # The FFT needs float32 or float64: bf16 activations are transformed in float32.
    dtype = jnp.promote_types(jnp.result_type(x, kernel), jnp.float32)
    spectrum = jnp.fft.rfft(x[..., 0].astype(dtype), n=n_fft) * jnp.fft.rfft(
        kernel[::-1, 0, 0].astype(dtype), n=n_fft
    )
    full = jnp.fft.irfft(spectrum, n=n_fft)  # full[m] = Σ_j x[m - j] W[K-1-j]
    offset = k - 1 - pad_l
    return full[:, offset : offset + t, None].astype(x.dtype)


def fft_preferred(target: Target) -> bool:
    """FFT for long one-channel filters compiled for the CPU: measured 1.8x faster than the
    Toeplitz GEMM for the post filter (forward + backward, batch 8, tools/bench_layers.py).
    Accelerators keep the Toeplitz form, which is all dense GEMMs (unmeasured there)."""
    return target.platform == "cpu"


# Stride-1 convs at least this long with a single input and output channel use the FFT form on
# CPU and the Toeplitz form elsewhere.
MIN_TAPS = 64
TOEPLITZ_BLOCK = 128


def conv_same(
    x: jax.Array, kernel: jax.Array, pad_left: int, target: Target | None = None
) -> jax.Array:
    """A stride-1 conv of one channel, zero-padded by ``pad_left`` on the left (no bias): the
    FFT form when compiled for the CPU, the Toeplitz GEMM elsewhere.

    Args:
      x: [B, T, 1].
      kernel: [K, 1, 1].
      pad_left: zeros before x[0] (the right is padded as needed; T outputs).
      target: the devices this is compiled for (None: :meth:`Target.local`).

    Returns:
      [B, T, 1].
    """
    if fft_preferred(Target.local() if target is None else target):
        return conv_fft(x, kernel, pad_left)
    return conv_toeplitz(x, kernel, TOEPLITZ_BLOCK, pad_left)
