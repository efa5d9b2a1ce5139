"""A RAVE-like waveform VAE (Caillon & Esling 2021): PQMF sub-bands → conv encoder → latent
sequence → conv decoder → sub-bands → waveform.

Shapes (channels-last; M = ``model.pqmf_bands``, or 1 without PQMF; R = prod(``model.ratios``)):

- encoder: bands [B, T/M, M] → (mean, logvar) [B, T/(M·R), latent_dim]
- decoder: z [B, T/(M·R), latent_dim] → bands [B, T/M, M]
- total compression ``M · R`` samples per latent frame (e.g. 16 · 128 = 2048, RAVE's default).

Encoder: conv k7 to ``capacity`` channels; per ratio r: a residual stack (dilated k3 convs,
dilations ``dilations``) and a stride-r conv with kernel 2r+1 that doubles the width (capped
at ``max_channels``); then a k5 conv to 2·latent (mean and scale; std = softplus + 1e-4 as in
RAVE). Decoder mirrors it: conv k7 from the latent, per ratio an upsampling by r halving the
width (transposed conv with kernel 2r as RAVE, or nearest-neighbour + conv, ``upsample``)
and a residual stack, then a k7 conv to M+1 channels: the bands are
``tanh(wave) · sigmoid(amplitude)`` (RAVE's waveform × loudness split, without its noise synth).

No normalisation layers: batch statistics would couple the examples of a batch (and RAVE's
batch norm needs running averages in the state); the nets here train stably without.

The strided and transposed convs are the matmul-formulated layers of :mod:`wavegen.models.layers`;
the dilated convs of the residual stacks use the same im2col + one-matmul idea (here), because
``lax.conv`` with dilation is slow to differentiate on XLA:CPU.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from flax import nnx

from wavegen.errors import ConfigError
from wavegen.models.layers import IMPLS, Conv1d, ConvTranspose1d, UpsampleConv1d
from wavegen.models.pqmf import PQMF

# The VAE's ``model`` section but its discriminator (``wavegen.train.vae.vae_config`` adds
# that, below, and the loss/train keys).
VAE_MODEL_DEFAULTS = dict(
    name="vae",
    latent_dim=128,  # latent channels per frame (RAVE v1)
    # 'auto' picks the fast matmul formulation; 'lax' forces lax.conv (for comparison).
    conv_impl="auto",
    pqmf_bands=16,  # 0 (or 1): no PQMF, the encoder sees the waveform itself
    pqmf_attenuation=100.0,  # dB, sets the prototype's Kaiser beta and length
    capacity=32,  # channels after the first encoder conv
    max_channels=512,
    ratios=(4, 4, 4, 2),  # encoder strides (decoder: reversed upsampling factors)
    dilations=(1, 3, 9),  # one residual block per dilation, at every resolution
    kernel_size=3,  # of the residual blocks' dilated convs
    # Decoder upsampling: 'transpose' (RAVE: transposed conv, kernel 2r) or 'nearest'
    # (nearest-neighbour ×r then a kernel-(2r+1) conv, which has no checkerboard artefacts).
    upsample="transpose",
    # Nonlinearity of every conv block: 'leaky_relu' (RAVE, MelGAN; slope 0.2) or 'snake'
    # (BigVGAN, DAC: x + sin²(αx)/α with a learned α per channel, a periodic inductive bias
    # for waveform decoders).
    activation="leaky_relu",
    # Harmonic oscillator bank (DDSP): 0 = off; K > 0 makes the last latent channel the input's
    # pitch, log2(f0 / 440 Hz) by YIN per latent frame (wavegen.models.harmonic), and adds
    # K harmonics at that f0, with amplitudes from the decoder, to its PQMF output.
    harmonics=0,
    f0_range=(40.0, 2000.0),  # Hz, YIN's search range and the clip range of decoded f0
    # 'float32' or 'bfloat16' convs (params, optimiser state, PQMF, losses stay float32;
    # wavegen.models.precision).
    compute_dtype="float32",
)
# ``model.discriminator``: the adversarial phase's multi-discriminator (built by the task from
# wavegen.models.discriminators).
VAE_DISCRIMINATOR_DEFAULTS = dict(
    names=("mpd", "stft"),  # of wavegen.models.discriminators, as one multi-discriminator
    channels=16,
    periods=(2, 3, 5, 7, 11),  # of 'mpd'
    fft_sizes=(2048, 1024, 512),  # of 'stft'
    scales=3,  # of 'msd'
)
UPSAMPLES = ("transpose", "nearest")
ACTIVATIONS = ("leaky_relu", "snake")
LEAK = 0.2  # LeakyReLU slope (RAVE, MelGAN)


class VAEConfigError(ConfigError):
    """A VAE config key is invalid (the message names the key)."""


@dataclass(frozen=True)
class VAESettings:
    """The VAE's resolved architecture (from the ``model`` section, :data:`VAE_MODEL_DEFAULTS`)."""

    length: int
    latent_dim: int
    pqmf_bands: int
    pqmf_attenuation: float
    capacity: int
    max_channels: int
    ratios: tuple[int, ...]
    dilations: tuple[int, ...]
    kernel_size: int
    conv_impl: str
    upsample: str
    activation: str = "leaky_relu"
    harmonics: int = 0
    f0_range: tuple[float, float] = (40.0, 2000.0)
    sample_rate: int = 16000

    @property
    def learned_dim(self) -> int:
        """Latent channels the encoder learns: all but the pitch channel when it exists."""
        return self.latent_dim - 1 if self.harmonics else self.latent_dim

    @property
    def bands(self) -> int:
        """Channels of the encoder input / decoder output: M, or 1 without PQMF."""
        return self.pqmf_bands if self.pqmf_bands > 1 else 1

    @property
    def compression(self) -> int:
        """Waveform samples per latent frame."""
        return self.bands * math.prod(self.ratios)

    @property
    def latent_frames(self) -> int:
        return self.length // self.compression

    def widths(self) -> list[int]:
        """Encoder widths: [capacity, ...] one more entry than ratios (decoder: reversed)."""
        return [min(self.capacity * 2**i, self.max_channels) for i in range(len(self.ratios) + 1)]


