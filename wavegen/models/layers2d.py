"""2-D convolution layers for SpecGAN, written as single matmuls so they are fast on XLA:CPU.

Layout is NHWC: activations ``[B, H, W, C]``, kernels HWIO ``[K, K, Cin, Cout]`` (square kernels,
equal strides on both axes — all SpecGAN needs).

Why: on XLA:CPU ``nnx.Conv`` / ``nnx.ConvTranspose`` (lax convolutions), differentiated twice by
the WGAN-GP penalty, ran at a few GFLOP/s, several times slower than the same-FLOP WaveGAN step
(docs/benchmarks.md, "Why the code is written this way"). These are the 2-D generalisations of
:mod:`wavegen.models.layers`:

- strided conv: space-to-depth on both axes (``[B, H, W, C] → [B, H/s, W/s, s·s·C]``) + im2col of
  the J×J shifted block slices + ONE matmul ``[B·Ho·Wo, J²·s²·Cin] @ [J²·s²·Cin, Cout]``;
- transposed conv / nearest-upsample + stride-1 conv: polyphase — the 1-D per-phase kernels of
  layers.py applied on each spatial axis (both ops are separable in the *index pattern*), im2col of
  J×J shifted inputs + ONE matmul ``[J²·Cin, s²·Cout]`` giving all s² output phases, then
  depth-to-space.

``impl='lax'`` keeps the lax formulation (what nnx.Conv / nnx.ConvTranspose compute) as the
reference the tests compare against.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from wavegen.models.layers import (
    ConvBase,
    _add_bias,
    _nearest_phase_kernel,
    _transpose_phase_kernel,
    resolve_impl,
    same_padding,
)

_DIMS = ("NHWC", "HWIO", "NHWC")


def _check(x: jax.Array, kernel: jax.Array, stride: int, name: str) -> None:
    if x.ndim != 4 or kernel.ndim != 4 or x.shape[-1] != kernel.shape[2]:
        raise ValueError(
            f"{name}: expected x [B, H, W, Cin] and kernel [K, K, Cin, Cout] with matching Cin, "
            f"got x {x.shape} and kernel {kernel.shape}"
        )
    if kernel.shape[0] != kernel.shape[1]:
        raise ValueError(f"{name}: only square kernels are supported, got {kernel.shape}")
    if stride < 1:
        raise ValueError(f"{name}: stride must be >= 1, got {stride}")


def _shifted_slices_2d(x: jax.Array, n: int, h: int, w: int) -> jax.Array:
    """im2col: [B, H', W', C] → [B, h, w, n·n·C], features ordered (dh, dw, C)."""
    cols = [x[:, i : i + h, j : j + w] for i in range(n) for j in range(n)]
    return cols[0] if len(cols) == 1 else jnp.concatenate(cols, axis=-1)


# --------------------------------------------------------------------------------------------------
# Strided convolution.


def _conv2d_space_to_depth(x: jax.Array, kernel: jax.Array, s: int) -> jax.Array:
    """'SAME' strided conv as space-to-depth + im2col + one matmul (no bias). See conv2d."""
    b, h, w, cin = x.shape
    k, _, _, cout = kernel.shape
    n = -(-k // s)  # J: taps padded up to J·s per axis, i.e. J blocks of s taps
    oh, ow = -(-h // s), -(-w // s)
    ph, _ = same_padding(h, k, s)
    pw, _ = same_padding(w, k, s)
    # Output (o, p) reads padded rows [s·o, s·o + J·s): blocks o .. o+J-1 of the blocked input.
    hp, wp = s * (oh + n - 1), s * (ow + n - 1)
    xp = jnp.pad(x, ((0, 0), (ph, hp - h - ph), (pw, wp - w - pw), (0, 0)))
    xs = xp.reshape(b, hp // s, s, wp // s, s, cin).transpose(0, 1, 3, 2, 4, 5)
    xs = xs.reshape(b, hp // s, wp // s, s * s * cin)  # space-to-depth, features (sh, sw, C)
    cols = _shifted_slices_2d(xs, n, oh, ow)  # [B, Ho, Wo, J·J·s·s·Cin], (jh, jw, sh, sw, C)
    wk = jnp.pad(kernel, ((0, n * s - k), (0, n * s - k), (0, 0), (0, 0)))
    wk = wk.reshape(n, s, n, s, cin, cout).transpose(0, 2, 1, 3, 4, 5)  # (jh, jw, sh, sw, C, O)
    return cols @ wk.reshape(n * n * s * s * cin, cout)


def conv2d(
    x: jax.Array, kernel: jax.Array, bias: jax.Array | None, stride: int = 1, impl: str = "auto"
) -> jax.Array:
    """Strided 2-D convolution with TF/lax 'SAME' padding (what ``nnx.Conv(padding='SAME')`` does).

    Args:
      x: [B, H, W, Cin] float.
      kernel: [K, K, Cin, Cout] (HWIO).
      bias: [Cout] or None.
      stride: s >= 1 on both axes.
      impl: 'auto', 'matmul' or 'lax' (see :func:`wavegen.models.layers.resolve_impl`).

    Returns:
      [B, ceil(H / s), ceil(W / s), Cout].
    """
    _check(x, kernel, stride, "conv2d")
    if resolve_impl(impl) == "lax":
        y = jax.lax.conv_general_dilated(
            x, kernel, (stride, stride), "SAME", dimension_numbers=_DIMS
        )
    else:
        y = _conv2d_space_to_depth(x, kernel, stride)
    return _add_bias(y, bias)


# --------------------------------------------------------------------------------------------------
# Polyphase upsampling layers: y[s·q + r, s·u + v] = Σ_{i,j} x[q + i, u + j] @ W_eff[i, r, j, v].


def _phase_kernel_2d(kernel: jax.Array, stride: int, phase_fn) -> tuple[jax.Array, int]:
    """Applies the 1-D per-phase kernel construction ``phase_fn`` of layers.py on both axes.

    Both the transposed conv and the nearest-upsample conv treat the H and W axes independently
    (same padding rule per axis), so W_eff is the 1-D construction along H, then along W.
    ``phase_fn`` wants [K, A, C]; the other axes are flattened into A / C around it.
    Returns W_eff [J, s, J, s, Cin, Cout] (axes: shift h, phase h, shift w, phase w) and j_lo.
    """
    k, _, cin, cout = kernel.shape
    s = stride
    wh, j_lo = phase_fn(kernel.reshape(k, k, cin * cout), s)  # [J, s, Kw, Cin·Cout]
    n = wh.shape[0]
    ww = wh.transpose(2, 0, 1, 3).reshape(k, n * s, cin * cout)  # W axis first for phase_fn
    ww, _ = phase_fn(ww, s)  # [Jw, sw, Jh·sh, Cin·Cout]
    ww = ww.reshape(n, s, n, s, cin, cout)  # (jw, rw, jh, rh, C, O)
    return ww.transpose(2, 3, 0, 1, 4, 5), j_lo


def _polyphase_2d(x: jax.Array, w_eff: jax.Array, j_lo: int) -> jax.Array:
    """``x`` [B, H, W, Cin], ``w_eff`` [J, s, J, s, Cin, Cout] → [B, H·s, W·s, Cout] (no bias).

    As layers._polyphase, two single-matmul forms, the one with the smaller intermediate is used:
    input side (Cin <= s²·Cout): im2col of J² shifted inputs, [B·H·W, J²·Cin] @ [J²·Cin, s²·Cout];
    output side (e.g. G's last layer, Cout = 1): [B·H·W, Cin] @ [Cin, J²·s²·Cout], then J² shifted
    slices of the partial sums are added (im2col would copy the wide input J² times).
    """
    b, h, w, cin = x.shape
    n, s, _, _, _, cout = w_eff.shape
    j_hi = j_lo + n - 1
    assert j_lo <= 0 <= j_hi, (j_lo, j_hi)
    pad = (-j_lo, j_hi)  # x[q + j] for j in [j_lo, j_hi]
    if cin <= s * s * cout:
        xp = jnp.pad(x, ((0, 0), pad, pad, (0, 0)))
        cols = _shifted_slices_2d(xp, n, h, w)  # [B, H, W, J·J·Cin], (jh, jw, C)
        wk = w_eff.transpose(0, 2, 4, 1, 3, 5).reshape(n * n * cin, s * s * cout)
        y = (cols @ wk).reshape(b, h, w, s, s, cout)
    else:
        wk = w_eff.transpose(4, 0, 2, 1, 3, 5).reshape(cin, n * n * s * s * cout)
        z = (x @ wk).reshape(b, h, w, n, n, s * s * cout)  # z[.., i, j] = x @ W_eff[j_lo + i, ..]
        zp = jnp.pad(z, ((0, 0), pad, pad, (0, 0), (0, 0), (0, 0)))
        y = sum(zp[:, i : i + h, j : j + w, i, j] for i in range(n) for j in range(n))
        y = y.reshape(b, h, w, s, s, cout)
    # depth-to-space: phase (r, v) of block (q, u) → pixel (s·q + r, s·u + v).
    return y.transpose(0, 1, 3, 2, 4, 5).reshape(b, h * s, w * s, cout)


def conv_transpose2d(
    x: jax.Array, kernel: jax.Array, bias: jax.Array | None, stride: int, impl: str = "auto"
) -> jax.Array:
    """Transposed 2-D conv; equals ``nnx.ConvTranspose(padding='SAME')`` (transpose_kernel=False).

    I.e. ``lax.conv_transpose(x, kernel, (s, s), 'SAME', ('NHWC', 'HWIO', 'NHWC')) + bias``.

    Args:
      x: [B, H, W, Cin] float.
      kernel: [K, K, Cin, Cout] (HWIO, not flipped).
      bias: [Cout] or None.
      stride: upsampling factor s >= 1 on both axes.
      impl: 'auto', 'matmul' or 'lax'.

    Returns:
      [B, H·s, W·s, Cout].
    """
    _check(x, kernel, stride, "conv_transpose2d")
    if resolve_impl(impl) == "lax":
        y = jax.lax.conv_transpose(x, kernel, (stride, stride), "SAME", dimension_numbers=_DIMS)
    else:
        y = _polyphase_2d(x, *_phase_kernel_2d(kernel, stride, _transpose_phase_kernel))
    return _add_bias(y, bias)


def upsample_conv2d(
    x: jax.Array, kernel: jax.Array, bias: jax.Array | None, stride: int, impl: str = "auto"
) -> jax.Array:
    """Nearest-neighbour upsampling ×s on H and W, then a stride-1 'SAME' conv.

    The matmul form folds the upsampling into the kernel (costs as a transposed conv, not s² times
    more). Args as :func:`conv_transpose2d`; returns [B, H·s, W·s, Cout].
    """
    _check(x, kernel, stride, "upsample_conv2d")
    if resolve_impl(impl) == "lax":
        up = jnp.repeat(jnp.repeat(x, stride, axis=1), stride, axis=2)
        return conv2d(up, kernel, bias, 1, impl="lax")
    return _add_bias(
        _polyphase_2d(x, *_phase_kernel_2d(kernel, stride, _nearest_phase_kernel)), bias
    )


# --------------------------------------------------------------------------------------------------
# NNX modules with nnx.Conv / nnx.ConvTranspose's parameters (names, shapes, initialisers), so
# parameter counts and checkpoints are unchanged: kernel [K, K, Cin, Cout] glorot_uniform, bias
# [Cout] zeros.


class _Conv2dBase(ConvBase):
    spatial_dims = 2


class Conv2d(_Conv2dBase):
    """'SAME' conv: [B, H, W, Cin] → [B, ceil(H/s), ceil(W/s), Cout]; params as nnx.Conv."""

    def __call__(self, x: jax.Array) -> jax.Array:
        return conv2d(x, *self._params(), self.stride, self.impl)


class ConvTranspose2d(_Conv2dBase):
    """Transposed 'SAME' conv: [B, H, W, Cin] → [B, H·s, W·s, Cout]; params as nnx.ConvTranspose."""

    def __call__(self, x: jax.Array) -> jax.Array:
        return conv_transpose2d(x, *self._params(), self.stride, self.impl)
