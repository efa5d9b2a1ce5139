"""1-D convolution layers for WaveGAN, written as single matmuls so they are fast on XLA:CPU.

Layout is channels-last: activations ``[B, T, C]``, kernels ``[K, Cin, Cout]``.

Why not just ``lax.conv``: on XLA:CPU WaveGAN's transposed convs and the backward pass of its
strided convs ran two orders of magnitude below a plain matmul's GFLOP/s (docs/benchmarks.md,
"Why the code is written this way"). Every layer here is therefore rewritten as

- strided conv: space-to-depth (``[B, T, Cin] → [B, T/s, s·Cin]``) + im2col of the few shifted
  block slices + ONE matmul ``[B·Tout, J·s·Cin] @ [J·s·Cin, Cout]``;
- transposed conv (zero-stuffing upsample + conv): polyphase — im2col of J shifted *input* slices
  + ONE matmul with a rearranged kernel ``[J·Cin, s·Cout]`` that yields all ``s`` output phases at
  once, then depth-to-space ``[B, T, s, Cout] → [B, T·s, Cout]``;
- nearest-neighbour upsample + stride-1 conv: the same polyphase matmul; the upsampling is folded
  into the kernel (taps that read the same input sample are summed), so it costs no more than the
  transposed conv instead of ``s`` times more.
- long one-channel stride-1 filters (WaveGAN's 512-tap post-processing filter): the real FFT
  on CPU, block-Toeplitz matmuls elsewhere (:mod:`wavegen.models.long_filter`);
- strided convs with one channel on one side (D's first layer, G's last) on a single CPU device:
  native kernels (:mod:`wavegen.models.one_channel_conv`), where XLA:CPU's GEMMs are slow at
  those skinny shapes.
Which run is decided by the :class:`~wavegen.models.target.Target` compiled for, stored by the
modules at construction (``target`` of the functions; None: :meth:`Target.local`).

Their backward passes are then matmuls, slices and pads too. ``impl='lax'`` keeps the
``lax.conv_general_dilated`` / ``lax.conv_transpose`` formulation as the reference the tests
compare against.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from flax import nnx

from wavegen.models import long_filter, one_channel_conv
from wavegen.models.target import Target, current_target

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
    One exception, decided in the layer functions (they see the shapes): on a single CPU device,
    'auto' runs strided convs with one channel on one side through the native kernels of
    :mod:`wavegen.models.one_channel_conv` (1.8-1.9x XLA's GEMMs for WaveGAN's two such layers);
    'matmul' never does.
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


def _native_ok(
    impl: str, x: jax.Array, kernel: jax.Array, channels: int, taps: int, target: Target | None
) -> bool:
    """Whether the native one-channel kernels (:mod:`one_channel_conv`) run this layer: only for
    impl='auto' (so 'matmul' and 'lax' stay pure XLA), input and kernel of one dtype, and where
    :func:`one_channel_conv.usable` says so (float32, one CPU ``target``, channels % 16 == 0;
    WaveGAN's two such layers ran at 26-37% of the matmul's rate as GEMMs: docs/benchmarks.md)."""
    return (
        impl == "auto"
        and x.dtype == kernel.dtype
        and one_channel_conv.usable(
            channels, taps, x.dtype, Target.local() if target is None else target
        )
    )


def _native_transpose_ok(
    impl: str, x: jax.Array, kernel: jax.Array, taps: int, target: Target | None
) -> bool:
    """:func:`_native_ok` for a transposed conv to one channel (effective kernel: ``taps``)."""
    _, cin, cout = kernel.shape
    return cout == 1 and _native_ok(impl, x, kernel, cin, taps, target)


# --------------------------------------------------------------------------------------------------
# Strided convolution.


def _space_to_depth(x: jax.Array, k: int, s: int) -> tuple[jax.Array, int, int]:
    """'SAME'-padded input in blocks of s samples: (xs [B, Tout+J-1, s·Cin], Tout, J).

    J = ceil(K/s) blocks of s taps cover the kernel; output o reads padded samples
    [s·o, s·o + J·s), i.e. blocks o .. o+J-1.
    """
    b, t, cin = x.shape
    out_len = -(-t // s)
    pad_l, _ = same_padding(t, k, s)
    n_blocks = -(-k // s)
    n_rows = out_len + n_blocks - 1
    xp = jnp.pad(x, ((0, 0), (pad_l, s * n_rows - t - pad_l), (0, 0)))
    return xp.reshape(b, n_rows, s * cin), out_len, n_blocks


def _conv1d_space_to_depth(x: jax.Array, kernel: jax.Array, stride: int) -> jax.Array:
    """'SAME' strided conv as space-to-depth + im2col + one matmul (no bias). See conv1d."""
    b, _, cin = x.shape
    k, _, cout = kernel.shape
    s = stride
    xs, out_len, n_blocks = _space_to_depth(x, k, s)
    # Block j holds taps s·j .. s·j+s-1 (channel m·Cin + c = tap s·j + m, input channel c); the
    # last block is cut to the K - s·(J-1) taps that exist, so the columns are exactly the K·Cin
    # of the kernel in its own layout: the weight is a free reshape (padding it to J·s taps
    # copied the whole kernel every step — 58 MB for D's last layer at d=64 — and added
    # J·s/K - 1 = 12% zero multiply-adds).
    cols = [xs[:, j : j + out_len] for j in range(n_blocks - 1)]
    cols.append(xs[:, n_blocks - 1 : n_blocks - 1 + out_len, : (k - s * (n_blocks - 1)) * cin])
    cols = cols[0] if len(cols) == 1 else jnp.concatenate(cols, axis=-1)  # [B, Tout, K·Cin]
    # An explicit 2-D matmul: with the 3-D form, XLA:CPU computed the weight gradient of D's
    # first layer ([25, B·Tout] @ [B·Tout, 64]) as a plain dot at ~10 GFLOP/s; flattened it
    # takes the fast GEMM path (the layer's forward + backward 9.5 → 4.1 ms at batch 8).
    y = cols.reshape(b * out_len, k * cin) @ kernel.reshape(k * cin, cout)
    return y.reshape(b, out_len, cout)


def _conv1d_output_side(x: jax.Array, kernel: jax.Array, stride: int) -> jax.Array:
    """'SAME' strided conv as ONE matmul of the blocked input, then a sum of J shifted slices.

    z = xs @ W_all with xs the space-to-depth input [B·(Tout+J-1), s·Cin] and W_all [s·Cin, J·Cout]
    (block j of the kernel in column group j) gives every (block, shift) partial product;
    y[o] = Σ_j z[o + j, j]. Its intermediate is J·Cout wide where the im2col is K·Cin, and the
    gradient of the im2col (J strided slices of the column gradient, padded and added) ran at
    ~1 GB/s here: for D's second and third layers this form is 1.8x faster at batch 8 (forward +
    backward), 1.2x at batch 64. The kernel rearrangement is a transpose, so it loses where the
    kernel is large against the activations (:func:`_output_side_cheaper`).
    """
    b, _, cin = x.shape
    k, _, cout = kernel.shape
    s = stride
    xs, out_len, n_blocks = _space_to_depth(x, k, s)
    n_rows = xs.shape[1]
    xs = xs.reshape(b * n_rows, s * cin)  # flattened for the GEMM
    w = jnp.pad(kernel, ((0, n_blocks * s - k), (0, 0), (0, 0))).reshape(n_blocks, s * cin, cout)
    w_all = jnp.transpose(w, (1, 0, 2)).reshape(s * cin, n_blocks * cout)
    z = (xs @ w_all).reshape(b, n_rows, n_blocks, cout)
    return sum(z[:, j : j + out_len, j] for j in range(n_blocks))


def _output_side_cheaper(x_shape: tuple[int, ...], kernel_shape: tuple[int, ...], s: int) -> bool:
    """Whether :func:`_conv1d_output_side` beats the im2col form: its intermediate must be the
    narrower (J·Cout < K·Cin) and the activations large against the kernel (B·Tout > 4·Cout, so
    the kernel transpose is paid off). Measured on every WaveGAN D layer at batch 8 and 64."""
    b, t, cin = x_shape
    k, _, cout = kernel_shape
    return -(-k // s) * cout < k * cin and b * -(-t // s) > 4 * cout


def conv1d(
    x: jax.Array,
    kernel: jax.Array,
    bias: jax.Array | None,
    stride: int = 1,
    impl: str = "auto",
    target: Target | None = None,
) -> jax.Array:
    """Strided 1-D convolution with TF/lax 'SAME' padding.

    Args:
      x: [B, T, Cin] float.
      kernel: [K, Cin, Cout].
      bias: [Cout] or None.
      stride: s >= 1.
      impl: 'auto', 'matmul' or 'lax' (see :func:`resolve_impl`).
      target: the devices this is compiled for (None: :meth:`Target.local`).

    Returns:
      [B, ceil(T / s), Cout].
    """
    _check(x, kernel, stride, "conv1d")
    k, cin, cout = kernel.shape
    if resolve_impl(impl) == "lax":
        y = jax.lax.conv_general_dilated(x, kernel, (stride,), "SAME", dimension_numbers=_DIMS)
    elif cin == 1 and _native_ok(impl, x, kernel, cout, k, target):
        pad_left, _ = same_padding(x.shape[1], k, stride)
        return one_channel_conv.strided_conv_layer(x, kernel, bias, stride, pad_left)
    elif stride == 1 and cin == cout == 1 and k >= long_filter.MIN_TAPS:
        y = long_filter.conv_same(x, kernel, same_padding(x.shape[1], k, 1)[0], target)
    elif _output_side_cheaper(x.shape, kernel.shape, stride):
        y = _conv1d_output_side(x, kernel, stride)
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
        y = cols.reshape(b * t, n_shifts * cin) @ w  # 2-D: see _conv1d_space_to_depth
    else:
        w = jnp.transpose(w_eff, (2, 0, 1, 3)).reshape(cin, n_shifts * s * cout)
        z = x.reshape(b * t, cin) @ w  # 2-D: see _conv1d_space_to_depth
        z = z.reshape(b, t, n_shifts, s * cout)  # z[t', n] = x[t'] @ W_eff[j_lo + n]
        zp = jnp.pad(z, ((0, 0), (-j_lo, j_hi), (0, 0), (0, 0)))  # zp[i] = z[i + j_lo]
        y = sum(zp[:, n : n + t, n] for n in range(n_shifts))  # y[q] = Σ_n z[q + j_lo + n, n]
    return y.reshape(b, t * s, cout)  # depth-to-space: phase r of block q → sample s·q + r


def _transpose_taps(k: int, s: int) -> tuple[int, int, int]:
    """(j_lo, J, c) of a transposed conv: shifts j_lo .. j_lo+J-1, left kernel pad c (see below)."""
    pad_a, _ = conv_transpose_padding(k, s)
    j_lo = -(pad_a // s)
    j_hi = (k - 1 - pad_a + s - 1) // s
    return j_lo, j_hi - j_lo + 1, s - 1 - pad_a % s


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
    j_lo, n_shifts, c = _transpose_taps(k, s)
    wp = jnp.pad(kernel, ((c, n_shifts * s - k - c), (0, 0), (0, 0)))
    return wp.reshape(n_shifts, s, *kernel.shape[1:])[:, ::-1], j_lo


def _conv_transpose_phases(x: jax.Array, kernel: jax.Array, stride: int) -> jax.Array:
    """Transposed conv as ``s`` matmuls, one per output phase, each with only its own taps.

    y[s·q + r] = Σ_n x[q + j_lo + n] @ W[s·n + s-1-r - c] (the indexing of
    :func:`_transpose_phase_kernel`): phase r's taps are the strided slice ``W[a_r::s]``, a copy
    of contiguous [Cin, Cout] blocks, where :func:`_polyphase` transposes the whole kernel into
    [J·Cin, s·Cout] and multiplies J·s >= K taps (28 for 25); here the matmuls take exactly K.
    Measured on G's first layer at d=64 (forward + backward): 131 → 111 ms at batch 8,
    528 → 443 ms at batch 64. The price is one im2col per phase instead of one shared, so it is
    used where the kernel outweighs the im2col (:func:`_phases_cheaper`).

    Args:
      x: [B, T, Cin].
      kernel: [K, Cin, Cout].
      stride: s.

    Returns:
      [B, T·s, Cout] (no bias).
    """
    b, t, cin = x.shape
    k, _, cout = kernel.shape
    s = stride
    j_lo, n_shifts, c = _transpose_taps(k, s)
    xp = jnp.pad(x, ((0, 0), (-j_lo, n_shifts - 1 + j_lo), (0, 0)))  # xp[q+n] = x[q+j_lo+n]
    phases = []
    for r in range(s):
        a = s - 1 - r - c
        n0 = max(0, -(a // s))  # first n whose tap s·n + a is >= 0
        n1 = min(n_shifts, -(-(k - a) // s))  # one past the last n whose tap is < K
        if n1 <= n0:  # K < s: this phase meets no tap
            phases.append(jnp.zeros((b, t, cout), x.dtype))
            continue
        taps = kernel[a + s * n0 : a + s * (n1 - 1) + 1 : s]  # [J_r, Cin, Cout]
        cols = _shifted_slices(xp, range(n0, n1), t)  # [B, T, J_r·Cin]
        y = cols.reshape(b * t, (n1 - n0) * cin) @ taps.reshape((n1 - n0) * cin, cout)
        phases.append(y.reshape(b, t, cout))
    return jnp.stack(phases, axis=2).reshape(b, t * s, cout)  # depth-to-space


def _phases_cheaper(x_shape: tuple[int, ...], kernel_shape: tuple[int, ...]) -> bool:
    """Whether :func:`_conv_transpose_phases` beats :func:`_polyphase` for these shapes.

    It saves a kernel-sized rearrangement and pays one im2col per phase, so it wins when B·T is
    small against Cout. Measured at d=64 (tools/bench_layers.py and per-layer timings): G's
    first layer wins at batch 8 and 64; its second at batch 8 has a faster forward (31 → 23 ms)
    and a slower forward + backward (65 → 71 ms) — kept, as a paper iteration runs G forward six
    times and backward once; its third layer loses (fwd+bwd 50 → 115 ms).
    """
    b, t, cin = x_shape
    _, _, cout = kernel_shape
    return b * t <= PHASES_MAX_ROWS_PER_COUT * cout


PHASES_MAX_ROWS_PER_COUT = 2  # batch 8: G's layers 0 and 1; batch 64: layer 0 only


def conv_transpose1d(
    x: jax.Array,
    kernel: jax.Array,
    bias: jax.Array | None,
    stride: int,
    impl: str = "auto",
    target: Target | None = None,
) -> jax.Array:
    """Transposed 1-D convolution; equals ``lax.conv_transpose(x, kernel, (s,), 'SAME', NWC/WIO)``.

    Args:
      x: [B, T, Cin] float.
      kernel: [K, Cin, Cout] (not flipped, as ``lax.conv_transpose`` with transpose_kernel=False).
      bias: [Cout] or None.
      stride: upsampling factor s >= 1.
      impl: 'auto', 'matmul' or 'lax'.
      target: the devices this is compiled for (None: :meth:`Target.local`).

    Returns:
      [B, T·s, Cout].
    """
    _check(x, kernel, stride, "conv_transpose1d")
    if resolve_impl(impl) == "lax":
        y = jax.lax.conv_transpose(x, kernel, (stride,), "SAME", dimension_numbers=_DIMS)
    elif _native_transpose_ok(impl, x, kernel, kernel.shape[0], target):
        # lax.conv_transpose is Σ_t x[t] W[s·t + pad_a - o]: the flipped kernel read at offset
        # K-1-pad_a (see one_channel_conv.transposed_conv_layer).
        k = kernel.shape[0]
        pad_a, _ = conv_transpose_padding(k, stride)
        y = one_channel_conv.transposed_conv_layer(x, kernel[::-1, :, 0], stride, k - 1 - pad_a)
    elif _phases_cheaper(x.shape, kernel.shape):
        y = _conv_transpose_phases(x, kernel, stride)
    else:
        y = _polyphase(x, *_transpose_phase_kernel(kernel, stride))
    return _add_bias(y, bias)


def _nearest_taps(k: int, s: int) -> tuple[int, int, int]:
    """(j_lo, J, c) of nearest upsampling + 'SAME' conv: shifts j_lo .. j_lo+J-1 and the box
    kernel offset c = s·j_lo + p <= 0 (see :func:`_nearest_phase_kernel`)."""
    p, _ = same_padding(k, k, 1)
    j_lo = (-p) // s
    j_hi = (s - 1 + k - 1 - p) // s
    return j_lo, j_hi - j_lo + 1, s * j_lo + p


def _box_kernel(kernel: jax.Array, s: int) -> jax.Array:
    """box[i] = Σ_m W[i - (s-1) + m] over m in [0, s) and taps inside W: [K+s-1, Cin, Cout]."""
    k = kernel.shape[0]
    wp = jnp.pad(kernel, ((s - 1, s - 1), (0, 0), (0, 0)))
    return sum(wp[m : m + k + s - 1] for m in range(s))


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
    j_lo, n_shifts, c = _nearest_taps(k, s)
    box = _box_kernel(kernel, s)
    box_len = box.shape[0]
    # W_eff[j, r] = box[s·(j - j_lo) + (s-1-r) + c] with c = s·j_lo + p <= 0: shift by -c.
    zero = jnp.zeros((), kernel.dtype)
    bp = jax.lax.pad(box, zero, ((-c, n_shifts * s - box_len + c, 0), (0, 0, 0), (0, 0, 0)))
    return bp.reshape(n_shifts, s, *kernel.shape[1:])[:, ::-1], j_lo


def upsample_conv1d(
    x: jax.Array,
    kernel: jax.Array,
    bias: jax.Array | None,
    stride: int,
    impl: str = "auto",
    target: Target | None = None,
) -> jax.Array:
    """Nearest-neighbour upsampling by ``stride`` followed by a stride-1 'SAME' conv.

    The WaveGAN paper's alternative to transposed convs (``upsample='nearest'``). The matmul form
    folds the upsampling into the kernel, so it costs as much as a transposed conv, not s times it.
    Args as :func:`conv_transpose1d` (kernel [K, Cin, Cout]); returns [B, T·s, Cout].
    """
    _check(x, kernel, stride, "upsample_conv1d")
    if resolve_impl(impl) == "lax":
        return conv1d(jnp.repeat(x, stride, axis=1), kernel, bias, 1, impl="lax")
    k = kernel.shape[0]
    if _native_transpose_ok(impl, x, kernel, k + stride - 1, target):
        # Nearest upsampling + a 'SAME' conv with left pad p is Σ_t x[t] Box[s·t + p + s-1 - o],
        # Box the kernel summed over s shifts (_box_kernel): the transposed conv of the flipped
        # box read at offset K-1-p.
        p, _ = same_padding(k, k, 1)
        taps = _box_kernel(kernel, stride)[::-1, :, 0]
        y = one_channel_conv.transposed_conv_layer(x, taps, stride, k - 1 - p)
        return _add_bias(y, bias)
    if _phases_cheaper(x.shape, kernel.shape):
        return _add_bias(_upsample_conv_by_transpose(x, kernel, stride), bias)
    return _add_bias(_polyphase(x, *_nearest_phase_kernel(kernel, stride)), bias)


def _upsample_conv_by_transpose(x: jax.Array, kernel: jax.Array, stride: int) -> jax.Array:
    """Nearest upsampling + 'SAME' conv as a transposed conv followed by a box sum over time.

    Nearest upsampling is zero-stuffing followed by a box of s ones, and convolutions commute,
    so y[o] = Σ_{m<s} t[o + a - m] with t = the transposed conv of x with the kernel itself and
    a = pad_a - p (its 'SAME' offset against the stride-1 conv's left pad p). The box then runs
    on the [B, T·s, Cout] output instead of on the kernel: for G's first layer the kernel box
    (a pad and a 4-term sum over 52 MB, forward and backward) cost more than the products. t is
    needed one block beyond each end, so x is padded by one sample on both sides (the transposed
    conv is shift-invariant: its output for the padded input is t shifted by s).
    """
    b, t, _ = x.shape
    k = kernel.shape[0]
    s = stride
    pad_a, _ = conv_transpose_padding(k, s)
    p, _ = same_padding(k, k, 1)
    a = pad_a - p
    assert -1 <= a <= s, (k, s, a)  # the taps below stay inside the padded output
    xp = jnp.pad(x, ((0, 0), (1, 1), (0, 0)))
    y_ext = _conv_transpose_phases(xp, kernel, s)  # y_ext[o + s] = t[o], o in [-s, T·s + s)
    n = t * s
    return sum(y_ext[:, s + a - m : s + a - m + n] for m in range(s))


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
    1-D layers here and the 2-D ones of :mod:`wavegen.models.layers2d`; checks impl and sizes.
    ``use_bias``, ``rngs`` and ``target`` by keyword; ``target`` (None:
    :func:`~.target.current_target` now) is kept as static metadata."""

    spatial_dims = 1

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
        target: Target | None = None,
    ):
        resolve_impl(impl)  # fail at construction, not inside a jit trace
        if min(in_features, out_features, kernel_size, stride) < 1:
            raise ValueError(
                f"{type(self).__name__}: features, kernel_size and stride must be >= 1, got "
                f"{in_features}, {out_features}, {kernel_size}, {stride}"
            )
        self.stride = stride
        self.impl = impl
        self.target = current_target() if target is None else target
        init = nnx.initializers.glorot_uniform()
        shape = (kernel_size,) * self.spatial_dims + (in_features, out_features)
        self.kernel = nnx.Param(init(rngs.params(), shape, jnp.float32))
        self.bias = nnx.Param(jnp.zeros((out_features,), jnp.float32)) if use_bias else None

    def _params(self) -> tuple[jax.Array, jax.Array | None]:
        return self.kernel[...], (None if self.bias is None else self.bias[...])


class Conv1d(ConvBase):
    """Strided 'SAME' conv: [B, T, Cin] → [B, ceil(T/s), Cout]; params kernel [K,Cin,Cout], bias."""

    def __call__(self, x: jax.Array) -> jax.Array:
        return conv1d(x, *self._params(), self.stride, self.impl, self.target)


class ConvTranspose1d(ConvBase):
    """Transposed 'SAME' conv: [B, T, Cin] → [B, T·s, Cout]. Params: kernel [K,Cin,Cout], bias."""

    def __call__(self, x: jax.Array) -> jax.Array:
        return conv_transpose1d(x, *self._params(), self.stride, self.impl, self.target)


class UpsampleConv1d(ConvBase):
    """Nearest upsample ×s + stride-1 'SAME' conv: [B, T, Cin] → [B, T·s, Cout]."""

    def __call__(self, x: jax.Array) -> jax.Array:
        return upsample_conv1d(x, *self._params(), self.stride, self.impl, self.target)