def _is_int(v: object) -> bool:
    return isinstance(v, int | np.integer) and not isinstance(v, bool)


def vae_settings(cfg: ml_collections.ConfigDict) -> VAESettings:
    """Reads and checks the VAE keys of ``cfg.model`` (and ``cfg.data.length``).

    Raises:
      VAEConfigError: naming the key and what was expected.
    """
    m = cfg.model

    def get(key: str):
        return m[key]

    def require(ok: bool, key: str, expected: str) -> None:
        if not ok:
            got = get(key.removeprefix("model."))
            raise VAEConfigError(f"config key {key}: expected {expected}, got {got!r}")

    for key in ("capacity", "max_channels", "kernel_size", "latent_dim"):
        require(_is_int(get(key)) and get(key) > 0, f"model.{key}", "an integer > 0")
    require(_is_int(get("pqmf_bands")) and get("pqmf_bands") >= 0, "model.pqmf_bands", ">= 0")
    require(get("kernel_size") % 2 == 1, "model.kernel_size", "an odd integer")
    ratios, dilations = tuple(get("ratios")), tuple(get("dilations"))
    require(
        len(ratios) > 0 and all(_is_int(r) and r > 0 for r in ratios),
        "model.ratios",
        "a non-empty list of integers > 0",
    )
    require(all(_is_int(d) and d > 0 for d in dilations), "model.dilations", "integers > 0")
    require(m.conv_impl in IMPLS, "model.conv_impl", f"one of {IMPLS}")
    require(get("upsample") in UPSAMPLES, "model.upsample", f"one of {UPSAMPLES}")
    require(get("activation") in ACTIVATIONS, "model.activation", f"one of {ACTIVATIONS}")
    require(
        _is_int(get("harmonics")) and get("harmonics") >= 0,
        "model.harmonics",
        "an integer >= 0",
    )
    sr = int(cfg.data.sample_rate)
    f0_range = tuple(float(f) for f in get("f0_range"))
    require(
        len(f0_range) == 2 and 0 < f0_range[0] < f0_range[1] <= sr / 2,
        "model.f0_range",
        f"(fmin, fmax) Hz with 0 < fmin < fmax <= sample_rate / 2 = {sr / 2}",
    )
    if get("harmonics"):
        require(get("latent_dim") >= 2, "model.latent_dim", ">= 2 (one is the pitch channel)")
    s = VAESettings(
        length=int(cfg.data.length),
        latent_dim=int(m.latent_dim),
        pqmf_bands=int(get("pqmf_bands")),
        pqmf_attenuation=float(get("pqmf_attenuation")),
        capacity=int(get("capacity")),
        max_channels=int(get("max_channels")),
        ratios=tuple(int(r) for r in ratios),
        dilations=tuple(int(d) for d in dilations),
        kernel_size=int(get("kernel_size")),
        conv_impl=m.conv_impl,
        upsample=str(get("upsample")),
        activation=str(get("activation")),
        harmonics=int(get("harmonics")),
        f0_range=(f0_range[0], f0_range[1]),
        sample_rate=sr,
    )
    if s.length % s.compression:
        raise VAEConfigError(
            f"config key data.length: expected a multiple of the VAE's compression "
            f"{s.compression} (pqmf_bands · prod(ratios)), got {s.length}"
        )
    return s


