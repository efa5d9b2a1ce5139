"""SpecGAN (Donahue et al. 2019): DCGAN-style 5×5 stride-2 G/D on 128×128 spectrograms.

Spectrograms are normalised log-magnitudes in [-1, 1], laid out ``[B, time, freq]`` = [B, 128, 128]
(the data pipeline's layout; the networks just see a 128×128 image with one channel, so the axis
order only matters for conversion back to audio, which is the pipeline's job).

- G: z → Dense(256·d) → reshape [4, 4, 16d] → ReLU → 5 transposed convs 5×5 s2
  (16d → 8d → 4d → 2d → d → 1), ReLU between, tanh last → [B, 128, 128].
- D: [B, 128, 128, 1] → 5 convs 5×5 s2 (1 → d → 2d → 4d → 8d → 16d), LeakyReLU(0.2) after each →
  flatten [4·4·16d] → Dense → logits [B]. No phase shuffle (the paper uses it for WaveGAN only).

The 2-D layers are :mod:`wavegen.models.layers2d` ('SAME' padding; parameters named, shaped and
initialised as ``nnx.Conv`` / ``nnx.ConvTranspose``, so checkpoints and counts are unchanged).
``model.conv_impl`` picks their formulation as for WaveGAN ('auto'/'matmul': single matmuls, much
faster on XLA:CPU, above all under WGAN-GP's double backward; 'lax': lax convolutions, what
nnx.Conv computes). ``model.kernel_size`` (WaveGAN's 1-D kernel), ``model.phase_shuffle`` and
``model.post_proc_filt_len`` do not apply. ``upsample='nearest'`` is nearest-neighbour resize ×2
+ a stride-1 5×5 conv, as the reference code's ``'nn'`` option (the matmul form folds the resize
into the kernel). Initialisation as TF's layers: glorot_uniform kernels, zero biases.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import ml_collections
from flax import nnx

from wavegen.models.conditioning import LatentWithLabel, ProjectionHead
from wavegen.models.flops import ConvSpec
from wavegen.models.layers2d import Conv2d, ConvTranspose2d, upsample_conv2d
from wavegen.models.wavegan import label_embed_dim

SIDE = 128  # spectrogram is SIDE × SIDE
START_SIDE = 4
KERNEL = 5
STRIDE = 2
LEAKY_SLOPE = 0.2


def generator_convs(cfg_model: ml_collections.ConfigDict) -> list[ConvSpec]:
    """The generator's 2-D upsampling layers, in order."""
    d = cfg_model.dim
    kind = "transpose2d" if cfg_model.upsample == "zeros" else "conv2d"
    channels = [16 * d, 8 * d, 4 * d, 2 * d, d, 1]
    specs, side = [], START_SIDE
    for i in range(5):
        # 'nearest' resizes first, then runs a stride-1 conv at the doubled size.
        in_side, stride = (side, STRIDE) if kind == "transpose2d" else (STRIDE * side, 1)
        specs.append(
            ConvSpec(f"upconv_{i}", kind, in_side, channels[i], channels[i + 1], KERNEL, stride)
        )
        side *= STRIDE
    return specs


def discriminator_convs(cfg_model: ml_collections.ConfigDict) -> list[ConvSpec]:
    """The discriminator's strided 2-D convs, in order."""
    d = cfg_model.dim
    channels = [1, d, 2 * d, 4 * d, 8 * d, 16 * d]
    return [
        ConvSpec(f"downconv_{i}", "conv2d", SIDE >> i, channels[i], channels[i + 1], KERNEL, STRIDE)
        for i in range(5)
    ]


class _NearestUpConv2d(nnx.Module):
    """Nearest resize ×2 on both axes + stride-1 'SAME' conv: [B, H, W, Cin] → [B, 2H, 2W, Cout]."""

    def __init__(self, in_features: int, out_features: int, impl: str, *, rngs: nnx.Rngs):
        # Kept as a stride-1 Conv2d sub-module so the parameter path (upconvs/i/conv/kernel) is the
        # one of the former nnx.Conv; the call fuses the resize into the conv (upsample_conv2d).
        self.conv = Conv2d(in_features, out_features, KERNEL, 1, impl, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        return upsample_conv2d(
            x, self.conv.kernel[...], self.conv.bias[...], STRIDE, self.conv.impl
        )


class SpecGANGenerator(nnx.Module):
    """z [B, latent] (+ labels [B] int) → spectrogram [B, 128, 128] in [-1, 1]."""

    def __init__(self, cfg_model: ml_collections.ConfigDict, length: int, *, rngs: nnx.Rngs):
        del length  # always 128×128 (16384 samples of audio); validated by validate_model_config
        specs = generator_convs(cfg_model)
        self.start_channels = specs[0].in_ch
        self.latent = LatentWithLabel(
            cfg_model.latent_dim, cfg_model.num_classes, label_embed_dim(cfg_model), rngs=rngs
        )
        self.project = nnx.Linear(
            self.latent.out_features,
            START_SIDE * START_SIDE * self.start_channels,
            kernel_init=nnx.initializers.glorot_uniform(),
            rngs=rngs,
        )
        impl = cfg_model.conv_impl
        if cfg_model.upsample == "zeros":
            layers = [
                ConvTranspose2d(c.in_ch, c.out_ch, KERNEL, STRIDE, impl, rngs=rngs) for c in specs
            ]
        else:
            layers = [_NearestUpConv2d(c.in_ch, c.out_ch, impl, rngs=rngs) for c in specs]
        self.upconvs = nnx.List(layers)

    def __call__(self, z: jax.Array, labels: jax.Array | None = None) -> jax.Array:
        """z: [B, latent] float32, labels: [B] int32 or None → [B, 128, 128] float32."""
        h = self.project(self.latent(z, labels))
        h = jax.nn.relu(h.reshape(z.shape[0], START_SIDE, START_SIDE, self.start_channels))
        for i, upconv in enumerate(self.upconvs):
            h = upconv(h)
            h = jnp.tanh(h) if i == len(self.upconvs) - 1 else jax.nn.relu(h)
        return h[..., 0]


class SpecGANDiscriminator(nnx.Module):
    """spectrogram [B, 128, 128] (+ labels [B] int) → logits [B]."""

    def __init__(self, cfg_model: ml_collections.ConfigDict, length: int, *, rngs: nnx.Rngs):
        del length
        specs = discriminator_convs(cfg_model)
        impl = cfg_model.conv_impl
        self.downconvs = nnx.List(
            [Conv2d(c.in_ch, c.out_ch, KERNEL, STRIDE, impl, rngs=rngs) for c in specs]
        )
        final_side = SIDE >> len(specs)
        self.head = ProjectionHead(
            final_side * final_side * specs[-1].out_ch, cfg_model.num_classes, rngs=rngs
        )

    def __call__(
        self, x: jax.Array, labels: jax.Array | None = None, *, key: jax.Array | None = None
    ) -> jax.Array:
        """x: [B, 128, 128] float32, labels: [B] int32 or None, key: unused (no phase shuffle).

        Returns: [B] float32 logits.
        """
        del key  # same signature as WaveGAN's D; SpecGAN has no stochastic layers
        if x.shape[1:] != (SIDE, SIDE):
            raise ValueError(f"discriminator: x must be [B, {SIDE}, {SIDE}], got shape {x.shape}")
        h = x[..., None]
        for conv in self.downconvs:
            h = jax.nn.leaky_relu(conv(h), LEAKY_SLOPE)
        return self.head(h.reshape(h.shape[0], -1), labels)
