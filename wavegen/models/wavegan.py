"""WaveGAN (Donahue, McAuley & Puckette 2019) generator and discriminator, as the paper's appendix
and its reference code (chrisdonahue/wavegan ``wavegan.py``).

16384 samples (d = ``model.dim``, k = ``model.kernel_size`` = 25):

- G: z [B, latent] ∈ U(-1, 1) → Dense(256·d) → reshape [16, 16d] → ReLU → 5 transposed convs
  k25 s4 (16d → 8d → 4d → 2d → d → 1), ReLU between, tanh last → [B, 16384].
- D: [B, 16384, 1] → 5 convs k25 s4 (1 → d → 2d → 4d → 8d → 16d), LeakyReLU(0.2) after each,
  phase shuffle after the first four → flatten [16·16d] → Dense → logits [B].

Longer slices follow the reference code: 32768 and 65536 start G at 32d channels (Dense(512·d)),
run four s4 layers down to 2d, then 2d → d (s4) and d → 1 with stride 2 (32768) or 4 (65536);
D gets a sixth conv 16d → 32d with stride 2 (32768) or 4 (65536), ending at [16, 32d].

Shorter slices are not in the paper; they exist so that short sounds (an 8 kHz spoken digit, a
quarter-second note) need no mostly-silent window and a CPU budget buys more steps. 8192 is the
16384 network with the last G layer (first D layer) at stride 2; 4096 drops the widest layer:
G 8d → 4d → 2d → d → 1 (four s4 layers from Dense(128·d)), D 1 → d → 2d → 4d → 8d, ending at
[16, 8d], with phase shuffle after its first three convs (all but the last, as the paper's D).

Options: ``upsample='nearest'`` replaces each transposed conv by nearest-neighbour upsampling + a
stride-1 conv; ``post_proc_filt_len`` > 0 appends the learned post-processing filter (a stride-1
1 → 1 conv of that length without bias, after the tanh, as the reference code's ``pp_filt``);
``num_classes`` > 0 makes both class-conditional (see :mod:`wavegen.models.conditioning`);
``minibatch_std`` > 0 appends ProGAN's minibatch standard-deviation feature map to D's last
activation (groups of that many examples, Karras et al. 2018 §3), a direct signal to D when
every fake in a group sounds the same.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import ml_collections
from flax import nnx

from wavegen.models.conditioning import LatentWithLabel, ProjectionHead
from wavegen.models.flops import ConvSpec
from wavegen.models.layers import Conv1d, ConvTranspose1d, UpsampleConv1d, phase_shuffle

LENGTHS = (4096, 8192, 16384, 32768, 65536)
UPSAMPLES = ("zeros", "nearest")
START_LEN = 16  # G's dense output / D's final conv length, for every slice length
LEAKY_SLOPE = 0.2
NUM_SHUFFLED = 4  # phase shuffle after D's first four convs only (reference code)


def num_shuffled(length: int) -> int:
    """How many of D's first convs are followed by phase shuffle (all but the last, at most 4)."""
    return NUM_SHUFFLED if length >= 8192 else NUM_SHUFFLED - 1


def _check_length(length: int) -> None:
    if length not in LENGTHS:
        raise ValueError(f"WaveGAN: data.length must be one of {LENGTHS}, got {length}")


def generator_convs(cfg_model: ml_collections.ConfigDict, length: int) -> list[ConvSpec]:
    """The generator's upsampling layers for output ``length``, in order."""
    _check_length(length)
    d, k = cfg_model.dim, cfg_model.kernel_size
    kind = "transpose" if cfg_model.upsample == "zeros" else "upsample"
    dim_mul = 32 if length > 16384 else 16
    channels = [d * dim_mul >> i for i in range(5)]  # 16d..d (≤ 16384) or 32d..2d (longer)
    strides = [4] * 4
    if length == 4096:
        channels, strides = channels[1:] + [1], strides
    elif length <= 16384:
        channels, strides = channels + [1], strides + [4 if length == 16384 else 2]
    else:
        channels, strides = channels + [d, 1], strides + [4, 2 if length == 32768 else 4]
    specs, t = [], START_LEN
    for i, s in enumerate(strides):
        specs.append(ConvSpec(f"upconv_{i}", kind, t, channels[i], channels[i + 1], k, s))
        t *= s
    assert t == length, (t, length)
    return specs


def discriminator_convs(cfg_model: ml_collections.ConfigDict, length: int) -> list[ConvSpec]:
    """The discriminator's strided convs for input ``length``, in order."""
    _check_length(length)
    d, k = cfg_model.dim, cfg_model.kernel_size
    channels = [1] + [d << i for i in range(5)]
    strides = [4] * 5
    if length == 4096:
        channels, strides = channels[:-1], strides[:-1]
    elif length == 8192:
        strides[0] = 2
    elif length != 16384:
        channels, strides = channels + [32 * d], strides + [2 if length == 32768 else 4]
    specs, t = [], length
    for i, s in enumerate(strides):
        specs.append(ConvSpec(f"downconv_{i}", "conv", t, channels[i], channels[i + 1], k, s))
        t //= s
    assert t == START_LEN, (t, length)
    return specs


def label_embed_dim(cfg_model: ml_collections.ConfigDict) -> int:
    """Width of G's label embedding (``model.label_embed_dim``; 0 if unconditional)."""
    if cfg_model.num_classes <= 0:
        return 0
    return int(cfg_model.label_embed_dim)


