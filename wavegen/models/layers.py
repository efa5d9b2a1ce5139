"""1-D convolution layers for WaveGAN, written as single matmuls so they are fast on XLA:CPU.

Layout is channels-last: activations ``[B, T, C]``, kernels ``[K, Cin, Cout]``.

Why not just ``lax.conv``: on XLA:CPU (jax 0.10, 2 cores) ``lax.conv_transpose`` 1024→512 at length
16 and the backward pass of the stride-4 512→1024 conv at length 64 ran at ~1 GFLOP/s, while a
plain matmul runs at >100 GFLOP/s. Every layer here is therefore rewritten as

- strided conv: space-to-depth (``[B, T, Cin] → [B, T/s, s·Cin]``) + im2col of the few shifted
  block slices + ONE matmul ``[B·Tout, J·s·Cin] @ [J·s·Cin, Cout]``;
- transposed conv (zero-stuffing upsample + conv): polyphase — im2col of J shifted *input* slices
  + ONE matmul with a rearranged kernel ``[J·Cin, s·Cout]`` that yields all ``s`` output phases at
  once, then depth-to-space ``[B, T, s, Cout] → [B, T·s, Cout]``;
- nearest-neighbour upsample + stride-1 conv: the same polyphase matmul; the upsampling is folded
  into the kernel (taps that read the same input sample are summed), so it costs no more than the
  transposed conv instead of ``s`` times more.

Their backward passes are then matmuls, slices and pads too. ``impl='lax'`` keeps the
``lax.conv_general_dilated`` / ``lax.conv_transpose`` formulation as the reference the tests
compare against.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

IMPLS = ("auto", "matmul", "lax")
_DIMS = ("NWC", "WIO", "NWC")


def resolve_impl(impl: str) -> str:
    """Maps ``impl`` ('auto', 'matmul', 'lax') to the formulation actually used.

    'auto' is 'matmul' on every backend and shape. On CPU that is measured
    (``tools/bench_layers.py``, d=64, batch 8): the transposed / upsampling convs run 15-40x faster
    than lax. lax wins the *first-order* fwd+bwd of D's three middle convs (by ~1.3-1.7x), but the
    WGAN-GP gradient penalty differentiates D twice, and there lax was 3-20x slower than matmul on
    every D layer (its second-order convs fall onto XLA:CPU's slow dilated-conv path), so one rule
    serves both. On GPU/TPU nothing is measured yet: matmul is the default because it only relies
    on dense GEMMs, which accelerators run near peak; switch here if a benchmark says otherwise.
    """
    if impl not in IMPLS:
        raise ValueError(f"conv impl must be one of {IMPLS}, got {impl!r}")
    return "matmul" if impl == "auto" else impl


def same_padding(length: int, kernel_size: int, stride: int) -> tuple[int, int]:
    """TF/lax 'SAME' padding (left, right) of a strided conv; output length is ceil(length/stride).

    The extra sample of an odd total goes on the right (k=25, s=4, T=16384: (10, 11)).
    """
    out_len = -(-length // stride)
    total = max((out_len - 1) * stride + kernel_size - length, 0)
    return total // 2, total - total // 2


def conv_transpose_padding(kernel_size: int, stride: int) -> tuple[int, int]:
    """Padding (before, after) of the zero-stuffed input in ``lax.conv_transpose(..., 'SAME')``.

    Same rule as jax's ``_conv_transpose_padding`` for 'SAME' (kept in sync by the tests, which
    compare against ``lax.conv_transpose`` for many kernel/stride pairs).
    """
    pad_len = kernel_size + stride - 2
    pad_a = kernel_size - 1 if stride > kernel_size - 1 else math.ceil(pad_len / 2)
    return pad_a, pad_len - pad_a


def _check(x: jax.Array, kernel: jax.Array, stride: int, name: str) -> None:
    if x.ndim != 3 or kernel.ndim != 3 or x.shape[-1] != kernel.shape[1]:
        raise ValueError(
            f"{name}: expected x [B, T, Cin] and kernel [K, Cin, Cout] with matching Cin, got "
            f"x {x.shape} and kernel {kernel.shape}"
        )
    if stride < 1:
        raise ValueError(f"{name}: stride must be >= 1, got {stride}")


def _add_bias(y: jax.Array, bias: jax.Array | None) -> jax.Array:
    return y if bias is None else y + bias


def _shifted_slices(x: jax.Array, offsets: range, length: int) -> jax.Array:
    """im2col: [B, T', C] → [B, length, len(offsets)·C]; slice i is ``x[:, o_i : o_i + length]``."""
    cols = [x[:, o : o + length] for o in offsets]
    return cols[0] if len(cols) == 1 else jnp.concatenate(cols, axis=-1)


# --------------------------------------------------------------------------------------------------
# Strided convolution.


def _conv1d_space_to_depth(x: jax.Array, kernel: jax.Array, stride: int) -> jax.Array:
    """'SAME' strided conv as space-to-depth + im2col + one matmul (no bias). See conv1d."""
    b, t, cin = x.shape
    k, _, cout = kernel.shape
    s = stride
    out_len = -(-t // s)
    pad_l, _ = same_padding(t, k, s)
    n_blocks = -(-k // s)  # J: kernel taps padded up to J·s, i.e. J blocks of s taps
    # Output o reads padded samples [s·o, s·o + J·s): blocks o .. o+J-1 of the blocked input.
    padded_len = s * (out_len + n_blocks - 1)
    xp = jnp.pad(x, ((0, 0), (pad_l, padded_len - t - pad_l), (0, 0)))
    xs = xp.reshape(b, out_len + n_blocks - 1, s * cin)  # space-to-depth
    cols = _shifted_slices(xs, range(n_blocks), out_len)  # [B, Tout, J·s·Cin]
    w = jnp.pad(kernel, ((0, n_blocks * s - k), (0, 0), (0, 0))).reshape(n_blocks * s * cin, cout)
    return cols @ w


def _conv1d_toeplitz(x: jax.Array, kernel: jax.Array, block: int) -> jax.Array:
    """'SAME' stride-1 conv computed block-wise: P = ``block`` output samples per matmul row.

    For long filters with few channels (the 512-tap 1→1 post-processing filter), im2col would copy
    every sample K times. Instead the input is cut into blocks of P samples and output block q is
    Σ_j x_block[q + j] @ M_j with Toeplitz matrices M_j[p, r] = W[P·j + p - r]: J = ⌈(K-1)/P⌉ + 1
    slices, one matmul [B·T/P, J·P·Cin] @ [J·P·Cin, P·Cout], ~J·P/K times the minimal FLOPs.
    """
    b, t, cin = x.shape
    k, _, cout = kernel.shape
    p_len = block
    pad_l, _ = same_padding(t, k, 1)
    n_out = -(-t // p_len)
    n_shifts = (k + p_len - 2) // p_len + 1
    padded_len = p_len * (n_out + n_shifts - 1)
    xp = jnp.pad(x, ((0, 0), (pad_l, padded_len - t - pad_l), (0, 0)))
    xs = xp.reshape(b, n_out + n_shifts - 1, p_len * cin)
    cols = _shifted_slices(xs, range(n_shifts), n_out)  # [B, T/P, J·P·Cin]
    j = np.arange(n_shifts)[:, None, None]
    p = np.arange(p_len)[None, :, None]
    r = np.arange(p_len)[None, None, :]
    taps = p_len * j + p - r
    taps = np.where((taps >= 0) & (taps < k), taps, k)  # index K = an appended zero tap
    padded = jnp.concatenate([kernel, jnp.zeros_like(kernel[:1])], axis=0)
    m = jnp.take(padded, jnp.asarray(taps), axis=0)  # [J, P(in), P(out), Cin, Cout]
    m = jnp.transpose(m, (0, 1, 3, 2, 4)).reshape(n_shifts * p_len * cin, p_len * cout)
    return (cols @ m).reshape(b, n_out * p_len, cout)[:, :t]


# Stride-1 convs at least this long with a single input and output channel use the Toeplitz form.
TOEPLITZ_MIN_TAPS = 64
TOEPLITZ_BLOCK = 128


def conv1d(
    x: jax.Array, kernel: jax.Array, bias: jax.Array | None, stride: int = 1, impl: str = "auto"
) -> jax.Array:
    """Strided 1-D convolution with TF/lax 'SAME' padding.

    Args:
      x: [B, T, Cin] float.
      kernel: [K, Cin, Cout].
      bias: [Cout] or None.
      stride: s >= 1.
      impl: 'auto', 'matmul' or 'lax' (see :func:`resolve_impl`).

    Returns:
      [B, ceil(T / s), Cout].
    """
    _check(x, kernel, stride, "conv1d")
    k, cin, cout = kernel.shape
    if resolve_impl(impl) == "lax":
        y = jax.lax.conv_general_dilated(x, kernel, (stride,), "SAME", dimension_numbers=_DIMS)
    elif stride == 1 and cin == cout == 1 and k >= TOEPLITZ_MIN_TAPS:
        y = _conv1d_toeplitz(x, kernel, TOEPLITZ_BLOCK)
    else:
        y = _conv1d_space_to_depth(x, kernel, stride)
    return _add_bias(y, bias)


# --------------------------------------------------------------------------------------------------
# Polyphase formulations of the two upsampling layers.
#
# Both compute y[s·q + r] = Σ_j x[q + j] @ W_eff[j, r] for j in [j_lo, j_hi]: output phase r of
# block q is a stride-1 conv of the *input* with a per-phase kernel W_eff [J, s, Cin, Cout].


def _polyphase(x: jax.Array, w_eff: jax.Array, j_lo: int) -> jax.Array:
    """``x`` [B, T, Cin], ``w_eff`` [J, s, Cin, Cout] → [B, T·s, Cout] (no bias; see above).

    Two equivalent single-matmul forms; the one with the smaller intermediate is used:
    - input side (Cin <= s·Cout): im2col of the J shifted inputs, [B·T, J·Cin] @ [J·Cin, s·Cout];
    - output side (e.g. the last G layer, Cout = 1): [B·T, Cin] @ [Cin, J·s·Cout] gives every
      (shift, phase) partial sum, then J shifted slices are added — im2col would copy the wide
      input J times only to feed a matmul with s·Cout = 4 columns.
    """
    b, t, cin = x.shape
    n_shifts, s, _, cout = w_eff.shape
    j_hi = j_lo + n_shifts - 1
    assert j_lo <= 0 <= j_hi, (j_lo, j_hi)
    if cin <= s * cout:
        xp = jnp.pad(x, ((0, 0), (-j_lo, j_hi), (0, 0)))  # x[q + j] for j in [j_lo, j_hi]
        cols = _shifted_slices(xp, range(n_shifts), t)  # [B, T, J·Cin]
        w = jnp.transpose(w_eff, (0, 2, 1, 3)).reshape(n_shifts * cin, s * cout)
        y = cols @ w
    else:
        w = jnp.transpose(w_eff, (2, 0, 1, 3)).reshape(cin, n_shifts * s * cout)
        z = (x @ w).reshape(b, t, n_shifts, s * cout)  # z[t', n] = x[t'] @ W_eff[j_lo + n]
        zp = jnp.pad(z, ((0, 0), (-j_lo, j_hi), (0, 0), (0, 0)))  # zp[i] = z[i + j_lo]
        y = sum(zp[:, n : n + t, n] for n in range(n_shifts))  # y[q] = Σ_n z[q + j_lo + n, n]
    return y.reshape(b, t * s, cout)  # depth-to-space: phase r of block q → sample s·q + r


def _transpose_phase_kernel(kernel: jax.Array, stride: int) -> tuple[jax.Array, int]:
    """Per-phase kernels W_eff [J, s, Cin, Cout] and j_lo of :func:`conv_transpose1d`.

    ``lax.conv_transpose`` computes y[o] = Σ_k z[o + k] W[k] over the zero-stuffed, padded input
    z[pad_a + s·t] = x[t]. So x[t] meets tap k = s·t + pad_a - o; with o = s·q + r and t = q + j
    that is k = s·j + pad_a - r. Padding the kernel by c = s-1-(pad_a mod s) taps on the left makes
    that tap sit at s·(j - j_lo) + (s-1-r): a reshape to [J, s] and a flip of the phase axis. Pads
    and reshapes only — a gather here (and its scatter-add gradient) was the slowest part.
    """
    k = kernel.shape[0]
    s = stride
    pad_a, _ = conv_transpose_padding(k, s)
    j_lo = -(pad_a // s)
    j_hi = (k - 1 - pad_a + s - 1) // s
    n_shifts = j_hi - j_lo + 1
    c = s - 1 - pad_a % s
    wp = jnp.pad(kernel, ((c, n_shifts * s - k - c), (0, 0), (0, 0)))
    return wp.reshape(n_shifts, s, *kernel.shape[1:])[:, ::-1], j_lo


def conv_transpose1d(
    x: jax.Array, kernel: jax.Array, bias: jax.Array | None, stride: int, impl: str = "auto"
) -> jax.Array:
    """Transposed 1-D convolution; equals ``lax.conv_transpose(x, kernel, (s,), 'SAME', NWC/WIO)``.

    Args:
      x: [B, T, Cin] float.
      kernel: [K, Cin, Cout] (not flipped, as ``lax.conv_transpose`` with transpose_kernel=False).
      bias: [Cout] or None.
      stride: upsampling factor s >= 1.
      impl: 'auto', 'matmul' or 'lax'.

    Returns:
      [B, T·s, Cout].
    """
    _check(x, kernel, stride, "conv_transpose1d")
    if resolve_impl(impl) == "lax":
        y = jax.lax.conv_transpose(x, kernel, (stride,), "SAME", dimension_numbers=_DIMS)
    else:
        y = _polyphase(x, *_transpose_phase_kernel(kernel, stride))
    return _add_bias(y, bias)


def _nearest_phase_kernel(kernel: jax.Array, stride: int) -> tuple[jax.Array, int]:
    """Per-phase kernels W_eff [J, s, Cin, Cout] and j_lo of :func:`upsample_conv1d`.

    After nearest upsampling u[m] = x[m // s] and a 'SAME' stride-1 conv with left pad p,
    y[s·q + r] = Σ_k x[q + (r + k - p) // s] W[k]: phase r meets shift j through the s taps
    k = s·j + p - r + m, m in [0, s). With the box-filtered kernel B[i] = Σ_m W[i + m] that is
    W_eff[j, r] = B[s·j + p - r] — the index pattern of :func:`_transpose_phase_kernel`, so a pad,
    reshape and phase flip finish it (~4x faster than summing per phase, measured on the
    1024→512 kernel).
    """
    k = kernel.shape[0]
    s = stride
    p, _ = same_padding(k, k, 1)
    j_lo = (-p) // s
    j_hi = (s - 1 + k - 1 - p) // s
    n_shifts = j_hi - j_lo + 1
    wp = jnp.pad(kernel, ((s - 1, s - 1), (0, 0), (0, 0)))
    box_len = k + s - 1
    box = sum(wp[m : m + box_len] for m in range(s))  # box[i] = B[i - (s-1)], i in [0, K+s-1)
    # W_eff[j, r] = box[s·(j - j_lo) + (s-1-r) + c] with c = s·j_lo + p <= 0: shift by -c.
    c = s * j_lo + p
    zero = jnp.zeros((), kernel.dtype)
    bp = jax.lax.pad(box, zero, ((-c, n_shifts * s - box_len + c, 0), (0, 0, 0), (0, 0, 0)))
    return bp.reshape(n_shifts, s, *kernel.shape[1:])[:, ::-1], j_lo


def upsample_conv1d(
    x: jax.Array, kernel: jax.Array, bias: jax.Array | None, stride: int, impl: str = "auto"
) -> jax.Array:
    """Nearest-neighbour upsampling by ``stride`` followed by a stride-1 'SAME' conv.

    The WaveGAN paper's alternative to transposed convs (``upsample='nearest'``). The matmul form
    folds the upsampling into the kernel, so it costs as much as a transposed conv, not s times it.

    Args:
      x: [B, T, Cin] float.
      kernel: [K, Cin, Cout].
      bias: [Cout] or None.
      stride: upsampling factor s >= 1.
      impl: 'auto', 'matmul' or 'lax'.

    Returns:
      [B, T·s, Cout].
    """
    _check(x, kernel, stride, "upsample_conv1d")
    if resolve_impl(impl) == "lax":
        return conv1d(jnp.repeat(x, stride, axis=1), kernel, bias, 1, impl="lax")
    return _add_bias(_polyphase(x, *_nearest_phase_kernel(kernel, stride)), bias)


# --------------------------------------------------------------------------------------------------
# Phase shuffle.


def phase_shuffle(x: jax.Array, n: int, key: jax.Array | None) -> jax.Array:
    """WaveGAN's phase shuffle: shift the whole batch by one random phase in [-n, n].

    As the paper's code: one shift for the batch, the vacated edge filled by reflection, length
    kept. ``out[:, t] = reflect(x)[:, t - phase]``.

    Args:
      x: [B, T, C].
      n: shuffle radius (0 → identity). Must be < T for reflection.
      key: PRNG key drawing the phase; None → identity (evaluation).

    Returns:
      [B, T, C].
    """
    if key is None or n == 0:
        return x
    t = x.shape[1]
    if not 0 < n < t:
        raise ValueError(f"phase_shuffle: radius must be in [0, T-1] = [0, {t - 1}], got {n}")
    phase = jax.random.randint(key, (), -n, n + 1)
    # Pad n on both sides statically and slice dynamically so the traced phase keeps shapes fixed.
    xp = jnp.pad(x, ((0, 0), (n, n), (0, 0)), mode="reflect")
    return jax.lax.dynamic_slice_in_dim(xp, n - phase, t, axis=1)


# --------------------------------------------------------------------------------------------------
# NNX modules. Initialisation as the TF layers of the paper's code: glorot_uniform kernel
# (fan_in = K·Cin, fan_out = K·Cout, like TF's conv fans), zero bias.


class ConvBase(nnx.Module):
    """Kernel [K]*spatial_dims + [Cin, Cout] (glorot_uniform) and bias [Cout] (zeros), shared by the
    1-D layers here and the 2-D ones of :mod:`wavegen.models.layers2d`; checks impl and sizes."""

    spatial_dims = 1

    def __init__(
        self,
        in_features: int,
        out_features: int,
        kernel_size: int,
        stride: int,
        impl: str,
        use_bias: bool,
        rngs: nnx.Rngs,
    ):
        resolve_impl(impl)  # fail at construction, not inside a jit trace
        if min(in_features, out_features, kernel_size, stride) < 1:
            raise ValueError(
                f"{type(self).__name__}: features, kernel_size and stride must be >= 1, got "
                f"{in_features}, {out_features}, {kernel_size}, {stride}"
            )
        self.stride = stride
        self.impl = impl
        init = nnx.initializers.glorot_uniform()
        shape = (kernel_size,) * self.spatial_dims + (in_features, out_features)
        self.kernel = nnx.Param(init(rngs.params(), shape, jnp.float32))
        self.bias = nnx.Param(jnp.zeros((out_features,), jnp.float32)) if use_bias else None

    def _params(self) -> tuple[jax.Array, jax.Array | None]:
        return self.kernel[...], (None if self.bias is None else self.bias[...])


class Conv1d(ConvBase):
    """Strided 'SAME' conv: [B, T, Cin] → [B, ceil(T/s), Cout]; params kernel [K,Cin,Cout], bias."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        kernel_size: int,
        stride: int = 1,
        impl: str = "auto",
        *,
        use_bias: bool = True,
        rngs: nnx.Rngs,
    ):
        super().__init__(in_features, out_features, kernel_size, stride, impl, use_bias, rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        return conv1d(x, *self._params(), self.stride, self.impl)


class ConvTranspose1d(ConvBase):
    """Transposed 'SAME' conv: [B, T, Cin] → [B, T·s, Cout]. Params: kernel [K,Cin,Cout], bias."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        kernel_size: int,
        stride: int,
        impl: str = "auto",
        *,
        use_bias: bool = True,
        rngs: nnx.Rngs,
    ):
        super().__init__(in_features, out_features, kernel_size, stride, impl, use_bias, rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        return conv_transpose1d(x, *self._params(), self.stride, self.impl)


class UpsampleConv1d(ConvBase):
    """Nearest upsample ×s + stride-1 'SAME' conv: [B, T, Cin] → [B, T·s, Cout]."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        kernel_size: int,
        stride: int,
        impl: str = "auto",
        *,
        use_bias: bool = True,
        rngs: nnx.Rngs,
    ):
        super().__init__(in_features, out_features, kernel_size, stride, impl, use_bias, rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        return upsample_conv1d(x, *self._params(), self.stride, self.impl)
