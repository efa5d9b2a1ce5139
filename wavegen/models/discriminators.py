"""Audio discriminators for adversarial training of any waveform generator.

Every discriminator maps a batch of waveforms ``x [B, T]`` to a list with one entry per
sub-discriminator, ``(logits, [feature maps])``: logits of any shape with leading axis B (every
element is a real/fake score), feature maps the hidden activations used by feature matching.

- :class:`MultiScaleDiscriminator` — MelGAN (Kumar et al. 2019): the same conv stack on the
  waveform and on 2× and 4× average-pooled copies; grouped strided convs.
- :class:`MultiPeriodDiscriminator` — HiFi-GAN (Kong et al. 2020): for each period p the signal
  is folded to [T/p, p] and convs run along the T/p axis only (2-D kernels (k, 1)), so each
  sub-discriminator sees samples p apart.
- :class:`MultiResolutionSTFTDiscriminator` — EnCodec / DAC (Défossez et al. 2022): 2-D convs
  over the real and imaginary parts of complex STFTs at several resolutions.

Channel widths are arguments so tests (and CPU runs) can use tiny ones; the defaults are the
papers'. Weight/spectral normalisation of the papers is not applied here (as WaveGAN's critic,
``model.spectral_norm`` normalises every kernel: :mod:`wavegen.models.spectral_norm`).

The 1-D convs (with stride, dilation, groups and explicit padding, which the matmul layers of
:mod:`wavegen.models.layers` do not offer) are im2col + one matmul (per group), for the same
reason as there: ``lax.conv`` differentiates slowly on XLA:CPU. The STFT discriminator's 2-D
convs are a sum of one matmul per kernel tap over strided slices: an im2col of a
[frames, 1025, C] map would need gigabytes at the paper's width, and ``lax.conv`` was slower
still on CPU (docs/benchmarks.md, "Why the code is written this way"); it stays memory-bound, so
use the STFT discriminator on an accelerator.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
from flax import nnx

from wavegen.audio.stft import complex_stft

LEAK = 0.2
DiscriminatorOutput = list[tuple[jax.Array, list[jax.Array]]]


def conv1d_general(
    x: jax.Array,
    kernel: jax.Array,
    bias: jax.Array | None,
    *,
    stride: int = 1,
    dilation: int = 1,
    groups: int = 1,
    padding: tuple[int, int] = (0, 0),
) -> jax.Array:
    """1-D conv (cross-correlation, as ``lax.conv_general_dilated``) with explicit zero padding.

    Args:
      x: [B, T, Cin].
      kernel: [K, Cin / groups, Cout]; output channel o belongs to group o // (Cout / groups).
      bias: [Cout] or None.
      stride, dilation, groups: as in ``torch.nn.Conv1d``.
      padding: zeros (left, right).

    Returns:
      [B, (T + left + right - dilation·(K-1) - 1) // stride + 1, Cout].
    """
    b, t, cin = x.shape
    k, cin_g, cout = kernel.shape
    if cin != cin_g * groups or cout % groups:
        raise ValueError(
            f"conv1d_general: x has {cin} channels and kernel {kernel.shape} with groups={groups}; "
            "expected Cin = kernel.shape[1]·groups and Cout divisible by groups"
        )
    xp = jnp.pad(x, ((0, 0), padding, (0, 0)))
    out_len = (xp.shape[1] - dilation * (k - 1) - 1) // stride + 1
    if out_len < 1:
        raise ValueError(f"conv1d_general: input length {t} is too short for kernel {k}")
    span = (out_len - 1) * stride + 1
    cols = [
        jax.lax.slice_in_dim(xp, j * dilation, j * dilation + span, stride, axis=1)
        for j in range(k)
    ]
    if groups == 1:
        y = jnp.concatenate(cols, axis=-1) @ kernel.reshape(k * cin, cout)
    else:
        c = jnp.stack(cols, axis=2).reshape(b, out_len, k, groups, cin_g)
        w = kernel.reshape(k, cin_g, groups, cout // groups)
        y = jnp.einsum("btkgc,kcgo->btgo", c, w).reshape(b, out_len, cout)
    return y if bias is None else y + bias


class Conv1dGeneral(nnx.Module):
    """nnx wrapper of :func:`conv1d_general`; PyTorch-style uniform(±1/sqrt(fan_in)) init."""

    def __init__(
        self,
        cin: int,
        cout: int,
        kernel_size: int,
        *,
        stride: int = 1,
        dilation: int = 1,
        groups: int = 1,
        padding: tuple[int, int] | None = None,
        rngs: nnx.Rngs,
    ):
        if cin % groups or cout % groups:
            raise ValueError(f"Conv1dGeneral: {cin}→{cout} channels not divisible by {groups}")
        self.stride, self.dilation, self.groups = stride, dilation, groups
        half = dilation * (kernel_size - 1) // 2
        self.padding = tuple(padding) if padding is not None else (half, half)
        bound = 1.0 / (kernel_size * cin // groups) ** 0.5
        shape = (kernel_size, cin // groups, cout)
        self.kernel = nnx.Param(
            jax.random.uniform(rngs.params(), shape, minval=-bound, maxval=bound)
        )
        self.bias = nnx.Param(
            jax.random.uniform(rngs.params(), (cout,), minval=-bound, maxval=bound)
        )

    def __call__(self, x: jax.Array) -> jax.Array:
        return conv1d_general(
            x,
            self.kernel[...],
            self.bias[...],
            stride=self.stride,
            dilation=self.dilation,
            groups=self.groups,
            padding=self.padding,
        )


def conv2d_same(
    x: jax.Array,
    kernel: jax.Array,
    bias: jax.Array | None,
    strides: tuple[int, int] = (1, 1),
    dilation: tuple[int, int] = (1, 1),
) -> jax.Array:
    """2-D conv with lax 'SAME' padding as a sum over kernel taps of (strided slice) @ W[i, j].

    Args:
      x: [B, H, W, Cin].
      kernel: [kh, kw, Cin, Cout].
      bias: [Cout] or None.
      strides, dilation: per spatial axis.

    Returns:
      [B, ceil(H / sh), ceil(W / sw), Cout], equal to ``lax.conv_general_dilated(x, kernel,
      strides, 'SAME', rhs_dilation=dilation)`` in NHWC/HWIO.
    """
    kh, kw, _, _ = kernel.shape
    pads, outs = [], []
    for size, k, s, d in zip(x.shape[1:3], (kh, kw), strides, dilation, strict=True):
        out = -(-size // s)
        total = max((out - 1) * s + d * (k - 1) + 1 - size, 0)
        pads.append((total // 2, total - total // 2))
        outs.append(out)
    xp = jnp.pad(x, ((0, 0), pads[0], pads[1], (0, 0)))
    b, cin = x.shape[0], x.shape[-1]
    y = None
    for i in range(kh):
        for j in range(kw):
            start = (0, i * dilation[0], j * dilation[1], 0)
            limit = (
                b,
                start[1] + (outs[0] - 1) * strides[0] + 1,
                start[2] + (outs[1] - 1) * strides[1] + 1,
                cin,
            )
            tap = jax.lax.slice(xp, start, limit, (1, strides[0], strides[1], 1)) @ kernel[i, j]
            y = tap if y is None else y + tap
    return y if bias is None else y + bias


class Conv2dSame(nnx.Module):
    """nnx wrapper of :func:`conv2d_same`; PyTorch-style uniform(±1/sqrt(fan_in)) init."""

    def __init__(
        self,
        cin: int,
        cout: int,
        kernel_size: tuple[int, int],
        strides: tuple[int, int] = (1, 1),
        dilation: tuple[int, int] = (1, 1),
        *,
        rngs: nnx.Rngs,
    ):
        self.strides, self.dilation = tuple(strides), tuple(dilation)
        bound = 1.0 / (kernel_size[0] * kernel_size[1] * cin) ** 0.5
        shape = (*kernel_size, cin, cout)
        self.kernel = nnx.Param(
            jax.random.uniform(rngs.params(), shape, minval=-bound, maxval=bound)
        )
        self.bias = nnx.Param(
            jax.random.uniform(rngs.params(), (cout,), minval=-bound, maxval=bound)
        )

    def __call__(self, x: jax.Array) -> jax.Array:
        return conv2d_same(x, self.kernel[...], self.bias[...], self.strides, self.dilation)


def _run_stack(convs: Sequence[nnx.Module], h: jax.Array) -> tuple[jax.Array, list[jax.Array]]:
    """All convs but the last with LeakyReLU (their outputs are the features), last = logits."""
    feats = []
    for conv in convs[:-1]:
        h = jax.nn.leaky_relu(conv(h), LEAK)
        feats.append(h)
    return convs[-1](h), feats


# --------------------------------------------------------------------------------------------
# MelGAN multi-scale discriminator.


class ScaleDiscriminator(nnx.Module):
    """MelGAN's per-scale discriminator: x [B, T] → (logits [B, T/256, 1], 6 feature maps).

    k15 conv to ``channels``; four k41 stride-4 grouped convs (width ×4 up to ``max_channels``,
    groups = width_in / 4); a k5 conv; a k3 conv to one logit channel.
    """

    def __init__(
        self,
        channels: int = 16,
        max_channels: int = 1024,
        downsamples: Sequence[int] = (4, 4, 4, 4),
        *,
        rngs: nnx.Rngs,
    ):
        convs = [Conv1dGeneral(1, channels, 15, rngs=rngs)]
        width = channels
        for stride in downsamples:
            out = min(width * 4, max_channels)
            groups = max(1, width // 4)
            while out % groups:  # keep the grouping valid for arbitrary small widths
                groups -= 1
            convs.append(
                Conv1dGeneral(
                    width,
                    out,
                    10 * stride + 1,
                    stride=stride,
                    groups=groups,
                    rngs=rngs,
                    padding=(5 * stride, 5 * stride),
                )
            )
            width = out
        convs.append(Conv1dGeneral(width, width, 5, rngs=rngs))
        convs.append(Conv1dGeneral(width, 1, 3, rngs=rngs))
        self.convs = nnx.List(convs)

    def __call__(self, x: jax.Array) -> tuple[jax.Array, list[jax.Array]]:
        return _run_stack(self.convs, x[..., None])


def avg_pool_4_2(x: jax.Array) -> jax.Array:
    """MelGAN's ``AvgPool1d(4, stride=2, padding=1, count_include_pad=False)``: [B, T] → [B, T/2].

    Each output averages the real samples of a window of 4 (3 at the edges).
    """
    t = x.shape[-1]
    xp = jnp.pad(x, ((0, 0), (1, 1)))
    ones = jnp.pad(jnp.ones((1, t), x.dtype), ((0, 0), (1, 1)))
    out_len = (t + 2 - 4) // 2 + 1

    def window_sum(a: jax.Array) -> jax.Array:
        return sum(
            jax.lax.slice_in_dim(a, j, j + 2 * (out_len - 1) + 1, 2, axis=1) for j in range(4)
        )

    return window_sum(xp) / window_sum(ones)


class MultiScaleDiscriminator(nnx.Module):
    """``num_scales`` :class:`ScaleDiscriminator` on x, pool(x), pool(pool(x)), ..."""

    def __init__(
        self,
        num_scales: int = 3,
        channels: int = 16,
        max_channels: int = 1024,
        downsamples: Sequence[int] = (4, 4, 4, 4),
        *,
        rngs: nnx.Rngs,
    ):
        self.scales = nnx.List(
            [
                ScaleDiscriminator(channels, max_channels, downsamples, rngs=rngs)
                for _ in range(num_scales)
            ]
        )

    def __call__(self, x: jax.Array) -> DiscriminatorOutput:
        out = []
        for i, disc in enumerate(self.scales):
            if i > 0:
                x = avg_pool_4_2(x)
            out.append(disc(x))
        return out


# --------------------------------------------------------------------------------------------
# HiFi-GAN multi-period discriminator.


class PeriodDiscriminator(nnx.Module):
    """HiFi-GAN's sub-discriminator of period p: x [B, T] → (logits [B, T'·p], 5 feature maps).

    x is reflect-padded to a multiple of p and folded to p interleaved sequences of length T/p
    (the 2-D [T/p, p] view with (k, 1) kernels is exactly that); each gets k5 stride-3 convs
    through ``channels``, a k5 conv and a k3 conv to one logit channel. Feature maps are
    [B, p, T_l, C_l].
    """

    def __init__(
        self, period: int, channels: Sequence[int] = (32, 128, 512, 1024), *, rngs: nnx.Rngs
    ):
        self.period = period
        convs, width = [], 1
        for c in channels:
            convs.append(Conv1dGeneral(width, c, 5, stride=3, padding=(2, 2), rngs=rngs))
            width = c
        convs.append(Conv1dGeneral(width, width, 5, padding=(2, 2), rngs=rngs))
        convs.append(Conv1dGeneral(width, 1, 3, padding=(1, 1), rngs=rngs))
        self.convs = nnx.List(convs)

    def __call__(self, x: jax.Array) -> tuple[jax.Array, list[jax.Array]]:
        b, t = x.shape
        p = self.period
        pad = -t % p
        if pad:
            x = jnp.pad(x, ((0, 0), (0, pad)), mode="reflect")
        # [B, T/p, p] → [B, p, T/p] → [B·p, T/p, 1]: each phase is an independent sequence.
        h = x.reshape(b, -1, p).transpose(0, 2, 1).reshape(b * p, -1, 1)
        logits, feats = _run_stack(self.convs, h)
        feats = [f.reshape(b, p, *f.shape[1:]) for f in feats]
        return logits.reshape(b, -1), feats


class MultiPeriodDiscriminator(nnx.Module):
    """One :class:`PeriodDiscriminator` per period (HiFi-GAN: 2, 3, 5, 7, 11)."""

    def __init__(
        self,
        periods: Sequence[int] = (2, 3, 5, 7, 11),
        channels: Sequence[int] = (32, 128, 512, 1024),
        *,
        rngs: nnx.Rngs,
    ):
        self.periods = nnx.List([PeriodDiscriminator(p, channels, rngs=rngs) for p in periods])

    def __call__(self, x: jax.Array) -> DiscriminatorOutput:
        return [disc(x) for disc in self.periods]


# --------------------------------------------------------------------------------------------
# EnCodec multi-resolution complex-STFT discriminator.


class STFTDiscriminator(nnx.Module):
    """EnCodec's sub-discriminator at one resolution: x [B, T] → (logits [B, F', K', 1], 5 maps).

    Conv (3, 9) to ``channels``; three (3, 9) convs with stride (1, 2) along frequency and
    dilation 1, 2, 4 along time; a (3, 3) conv; a (3, 3) conv to one logit channel.
    """

    def __init__(self, n_fft: int, hop_length: int | None = None, channels: int = 32, *, rngs):
        self.n_fft = n_fft
        self.hop_length = hop_length or n_fft // 4
        c = channels

        def conv(cin, cout, kernel, strides=(1, 1), dilation=(1, 1)):
            return Conv2dSame(cin, cout, kernel, strides, dilation, rngs=rngs)

        self.convs = nnx.List(
            [
                conv(2, c, (3, 9)),
                conv(c, c, (3, 9), (1, 2), (1, 1)),
                conv(c, c, (3, 9), (1, 2), (2, 1)),
                conv(c, c, (3, 9), (1, 2), (4, 1)),
                conv(c, c, (3, 3)),
                conv(c, 1, (3, 3)),
            ]
        )

    def __call__(self, x: jax.Array) -> tuple[jax.Array, list[jax.Array]]:
        return _run_stack(self.convs, complex_stft(x, self.n_fft, self.hop_length))


class MultiResolutionSTFTDiscriminator(nnx.Module):
    """One :class:`STFTDiscriminator` per FFT size (EnCodec: 2048, 1024, 512; hop n_fft/4)."""

    def __init__(
        self, fft_sizes: Sequence[int] = (2048, 1024, 512), channels: int = 32, *, rngs: nnx.Rngs
    ):
        self.stfts = nnx.List([STFTDiscriminator(n, None, channels, rngs=rngs) for n in fft_sizes])

    def __call__(self, x: jax.Array) -> DiscriminatorOutput:
        return [disc(x) for disc in self.stfts]


class CombinedDiscriminator(nnx.Module):
    """Several multi-discriminators as one: their output lists concatenated."""

    def __init__(self, parts: Sequence[nnx.Module]):
        if not parts:
            raise ValueError("CombinedDiscriminator: expected at least one discriminator")
        self.parts = nnx.List(list(parts))

    def __call__(self, x: jax.Array) -> DiscriminatorOutput:
        return [out for part in self.parts for out in part(x)]


DISCRIMINATORS = ("msd", "mpd", "stft")


def build_discriminator(
    names: Sequence[str],
    *,
    channels: int = 16,
    periods: Sequence[int] = (2, 3, 5, 7, 11),
    fft_sizes: Sequence[int] = (2048, 1024, 512),
    num_scales: int = 3,
    rngs: nnx.Rngs,
) -> CombinedDiscriminator:
    """A :class:`CombinedDiscriminator` of the named kinds, all scaled by ``channels``.

    Args:
      names: subset of :data:`DISCRIMINATORS`.
      channels: base width: MSD first width; MPD widths (2, 8, 32, 64)·channels (the paper's
        32, 128, 512, 1024 at 16); STFT width 2·channels (the paper's 32 at 16).
    """
    parts = []
    for name in names:
        if name == "msd":
            parts.append(MultiScaleDiscriminator(num_scales, channels, 64 * channels, rngs=rngs))
        elif name == "mpd":
            widths = tuple(f * channels for f in (2, 8, 32, 64))
            parts.append(MultiPeriodDiscriminator(tuple(periods), widths, rngs=rngs))
        elif name == "stft":
            parts.append(
                MultiResolutionSTFTDiscriminator(tuple(fft_sizes), 2 * channels, rngs=rngs)
            )
        else:
            raise ValueError(f"discriminator names must be in {DISCRIMINATORS}, got {name!r}")
    return CombinedDiscriminator(parts)