class WaveGANGenerator(nnx.Module):
    """z [B, latent] (+ labels [B] int) → audio [B, length] in [-1, 1] (unless post-filtered)."""

    def __init__(self, cfg_model: ml_collections.ConfigDict, length: int, *, rngs: nnx.Rngs):
        specs = generator_convs(cfg_model, length)
        self.length = length
        self.start_channels = specs[0].in_ch
        self.latent = LatentWithLabel(
            cfg_model.latent_dim, cfg_model.num_classes, label_embed_dim(cfg_model), rngs=rngs
        )
        # TF dense defaults, as the reference code: glorot_uniform kernel, zero bias.
        self.project = nnx.Linear(
            self.latent.out_features,
            START_LEN * self.start_channels,
            kernel_init=nnx.initializers.glorot_uniform(),
            rngs=rngs,
        )
        layer = ConvTranspose1d if cfg_model.upsample == "zeros" else UpsampleConv1d
        impl = cfg_model.conv_impl
        self.upconvs = nnx.List(
            [layer(c.in_ch, c.out_ch, c.kernel, c.stride, impl, rngs=rngs) for c in specs]
        )
        filt_len = cfg_model.post_proc_filt_len
        self.post_filter = (
            Conv1d(1, 1, filt_len, 1, impl, use_bias=False, rngs=rngs) if filt_len > 0 else None
        )

    def __call__(self, z: jax.Array, labels: jax.Array | None = None) -> jax.Array:
        """z: [B, latent] float32, labels: [B] int32 or None → [B, length] float32."""
        h = self.project(self.latent(z, labels))
        h = jax.nn.relu(h.reshape(z.shape[0], START_LEN, self.start_channels))
        for i, upconv in enumerate(self.upconvs):
            h = upconv(h)
            h = jnp.tanh(h) if i == len(self.upconvs) - 1 else jax.nn.relu(h)
        if self.post_filter is not None:
            h = self.post_filter(h)
        return h[..., 0]


class WaveGANDiscriminator(nnx.Module):
    """audio [B, length] (+ labels [B] int) → logits [B]; ``key`` drives phase shuffle."""

    def __init__(self, cfg_model: ml_collections.ConfigDict, length: int, *, rngs: nnx.Rngs):
        specs = discriminator_convs(cfg_model, length)
        self.length = length
        self.shuffle_radius = cfg_model.phase_shuffle
        self.num_shuffled = num_shuffled(length)
        self.mbstd_group = cfg_model.minibatch_std
        self.downconvs = nnx.List(
            [
                Conv1d(c.in_ch, c.out_ch, c.kernel, c.stride, cfg_model.conv_impl, rngs=rngs)
                for c in specs
            ]
        )
        features = START_LEN * (specs[-1].out_ch + (1 if self.mbstd_group else 0))
        self.head = ProjectionHead(features, cfg_model.num_classes, rngs=rngs)

    def __call__(
        self,
        x: jax.Array,
        labels: jax.Array | None = None,
        *,
        key: jax.Array | None = None,
        features: bool = False,
    ) -> jax.Array | tuple[jax.Array, list[jax.Array]]:
        """x: [B, length] float32, labels: [B] int32 or None, key: PRNG key or None (no shuffle).

        Returns: [B] float32 logits; with ``features``, (logits, the conv activations after each
        LeakyReLU, [B, T_l, C_l], before phase shuffle: feature matching compares statistics
        of the signal, not of the random shift).
        """
        if x.ndim != 2 or x.shape[1] != self.length:
            raise ValueError(f"discriminator: x must be [B, {self.length}], got shape {x.shape}")
        n = self.num_shuffled
        keys = [None] * n if key is None else list(jax.random.split(key, n))
        h, feats = x[..., None], []
        for i, conv in enumerate(self.downconvs):
            h = jax.nn.leaky_relu(conv(h), LEAKY_SLOPE)
            feats.append(h)
            if i < n:
                h = phase_shuffle(h, self.shuffle_radius, keys[i])
        if self.mbstd_group:
            h = minibatch_stddev(h, self.mbstd_group)
        logits = self.head(h.reshape(h.shape[0], -1), labels)
        return (logits, feats) if features else logits


def minibatch_stddev(h: jax.Array, group_size: int) -> jax.Array:
    """ProGAN's minibatch standard-deviation layer (Karras et al. 2018, §3; StyleGAN's form).

    Example ``i`` is grouped with the examples ``j ≡ i (mod B / G)`` (the reference reshapes
    [G, B/G, ...]); each group's feature map gets one extra channel holding the standard deviation
    over the group, averaged over every position and channel. Statistics are taken in float32.

    Args:
      h: [B, T, C] activations; B must be a multiple of ``min(group_size, B)``.
      group_size: G, examples per group (a batch smaller than G is one group).

    Returns:
      [B, T, C + 1]: ``h`` with the group's mean standard deviation broadcast as the last channel.
    """
    b, t, c = h.shape
    g = min(group_size, b)
    if b % g:
        raise ValueError(f"minibatch_std: batch {b} is not a multiple of the group size {g}")
    x = h.astype(jnp.float32).reshape(g, b // g, t, c)
    std = jnp.sqrt(jnp.var(x, axis=0) + 1e-8)  # [B/G, T, C]
    feat = jnp.mean(std, axis=(1, 2))  # [B/G]
    feat = jnp.tile(feat, g)[:, None, None]  # example i gets its group's value, i mod B/G
    return jnp.concatenate([h, jnp.broadcast_to(feat, (b, t, 1)).astype(h.dtype)], axis=-1)