# --------------------------------------------------------------------------------------------
# Layers.


def dilated_conv1d(
    x: jax.Array, kernel: jax.Array, bias: jax.Array | None, dilation: int
) -> jax.Array:
    """Stride-1 'SAME' dilated conv as im2col of K dilated slices and one matmul.

    Args:
      x: [B, T, Cin].
      kernel: [K, Cin, Cout], K odd.
      bias: [Cout] or None.
      dilation: d >= 1; tap j reads ``x[t + d·(j - (K-1)/2)]``.

    Returns:
      [B, T, Cout].
    """
    b, t, cin = x.shape
    k, _, cout = kernel.shape
    half = dilation * (k - 1) // 2
    xp = jnp.pad(x, ((0, 0), (half, half), (0, 0)))
    cols = jnp.concatenate([xp[:, j * dilation : j * dilation + t] for j in range(k)], axis=-1)
    y = cols @ kernel.reshape(k * cin, cout)
    return y if bias is None else y + bias


def snake(x: jax.Array, alpha: jax.Array) -> jax.Array:
    """Snake activation ``x + sin²(αx) / α`` (Ziyin et al. 2020; BigVGAN, DAC), per channel.

    Args:
      x: [B, T, C].
      alpha: [C] frequencies (> 0; the 1e-9 keeps a zero α finite, as DAC's).

    Returns:
      [B, T, C].
    """
    alpha = alpha.astype(x.dtype)
    return x + jnp.square(jnp.sin(alpha * x)) / (alpha + 1e-9)


class Activation(nnx.Module):
    """The blocks' nonlinearity: leaky ReLU (slope :data:`LEAK`) or Snake with α [C] (init 1)."""

    def __init__(self, kind: str, channels: int):
        self.kind = kind
        if kind == "snake":
            self.alpha = nnx.Param(jnp.ones((channels,), jnp.float32))

    def __call__(self, x: jax.Array) -> jax.Array:
        if self.kind == "snake":
            return snake(x, self.alpha[...])
        return jax.nn.leaky_relu(x, LEAK)


class DilatedConv1d(nnx.Module):
    """[B, T, Cin] → [B, T, Cout]; glorot-uniform kernel [K, Cin, Cout], zero bias."""

    def __init__(self, cin: int, cout: int, kernel_size: int, dilation: int, *, rngs: nnx.Rngs):
        self.dilation = dilation
        init = nnx.initializers.glorot_uniform()
        self.kernel = nnx.Param(init(rngs.params(), (kernel_size, cin, cout), jnp.float32))
        self.bias = nnx.Param(jnp.zeros((cout,), jnp.float32))

    def __call__(self, x: jax.Array) -> jax.Array:
        return dilated_conv1d(x, self.kernel[...], self.bias[...], self.dilation)


