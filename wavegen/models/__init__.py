"""GAN models for raw audio: WaveGAN (1-D, :mod:`.wavegan`) and SpecGAN (2-D, :mod:`.specgan`).

Entry points read the full config (``cfg.model`` and ``cfg.data.length``):

- :func:`validate_model_config` — clear errors before anything is built or compiled;
- :func:`build_gan` — the (generator, discriminator) pair;
- :func:`describe` — parameter counts and analytic forward GFLOPs per example.
"""

from __future__ import annotations

import math

import jax
import ml_collections
import numpy as np
from flax import nnx

from wavegen.config import ConfigError
from wavegen.models import specgan, wavegan
from wavegen.models.flops import ConvSpec, dense_flops, total_flops
from wavegen.models.layers import IMPLS
from wavegen.models.specgan import SpecGANDiscriminator, SpecGANGenerator
from wavegen.models.target import Target, use_target
from wavegen.models.wavegan import WaveGANDiscriminator, WaveGANGenerator

MODELS = ("wavegan", "specgan")
SPECGAN_LENGTH = 16384  # 128 STFT frames × hop 128 in the paper


class ModelConfigError(ConfigError):
    """The ``model`` section or ``data.length`` of a config is invalid (message names the key)."""


def _require(ok: bool, key: str, expected: str, value: object) -> None:
    if not ok:
        raise ModelConfigError(f"config key {key}: expected {expected}, got {value!r}")


def _is_int(value: object) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def validate_model_config(cfg: ml_collections.ConfigDict) -> None:
    """Raises :class:`ModelConfigError` naming the offending key if ``cfg`` cannot build a GAN.

    Args:
      cfg: the full config (``model`` and ``data`` sections).
    """
    m, length = cfg.model, cfg.data.length
    _require(m.name in MODELS, "model.name", f"one of {MODELS}", m.name)
    _require(
        m.upsample in wavegan.UPSAMPLES, "model.upsample", f"one of {wavegan.UPSAMPLES}", m.upsample
    )
    _require(m.conv_impl in IMPLS, "model.conv_impl", f"one of {IMPLS}", m.conv_impl)
    for key in ("dim", "latent_dim", "kernel_size"):
        _require(_is_int(m[key]) and m[key] > 0, f"model.{key}", "an integer > 0", m[key])
    for key in ("phase_shuffle", "post_proc_filt_len", "num_classes", "minibatch_std"):
        _require(_is_int(m[key]) and m[key] >= 0, f"model.{key}", "an integer >= 0", m[key])
    from wavegen.data.spectral import GRIFFIN_LIM_MOMENTUM  # lazy: models need no data layer

    method, iters = m.griffin_lim, m.griffin_lim_iters
    methods = tuple(GRIFFIN_LIM_MOMENTUM)
    _require(method in methods, "model.griffin_lim", f"one of {methods}", method)
    _require(_is_int(iters) and iters >= 0, "model.griffin_lim_iters", "an integer >= 0", iters)
    if m.num_classes > 0:
        embed = wavegan.label_embed_dim(m)
        _require(_is_int(embed) and embed > 0, "model.label_embed_dim", "an integer > 0", embed)
    _validate_critic(m, length)
    if m.name == "wavegan":
        _require(
            length in wavegan.LENGTHS,
            "data.length",
            f"one of {wavegan.LENGTHS} for wavegan",
            length,
        )
        # Phase shuffle reflects at most T-1 samples; the shortest shuffled activation is D's 4th.
        shortest = wavegan.discriminator_convs(m, length)[wavegan.num_shuffled(length) - 1].out_len
        _require(
            m.phase_shuffle < shortest,
            "model.phase_shuffle",
            f"< {shortest} (the shortest phase-shuffled activation)",
            m.phase_shuffle,
        )
    else:
        _require(length == SPECGAN_LENGTH, "data.length", f"{SPECGAN_LENGTH} for specgan", length)
        _require(
            m.post_proc_filt_len == 0,
            "model.post_proc_filt_len",
            "0 for specgan (wavegan only)",
            m.post_proc_filt_len,
        )


def _validate_critic(m: ml_collections.ConfigDict, length: int) -> None:
    """``model.critic``, ``critic_channels`` and ``spectral_norm`` (see :mod:`.critics`)."""
    from wavegen.models import critics  # lazy: it imports this package's modules

    spec, sn = m.critic, m.spectral_norm
    if "spec" in (critics.parse_critic(spec) or ()):
        n_fft = m.spec_critic_fft
        _require(
            _is_int(n_fft) and n_fft >= 16 and n_fft & (n_fft - 1) == 0,
            "model.spec_critic_fft",
            f"a power of two in [16, data.length={length}]",
            n_fft,
        )
        _require(n_fft <= length, "model.spec_critic_fft", f"<= data.length={length}", n_fft)
    names = critics.parse_critic(spec)
    expected = f"'+'-joined distinct names from {critics.CRITICS}"
    _require(names is not None, "model.critic", expected, spec)
    if names != ("wavegan",):
        _require(m.name == "wavegan", "model.critic", "'wavegan' for specgan", spec)
        _require(
            m.num_classes == 0 or set(names) <= {"wavegan", "spec"},
            "model.critic",
            "'wavegan' and 'spec' only for a conditional model (model.num_classes > 0)",
            spec,
        )
        if m.minibatch_std > 0:  # it lives in the WaveGAN D and would be silently dropped
            _require(
                "wavegan" in names,
                "model.critic",
                "to include 'wavegan' when model.minibatch_std > 0",
                spec,
            )
    channels = m.critic_channels
    _require(_is_int(channels) and channels > 0, "model.critic_channels", "an int > 0", channels)
    _require(isinstance(sn, bool), "model.spectral_norm", "a bool", sn)
    _require(not sn or m.name == "wavegan", "model.spectral_norm", "False for specgan", sn)


