"""WaveGAN's critic by config: its own D, the library's discriminators, or several together.

``model.critic`` is a '+'-joined list of :data:`CRITICS` (e.g. ``'wavegan+mrstft'``):

- ``wavegan``: the paper's D (:class:`wavegen.models.wavegan.WaveGANDiscriminator`), one
  sub-discriminator with logits [B] and its conv activations as features;
- ``msd`` / ``mpd`` / ``mrstft``: MelGAN's multi-scale, HiFi-GAN's multi-period and EnCodec's
  multi-resolution STFT discriminators (:mod:`wavegen.models.discriminators`), widths scaled by
  ``model.critic_channels`` (16 = the papers'; the default is sized for a CPU);
- ``spec``: a small log-power-spectrogram critic (:mod:`wavegen.models.spectral_critic`,
  ``model.spec_critic_fft``), cheap enough for a CPU budget, that sees harmonics directly; it
  shares D's ``minibatch_std``.

Every critic maps audio [B, T] to a list with one ``(logits [B, ...], [feature maps [B, ...]])``
per sub-discriminator. The adversarial losses (``wavegen.losses.adversarial``) are the mean over
sub-discriminators of the chosen loss on each one's logits; gradient penalties (WGAN-GP, R1,
R2) see the summed critic :func:`scores`, one number per example. ``model.critic='wavegan'``
(the default) keeps the paper's module as is, so its parameters, checkpoints and numbers are
today's exactly.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import ml_collections
from flax import nnx

from wavegen.models.discriminators import DiscriminatorOutput, build_discriminator
from wavegen.models.spectral_critic import SpectralCritic
from wavegen.models.wavegan import WaveGANDiscriminator

CRITICS = ("wavegan", "msd", "mpd", "mrstft", "spec")
DEFAULT_CRITIC_CHANNELS = 4
_LIBRARY_NAME = {"msd": "msd", "mpd": "mpd", "mrstft": "stft"}  # discriminators.py's names


def parse_critic(spec: str) -> tuple[str, ...] | None:
    """``'wavegan+mrstft'`` → ('wavegan', 'mrstft'); None if empty, unknown or repeated."""
    if not isinstance(spec, str):
        return None
    parts = tuple(p.strip() for p in spec.split("+"))
    if not parts or any(p not in CRITICS for p in parts) or len(set(parts)) != len(parts):
        return None
    return parts


class MultiCritic(nnx.Module):
    """Several critics as one: x [B, T] (+ labels, key) → their outputs, concatenated in order.

    Args:
      parts: :class:`WaveGANDiscriminator` instances and library multi-discriminators (modules
        mapping x [B, T] to a :data:`DiscriminatorOutput`).
    """

    def __init__(self, parts: Sequence[nnx.Module]):
        if not parts:
            raise ValueError("MultiCritic: expected at least one critic")
        self.parts = nnx.List(list(parts))

    def __call__(
        self, x: jax.Array, labels: jax.Array | None = None, *, key: jax.Array | None = None
    ) -> DiscriminatorOutput:
        """x: [B, T]; labels reach the WaveGAN and 'spec' parts, key the WaveGAN part only."""
        out: DiscriminatorOutput = []
        for part in self.parts:
            if isinstance(part, WaveGANDiscriminator):
                out.append(part(x, labels, key=key, features=True))
            elif isinstance(part, SpectralCritic):
                out.append((part(x, labels), []))
            else:
                out.extend(part(x))
        return out


def build_critic(
    cfg: ml_collections.ConfigDict,
    wavegan_d: nnx.Module,
    *,
    rngs: nnx.Rngs,
) -> nnx.Module:
    """The critic ``cfg.model.critic`` names (config already validated).

    Args:
      cfg: the full config.
      wavegan_d: the model's own D, as :func:`wavegen.models.build_gan` made it (SpecGAN's
        for specgan); returned unchanged for ``'wavegan'``, else the WaveGAN part.
      rngs: initialises the library discriminators.

    Returns:
      ``wavegan_d`` itself, or a :class:`MultiCritic`.
    """
    names = parse_critic(cfg.model.critic)
    if names is None:
        raise ValueError(f"model.critic: bad critic {cfg.model.critic!r}")
    if names == ("wavegan",):
        return wavegan_d
    channels = int(cfg.model.critic_channels)

    def part(name: str) -> nnx.Module:
        if name == "wavegan":
            return wavegan_d
        if name == "spec":
            m = cfg.model
            n_fft = int(m.spec_critic_fft)
            return SpectralCritic(
                cfg.data.length,
                n_fft,
                n_fft // 4,
                minibatch_std=m.minibatch_std,
                num_classes=m.num_classes,
                rngs=rngs,
            )
        return build_discriminator([_LIBRARY_NAME[name]], channels=channels, rngs=rngs)

    return MultiCritic([part(n) for n in names])


def outputs(
    module: nnx.Module, x: jax.Array, labels: jax.Array | None, key: jax.Array | None
) -> DiscriminatorOutput:
    """Any critic's outputs on x [B, ...]: [(logits [B, ...], [feature maps [B, ...]]), ...].

    A critic returning bare logits (SpecGAN's D) gives one entry without feature maps.
    """
    if isinstance(module, WaveGANDiscriminator):
        return [module(x, labels, key=key, features=True)]
    out = module(x, labels, key=key)
    return [(out, [])] if isinstance(out, jax.Array) else out


def scores(out: DiscriminatorOutput) -> jax.Array:
    """The summed critic: [B] = Σ over sub-discriminators of each one's mean logit per example.

    A single [B]-logit critic (the paper's D) is returned as is, bit for bit.
    """
    if len(out) == 1 and out[0][0].ndim == 1:
        return out[0][0]
    per = [jnp.mean(lg.reshape(lg.shape[0], -1).astype(jnp.float32), axis=1) for lg, _ in out]
    return sum(per[1:], per[0])


def features(out: DiscriminatorOutput) -> list[jax.Array]:
    """Every feature map of every sub-discriminator, in order: each [B, ...]."""
    return [f for _, maps in out for f in maps]