class ResidualStack(nnx.Module):
    """Residual blocks ``x + conv_k1(act(conv_dilated(act(x))))``, one per dilation.

    The second conv has kernel 1 (a channel mix), as in MelGAN's residual stack: the receptive
    field grows only through the dilated convs (3^n with dilations 1, 3, 9, ...).
    """

    def __init__(
        self,
        channels: int,
        kernel_size: int,
        dilations: tuple[int, ...],
        activation: str = "leaky_relu",
        *,
        rngs: nnx.Rngs,
    ):
        self.dilated = nnx.List(
            [DilatedConv1d(channels, channels, kernel_size, d, rngs=rngs) for d in dilations]
        )
        self.mix = nnx.List([DilatedConv1d(channels, channels, 1, 1, rngs=rngs) for _ in dilations])
        self.act_in = nnx.List([Activation(activation, channels) for _ in dilations])
        self.act_mid = nnx.List([Activation(activation, channels) for _ in dilations])

    def __call__(self, x: jax.Array) -> jax.Array:
        for dilated, mix, a, b in zip(
            self.dilated, self.mix, self.act_in, self.act_mid, strict=True
        ):
            x = x + mix(b(dilated(a(x))))
        return x


# --------------------------------------------------------------------------------------------
# Encoder and decoder.


class Encoder(nnx.Module):
    """bands [B, F, M] → (mean, logvar), each [B, F / prod(ratios), learned_dim].

    (The pitch channel of a harmonic VAE is appended by the trainer: it is not learned.)
    """

    def __init__(self, s: VAESettings, *, rngs: nnx.Rngs):
        widths = s.widths()
        self.first = Conv1d(s.bands, widths[0], 7, 1, s.conv_impl, rngs=rngs)
        self.stacks = nnx.List(
            [
                ResidualStack(w, s.kernel_size, s.dilations, s.activation, rngs=rngs)
                for w in widths[:-1]
            ]
        )
        self.acts = nnx.List([Activation(s.activation, w) for w in widths])
        self.downs = nnx.List(
            [
                Conv1d(widths[i], widths[i + 1], 2 * r + 1, r, s.conv_impl, rngs=rngs)
                for i, r in enumerate(s.ratios)
            ]
        )
        self.last = Conv1d(widths[-1], 2 * s.learned_dim, 5, 1, s.conv_impl, rngs=rngs)

    def __call__(self, bands: jax.Array) -> tuple[jax.Array, jax.Array]:
        h = self.first(bands)
        for stack, act, down in zip(self.stacks, self.acts, self.downs, strict=False):
            h = down(act(stack(h)))
        mean, raw_scale = jnp.split(self.last(self.acts[-1](h)), 2, axis=-1)
        std = jax.nn.softplus(raw_scale) + 1e-4  # RAVE: strictly positive std
        return mean, 2.0 * jnp.log(std)


class Decoder(nnx.Module):
    """z [B, L, latent_dim] → (bands [B, F, M], harmonic controls [B, F, K + 1] or None).

    F = L · prod(ratios) band frames. The controls (overall amplitude, then the harmonic
    distribution; :func:`wavegen.models.harmonic.harmonic_amplitudes`) exist when
    ``harmonics`` = K > 0.
    """

    def __init__(self, s: VAESettings, *, rngs: nnx.Rngs):
        widths = s.widths()[::-1]
        ratios = s.ratios[::-1]
        self.bands = s.bands
        self.first = Conv1d(s.latent_dim, widths[0], 7, 1, s.conv_impl, rngs=rngs)
        if s.upsample == "transpose":
            ups = [
                ConvTranspose1d(widths[i], widths[i + 1], 2 * r, r, s.conv_impl, rngs=rngs)
                for i, r in enumerate(ratios)
            ]
        else:
            ups = [
                UpsampleConv1d(widths[i], widths[i + 1], 2 * r + 1, r, s.conv_impl, rngs=rngs)
                for i, r in enumerate(ratios)
            ]
        self.ups = nnx.List(ups)
        self.stacks = nnx.List(
            [
                ResidualStack(w, s.kernel_size, s.dilations, s.activation, rngs=rngs)
                for w in widths[1:]
            ]
        )
        self.acts = nnx.List([Activation(s.activation, w) for w in widths])
        self.last = Conv1d(widths[-1], s.bands + 1, 7, 1, s.conv_impl, rngs=rngs)
        self.harmonic = (
            Conv1d(widths[-1], s.harmonics + 1, 7, 1, s.conv_impl, rngs=rngs)
            if s.harmonics
            else None
        )

    def __call__(self, z: jax.Array) -> tuple[jax.Array, jax.Array | None]:
        h = self.first(z)
        for act, up, stack in zip(self.acts, self.ups, self.stacks, strict=False):
            h = stack(up(act(h)))
        h = self.acts[-1](h)
        out = self.last(h)
        bands = jnp.tanh(out[..., : self.bands]) * jax.nn.sigmoid(out[..., self.bands :])
        return bands, (None if self.harmonic is None else self.harmonic(h))