def build_gan(
    cfg: ml_collections.ConfigDict, *, rngs: nnx.Rngs, target: Target | None = None
) -> tuple[nnx.Module, nnx.Module]:
    """The (generator, discriminator) of ``cfg.model.name``, validated first.

    WaveGAN: G(z [B, latent], labels) → [B, T]; D([B, T], labels, key=...) → [B].
    SpecGAN: G → [B, 128, 128]; D([B, 128, 128], labels, key=ignored) → [B].

    Args:
      cfg: the full config.
      rngs: parameter initialisation.
      target: the devices the networks will be compiled for; their conv layers keep it and
        choose their formulation from it (None: the enclosing :func:`use_target`, else this
        process's default backend and device count).
    """
    validate_model_config(cfg)
    if cfg.model.name == "wavegan":
        g_cls, d_cls = WaveGANGenerator, WaveGANDiscriminator
    else:
        g_cls, d_cls = SpecGANGenerator, SpecGANDiscriminator
    with use_target(target):  # the layers read it at construction (wavegen.models.target)
        generator = g_cls(cfg.model, cfg.data.length, rngs=rngs)
        discriminator = d_cls(cfg.model, cfg.data.length, rngs=rngs)
    return generator, discriminator


def count_params(module: nnx.Module) -> int:
    """Number of scalar ``nnx.Param`` entries of ``module`` (works on abstract modules too)."""
    leaves = jax.tree.leaves(nnx.state(module, nnx.Param))
    return int(sum(math.prod(v.shape) for v in leaves))


def _layer_flops(cfg: ml_collections.ConfigDict) -> tuple[int, int]:
    """Analytic forward FLOPs per example of (G, D); see :mod:`wavegen.models.flops`."""
    m, length = cfg.model, cfg.data.length
    g_in = m.latent_dim + wavegan.label_embed_dim(m)
    if m.name == "wavegan":
        g_convs = wavegan.generator_convs(m, length)
        if m.post_proc_filt_len > 0:
            g_convs.append(ConvSpec("pp_filt", "conv", length, 1, 1, m.post_proc_filt_len, 1))
        d_convs = wavegan.discriminator_convs(m, length)
        g_dense = wavegan.START_LEN * g_convs[0].in_ch
        d_features = wavegan.START_LEN * (d_convs[-1].out_ch + (1 if m.minibatch_std else 0))
    else:
        g_convs, d_convs = specgan.generator_convs(m), specgan.discriminator_convs(m)
        g_dense = specgan.START_SIDE**2 * g_convs[0].in_ch
        d_features = specgan.START_SIDE**2 * d_convs[-1].out_ch
    g_flops = total_flops(g_convs, [(g_in, g_dense)])
    # The projection term <V[y], h> costs one more dot product of the feature width.
    d_flops = total_flops(d_convs, [(d_features, 1)]) + (
        dense_flops(d_features, 1) if m.num_classes > 0 else 0
    )
    return g_flops, d_flops


def describe(cfg: ml_collections.ConfigDict) -> dict:
    """Parameter counts and forward GFLOPs per example of the GAN ``cfg`` describes.

    Builds the modules abstractly (``nnx.eval_shape``), so nothing is allocated or compiled.

    Returns:
      {'generator': {'params', 'gflops_forward'}, 'discriminator': {...}, 'output_length',
      'output_shape', 'sample_rate'}.
    """
    validate_model_config(cfg)
    generator, discriminator = nnx.eval_shape(lambda: build_gan(cfg, rngs=nnx.Rngs(0)))
    g_flops, d_flops = _layer_flops(cfg)
    length = cfg.data.length
    shape = [length] if cfg.model.name == "wavegan" else [specgan.SIDE, specgan.SIDE]
    return {
        "generator": {"params": count_params(generator), "gflops_forward": g_flops / 1e9},
        "discriminator": {"params": count_params(discriminator), "gflops_forward": d_flops / 1e9},
        "output_length": length,
        "output_shape": shape,
        "sample_rate": cfg.data.sample_rate,
    }


__all__ = [
    "MODELS",
    "ModelConfigError",
    "SpecGANDiscriminator",
    "SpecGANGenerator",
    "Target",
    "WaveGANDiscriminator",
    "WaveGANGenerator",
    "build_gan",
    "count_params",
    "describe",
    "validate_model_config",
]