# --------------------------------------------------------------------------------------------
def init_params_numpy(abstract: Any, seed: int) -> Any:
    """Parameters for an abstract parameter tree, drawn in numpy from ``seed``.

    Every ``kernel`` [..., Cin, Cout] is Glorot-uniform with the conv fans (fan_in = receptive
    field · Cin, fan_out = receptive field · Cout, as ``nnx.initializers.glorot_uniform`` and the
    WaveGAN layers); every other leaf (biases) is zero. Leaves are drawn in tree order from one
    ``np.random.default_rng(seed)``, so the result depends only on the seed and the shapes.

    Args:
      abstract: pytree (pure dicts) of ``jax.ShapeDtypeStruct``.

    Returns:
      The same tree of float32 arrays.
    """
    rng = np.random.default_rng(seed)

    def draw(path, leaf):
        shape = tuple(leaf.shape)
        name = getattr(path[-1], "key", None)
        if name != "kernel" or len(shape) < 2:
            return jnp.zeros(shape, jnp.float32)
        field = math.prod(shape[:-2])
        limit = math.sqrt(6.0 / (field * (shape[-2] + shape[-1])))
        return jnp.asarray(rng.uniform(-limit, limit, shape), jnp.float32)

    return jax.tree_util.tree_map_with_path(draw, abstract)


# Waveform ↔ bands and the whole model.


class BandSplit:
    """Waveform ↔ encoder bands: PQMF analysis/synthesis, or a reshape to one channel.

    Kept out of the nnx modules: the filters are fixed numpy constants, not state.
    """

    def __init__(self, s: VAESettings):
        self.pqmf = PQMF.create(s.pqmf_bands, s.pqmf_attenuation) if s.pqmf_bands > 1 else None

    def to_bands(self, x: jax.Array) -> jax.Array:
        """[B, T] → [B, T/M, M]."""
        return x[..., None] if self.pqmf is None else self.pqmf.analysis(x)

    def to_waveform(self, bands: jax.Array) -> jax.Array:
        """[B, T/M, M] → [B, T]."""
        return bands[..., 0] if self.pqmf is None else self.pqmf.synthesis(bands)


def build_vae(
    cfg: ml_collections.ConfigDict, *, rngs: nnx.Rngs
) -> tuple[Encoder, Decoder, BandSplit, VAESettings]:
    """The encoder, decoder, band split and settings that ``cfg`` describes (validated first)."""
    s = vae_settings(cfg)
    return Encoder(s, rngs=rngs), Decoder(s, rngs=rngs), BandSplit(s), s


def reparameterize(mean: jax.Array, logvar: jax.Array, key: jax.Array) -> jax.Array:
    """z = mean + exp(logvar / 2) · ε, ε ~ N(0, I); all [B, L, D]."""
    return mean + jnp.exp(0.5 * logvar) * jax.random.normal(key, mean.shape, mean.dtype)


def kl_per_channel(mean: jax.Array, logvar: jax.Array) -> jax.Array:
    """KL(N(mean, exp(logvar)) || N(0, I)) per latent channel, mean over batch and frames.

    Args:
      mean, logvar: [B, L, D].

    Returns:
      [D] nats per latent frame and channel; their sum is the KL per latent frame.
    """
    kl = 0.5 * (jnp.square(mean) + jnp.exp(logvar) - logvar - 1.0)
    return jnp.mean(kl, axis=(0, 1))
