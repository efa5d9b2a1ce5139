"""The waveform-VAE task (RAVE, Caillon & Esling 2021) for the shared training loop.

Phase 1 (representation learning): encoder and decoder minimise a weighted sum of the logged
terms ``recon/stft`` (multi-resolution STFT: spectral convergence + log magnitude, RAVE's
windows 2048…128 with 75% overlap), ``recon/mel`` (multi-scale log-mel L1) and ``kl`` (nats per
latent frame). ``loss.weights`` is keyed by those metric names; a term with weight 0 (or no
entry) is still computed and logged. The KL weight is warmed up: β goes from
``loss.kl_beta_start`` to ``loss.weights['kl']`` by log-linear interpolation over
``loss.kl_warmup_steps`` steps (RAVE's ``get_beta_kl``), then stays there.

Phase 2 (optional, ``train.adversarial_start >= 0``): from that step on the encoder is frozen
and the decoder is fine-tuned adversarially against a discriminator from
:mod:`wavegen.models.discriminators` (``model.discriminator``), adding the terms ``g/adv`` and
``g/feature_matching`` (weighted by ``loss.weights`` too), with ``loss.name`` ('hinge', 'lsgan'
or 'dcgan') as the adversarial objective. Each step updates the discriminator on the batch, then
the decoder against the updated discriminator. The switch is a ``lax.cond`` on the step counter
kept in the state, so one compiled step function serves the whole run and resuming lands in the
right phase.

The step counter in the state also drives β, so the schedule does not depend on the host loop.
"""

from __future__ import annotations

import functools
import logging
import math
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from flax import nnx

from wavegen.audio.stft import mel_filterbank
from wavegen.data import AudioDataset
from wavegen.defaults import family_config
from wavegen.errors import ConfigError
from wavegen.losses.adversarial import multi_discriminator_loss, multi_generator_losses
from wavegen.losses.spectral import log_mel_l1, multi_resolution_stft_loss
from wavegen.losses.waveform import si_sdr
from wavegen.models import harmonic, precision
from wavegen.models.discriminators import (
    DISCRIMINATORS,
    build_discriminator,
)
from wavegen.models.vae import (
    VAE_DISCRIMINATOR_DEFAULTS,
    VAE_MODEL_DEFAULTS,
    BandSplit,
    Decoder,
    Encoder,
    init_params_numpy,
    kl_per_channel,
    reparameterize,
    vae_settings,
)
from wavegen.train.loop import SampleRequest
from wavegen.train.networks import Network
from wavegen.train.optim import make_optimizer, tree_norm
from wavegen.train.summaries import SummaryWriter
from wavegen.train.task import TaskBase

log = logging.getLogger(__name__)
PyTree = Any

# The VAE family's keys beside its ``model`` section (the schema is :func:`vae_config`).
VAE_LOSS_DEFAULTS = dict(
    name="hinge",  # the adversarial phase's objective: 'hinge', 'lsgan' or 'dcgan'
    weights={
        "recon/stft": 1.0,
        "recon/mel": 0.0,
        "kl": 0.1,
        "g/adv": 1.0,
        "g/feature_matching": 10.0,  # MelGAN's lambda
    },
    stft_fft_sizes=(2048, 1024, 512, 256, 128),  # RAVE's multi-scale STFT, hop n_fft / 4
    mel_fft_sizes=(2048, 1024, 512),  # n_mels = n_fft // 16 each
    kl_beta_start=1e-4,
    kl_warmup_steps=0,  # 0: β = weights['kl'] from the first step
)
VAE_TRAIN_DEFAULTS = dict(
    adversarial_start=-1,  # step at which phase 2 begins; < 0: never
    num_heldout=64,  # held-out examples for the latent statistics summaries
)


def vae_config() -> ml_collections.ConfigDict:
    """The VAE family's full schema: the shared sections, ``model`` (the architecture, with the
    adversarial phase's ``model.discriminator``), ``loss`` and the VAE's ``train`` keys."""
    model = dict(VAE_MODEL_DEFAULTS, discriminator=VAE_DISCRIMINATOR_DEFAULTS)
    return family_config(model, loss=VAE_LOSS_DEFAULTS, train=VAE_TRAIN_DEFAULTS)


# log-variance of the pitch channel: std 1e-3 octaves (~1 cent), so the reparameterised draw is
# the estimate itself; it is not a learned channel and is left out of the KL.
PITCH_LOGVAR = 2.0 * math.log(1e-3)
PHASE1_TERMS = ("recon/stft", "recon/mel", "kl")
ADVERSARIAL_TERMS = ("g/adv", "g/feature_matching")
FIDELITY_LEVELS = (0.8, 0.9, 0.95, 0.99)
ADVERSARIAL_LOSSES = ("hinge", "lsgan", "dcgan")


class VAEConfigKeyError(ConfigError):
    """A VAE training key (``loss.*``, ``train.*``) is invalid; the message names it."""


def kl_beta(step: jax.Array, beta_start: float, beta_end: float, warmup_steps: int) -> jax.Array:
    """KL weight at ``step``: ``exp(lerp(log beta_start, log beta_end, step / warmup))``.

    Constant ``beta_end`` once ``step >= warmup_steps`` (and always when warmup is 0); 0 when
    ``beta_end`` is 0 (a log interpolation to 0 is undefined; the term is then off).
    """
    if beta_end == 0 or warmup_steps <= 0:
        return jnp.asarray(beta_end, jnp.float32)
    t = jnp.clip(jnp.asarray(step, jnp.float32) / warmup_steps, 0.0, 1.0)
    return jnp.exp((1 - t) * math.log(beta_start) + t * math.log(beta_end))


def weighted_total(
    terms: dict[str, jax.Array], weights: dict[str, float], beta: jax.Array
) -> jax.Array:
    """Σ weights[name] · terms[name] over the terms present, with β in place of weights['kl']."""
    total = jnp.zeros((), jnp.float32)
    for name, value in terms.items():
        w = beta if name == "kl" else weights.get(name, 0.0)
        total = total + w * value
    return total


def latent_fidelity(latents: np.ndarray, levels=FIDELITY_LEVELS) -> dict[float, int]:
    """Latent dimensions needed to explain a fraction of the latent variance (RAVE's fidelity).

    Args:
      latents: [N, D] latent vectors (posterior means of every frame of a held-out batch).
      levels: variance fractions.

    Returns:
      ``{level: smallest k such that the top-k principal components explain >= level}``.
    """
    x = np.asarray(latents, np.float64)
    x = x - x.mean(axis=0)
    eig = np.clip(np.linalg.eigvalsh(x.T @ x)[::-1], 0.0, None)
    total = eig.sum()
    if total == 0:
        return {lv: 0 for lv in levels}
    cumulative = np.cumsum(eig) / total
    return {lv: int(min(np.searchsorted(cumulative, lv - 1e-12) + 1, x.shape[1])) for lv in levels}


class VAETask(TaskBase):
    """RAVE-like VAE training: networks, optimisers, step, summaries.

    Args:
      config: the full resolved config (``model.name == 'vae'``); ``train.num_heldout`` clips
        are held out for the latent statistics and reconstruction summaries.
    """

    default_config = staticmethod(vae_config)  # the family's config schema

    def __init__(self, config: ml_collections.ConfigDict):
        # Under bf16 only the convs run in it: PQMF and the STFT/mel losses stay float32.
        super().__init__(config, num_heldout=config.train.num_heldout)
        self.settings = vae_settings(config)
        # Built abstractly and initialised in numpy (see init_params_numpy): building the modules
        # eagerly compiles one XLA program per parameter shape, ~20 s for a tiny model.
        self.band_split = BandSplit(self.settings)
        encoder, decoder = nnx.eval_shape(
            lambda: (
                Encoder(self.settings, rngs=nnx.Rngs(0)),
                Decoder(self.settings, rngs=nnx.Rngs(0)),
            )
        )
        self.enc_def, enc_abstract = nnx.split(encoder)
        self.dec_def, dec_abstract = nnx.split(decoder)
        abstract = {"enc": nnx.to_pure_dict(enc_abstract), "dec": nnx.to_pure_dict(dec_abstract)}
        self._read_loss_config()
        self.adversarial_start = int(config.train.adversarial_start)
        if self.adversarial:
            self.disc_def, abstract["disc"] = self._abstract_discriminator()
        self._init_params = init_params_numpy(abstract, config.seed)
        self.tx = make_optimizer(config.train)

    def _abstract_discriminator(self) -> tuple[nnx.GraphDef, PyTree]:
        config, dc = self.config, self.config.model.discriminator
        names = tuple(dc.names)
        if not names or any(n not in DISCRIMINATORS for n in names):
            raise VAEConfigKeyError(
                f"config key model.discriminator.names: expected names from {DISCRIMINATORS}, "
                f"got {names!r}"
            )
        if config.loss.name not in ADVERSARIAL_LOSSES:
            raise VAEConfigKeyError(
                f"config key loss.name: expected one of {ADVERSARIAL_LOSSES} for the VAE's "
                f"adversarial phase, got {config.loss.name!r}"
            )
        disc = nnx.eval_shape(
            lambda: build_discriminator(
                names,
                channels=int(dc.channels),
                periods=tuple(dc.periods),
                fft_sizes=tuple(dc.fft_sizes),
                num_scales=int(dc.scales),
                rngs=nnx.Rngs(0),
            )
        )
        graph, params = nnx.split(disc)
        return graph, nnx.to_pure_dict(params)

    @property
    def adversarial(self) -> bool:
        return self.adversarial_start >= 0

    def _read_loss_config(self) -> None:
        lc = self.config.loss
        weights = dict(lc.weights)
        known = PHASE1_TERMS + ADVERSARIAL_TERMS
        unknown = sorted(set(weights) - set(known))
        if unknown:
            raise VAEConfigKeyError(
                f"config key loss.weights: unknown term(s) {unknown}; the logged terms are {known}"
            )
        if any(float(w) < 0 for w in weights.values()):
            raise VAEConfigKeyError(
                f"config key loss.weights: expected weights >= 0, got {weights}"
            )
        self.weights = {k: float(v) for k, v in weights.items()}
        self.stft_sizes = tuple(int(n) for n in lc.stft_fft_sizes)
        mel_sizes = tuple(int(n) for n in lc.mel_fft_sizes)
        length = self.settings.length
        for key, sizes in (
            ("loss.stft_fft_sizes", self.stft_sizes),
            ("loss.mel_fft_sizes", mel_sizes),
        ):
            if not sizes or max(sizes) // 2 >= length:
                raise VAEConfigKeyError(
                    f"config key {key}: expected non-empty FFT sizes below 2·data.length="
                    f"{2 * length}, got {sizes}"
                )
        sr = self.config.data.sample_rate
        # Numpy constants: under jit they are baked into the step.
        self.mel_bases = [mel_filterbank(sr, n, max(n // 16, 8)) for n in mel_sizes]
        self.beta_start = float(lc.kl_beta_start)
        self.warmup = int(lc.kl_warmup_steps)
        if self.beta_start <= 0:
            raise VAEConfigKeyError(
                f"config key loss.kl_beta_start: expected > 0, got {self.beta_start}"
            )

    # ---- the networks as pure functions of their parameters ----
    def encode(self, enc: PyTree, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        """x [B, T] → (mean, logvar) [B, T / compression, latent_dim].

        With ``model.harmonics`` the last channel is the input's pitch (YIN, no gradient;
        :func:`wavegen.models.harmonic.pitch_channel`) with a fixed tiny variance.
        """
        net = precision.merge(self.enc_def, enc, self.dtype)
        bands = precision.to_compute(self.band_split.to_bands(x), self.dtype)
        mean, logvar = precision.to_float32(net(bands))
        s = self.settings
        if not s.harmonics:
            return mean, logvar
        frames = x.shape[-1] // s.compression
        pitch = harmonic.pitch_channel(x, s.sample_rate, s.compression, frames, *s.f0_range)
        mean = jnp.concatenate([mean, pitch[..., None]], axis=-1)
        logvar = jnp.concatenate([logvar, jnp.full_like(pitch[..., None], PITCH_LOGVAR)], -1)
        return mean, logvar

    def decode(self, dec: PyTree, z: jax.Array) -> jax.Array:
        """z [B, L, latent_dim] → x̂ [B, L · compression].

        The PQMF synthesis of the decoder's bands, plus (``model.harmonics``) the harmonic
        oscillator bank at the pitch channel's f0 (float32, outside the compute dtype).
        """
        net = precision.merge(self.dec_def, dec, self.dtype)
        bands, controls = precision.to_float32(net(precision.to_compute(z, self.dtype)))
        y = self.band_split.to_waveform(bands)
        s = self.settings
        if not s.harmonics:
            return y
        f0_frames = harmonic.channel_to_hz(z[..., -1], *s.f0_range)  # [B, L]
        ratio = math.prod(s.ratios)
        f0_bands = harmonic.upsample_frames(f0_frames, ratio)  # [B, F]
        amps = harmonic.harmonic_amplitudes(controls, f0_bands, s.sample_rate)
        f0 = harmonic.upsample_frames(f0_frames, s.compression)  # [B, T]
        return y + harmonic.harmonic_synth_frames(f0, amps, s.sample_rate)

    def learned_kl(self, mean: jax.Array, logvar: jax.Array) -> jax.Array:
        """KL per learned latent channel [learned_dim] (the pitch channel is not learned)."""
        d = self.settings.learned_dim
        return kl_per_channel(mean[..., :d], logvar[..., :d])

    def discriminate(self, disc: PyTree, x: jax.Array):
        """x [B, T] → list of (logits, [feature maps]) per sub-discriminator."""
        net = precision.merge(self.disc_def, disc, self.dtype)
        return precision.to_float32(net(precision.to_compute(x, self.dtype)))

    def reconstruction_terms(self, y: jax.Array, x: jax.Array) -> dict[str, jax.Array]:
        """``recon/stft`` and ``recon/mel`` of a reconstruction y [B, T] of x [B, T]."""
        mel = jnp.mean(jnp.stack([log_mel_l1(y, x, basis) for basis in self.mel_bases]))
        return {
            "recon/stft": multi_resolution_stft_loss(y, x, self.stft_sizes),
            "recon/mel": mel,
        }

    # ---- Task protocol ----
    def data_arrays(self, dataset: AudioDataset) -> dict[str, np.ndarray]:
        return {"x": np.asarray(dataset.waveforms, np.float32)}

    def init_state(self) -> PyTree:
        p = self._init_params
        state = {
            "step": jnp.zeros((), jnp.int32),
            "enc": p["enc"],
            "dec": p["dec"],
            "enc_opt": self.tx.init(p["enc"]),
            "dec_opt": self.tx.init(p["dec"]),
        }
        if self.adversarial:
            state["disc"] = p["disc"]
            state["disc_opt"] = self.tx.init(p["disc"])
        return state

    def _apply(self, params: PyTree, opt: PyTree, grads: PyTree) -> tuple[PyTree, PyTree]:
        updates, opt = self.tx.update(grads, opt, params)
        return optax.apply_updates(params, updates), opt

    def vae_update(
        self, state: PyTree, x: jax.Array, key: jax.Array, beta: jax.Array
    ) -> tuple[PyTree, dict[str, jax.Array]]:
        """Phase 1: one step of encoder + decoder on the weighted reconstruction + β·KL."""

        def loss_fn(params):
            mean, logvar = self.encode(params["enc"], x)
            y = self.decode(params["dec"], reparameterize(mean, logvar, key))
            terms = self.reconstruction_terms(y, x)
            terms["kl"] = jnp.sum(self.learned_kl(mean, logvar))
            return weighted_total(terms, self.weights, beta), terms

        params = {"enc": state["enc"], "dec": state["dec"]}
        (total, terms), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
        enc, enc_opt = self._apply(state["enc"], state["enc_opt"], grads["enc"])
        dec, dec_opt = self._apply(state["dec"], state["dec_opt"], grads["dec"])
        new = dict(state, enc=enc, dec=dec, enc_opt=enc_opt, dec_opt=dec_opt)
        metrics = dict(terms, **{"loss/total": total, "grad_norm/vae": tree_norm(grads)})
        return new, metrics

    def adversarial_update(
        self, state: PyTree, x: jax.Array, key: jax.Array, beta: jax.Array
    ) -> tuple[PyTree, dict[str, jax.Array]]:
        """Phase 2: discriminator step, then decoder step against it; the encoder is frozen."""
        loss_name = self.config.loss.name
        mean, logvar = self.encode(state["enc"], x)
        z = jax.lax.stop_gradient(reparameterize(mean, logvar, key))
        kl = jax.lax.stop_gradient(jnp.sum(self.learned_kl(mean, logvar)))
        # One decoder forward serves both updates: its VJP is applied to dL/dy afterwards.
        y, pull_back = jax.vjp(lambda dec: self.decode(dec, z), state["dec"])

        def d_loss_fn(disc):
            real = self.discriminate(disc, x)
            fake = self.discriminate(disc, jax.lax.stop_gradient(y))
            return multi_discriminator_loss(loss_name, real, fake)

        d_loss, d_grads = jax.value_and_grad(d_loss_fn)(state["disc"])
        disc, disc_opt = self._apply(state["disc"], state["disc_opt"], d_grads)

        def g_loss_fn(y_):
            terms = self.reconstruction_terms(y_, x)
            terms["kl"] = kl
            adv, fm = multi_generator_losses(
                loss_name, self.discriminate(disc, x), self.discriminate(disc, y_)
            )
            terms["g/adv"], terms["g/feature_matching"] = adv, fm
            return weighted_total(terms, self.weights, beta), terms

        (total, terms), dy = jax.value_and_grad(g_loss_fn, has_aux=True)(y)
        (dec_grads,) = pull_back(dy)
        dec, dec_opt = self._apply(state["dec"], state["dec_opt"], dec_grads)
        new = dict(state, dec=dec, dec_opt=dec_opt, disc=disc, disc_opt=disc_opt)
        metrics = dict(
            terms,
            **{
                "loss/total": total,
                "grad_norm/vae": tree_norm(dec_grads),
                "d/loss": d_loss,
                "d/grad_norm": tree_norm(d_grads),
            },
        )
        return new, metrics

    def train_step(
        self, state: PyTree, batch: dict[str, jax.Array], key: jax.Array
    ) -> tuple[PyTree, dict[str, jax.Array]]:
        """One step of phase 1 or (from ``train.adversarial_start``) phase 2.

        Args:
          batch: "x" [B, T] float32 waveforms.
        """
        x = batch["x"]
        step = state["step"]
        beta = kl_beta(step, self.beta_start, self.weights.get("kl", 0.0), self.warmup)
        if not self.adversarial:
            new, metrics = self.vae_update(state, x, key, beta)
        else:
            # Both branches must return the same metric names: phase 1 reports zeros for the
            # adversarial ones.
            def phase1(s):
                new, m = self.vae_update(s, x, key, beta)
                zero = jnp.zeros((), jnp.float32)
                m.update({n: zero for n in (*ADVERSARIAL_TERMS, "d/loss", "d/grad_norm")})
                return new, m

            def phase2(s):
                return self.adversarial_update(s, x, key, beta)

            new, metrics = jax.lax.cond(step >= self.adversarial_start, phase2, phase1, state)
            metrics["train/adversarial"] = (step >= self.adversarial_start).astype(jnp.float32)
        new["step"] = step + 1
        metrics["kl/beta"] = beta
        return new, metrics

    # ---- summaries ----
    def _heldout_batch(self) -> np.ndarray:
        """The held-out clips [N, T] float32 the loop set (:meth:`set_heldout`)."""
        if self.heldout is None:
            raise RuntimeError("VAETask.set_heldout was not called (wavegen.train.loop.fit does)")
        return np.asarray(self.heldout.waveforms, np.float32)

    @functools.cached_property
    def encode_fn(self):
        """Jitted (enc, x [B, T]) → posterior mean [B, T / compression, latent_dim]."""
        return jax.jit(lambda enc, x: self.encode(enc, x)[0])

    @functools.cached_property
    def decode_fn(self):
        """Jitted :meth:`decode` (compiled once per latent shape)."""
        return jax.jit(self.decode)

    def prior_latents(self, num: int, seed: int, *, interpolate: bool = False) -> jax.Array:
        """[num, data.length / compression, latent_dim] draws from the prior N(0, I).

        With ``interpolate`` a straight line between two prior draws: clip i is
        ``(1 - t_i) z_0 + t_i z_1``, ``t_i = i / (num - 1)``.
        """
        shape = (self.settings.latent_frames, self.settings.latent_dim)
        key = jax.random.key(seed)
        if not interpolate:
            return jax.random.normal(key, (num, *shape))
        ends = jax.random.normal(key, (2, *shape))
        t = jnp.linspace(0.0, 1.0, num)[:, None, None]
        return ends[0] * (1 - t) + ends[1] * t

    def sample_audio(self, state: PyTree, request: SampleRequest) -> np.ndarray:
        """``request.num`` clips [num, data.length] decoded from prior draws
        (:meth:`prior_latents`).

        Frames are independent N(0, I) draws: this shows what the decoder makes of the prior,
        not a model of latent dynamics (RAVE trains a separate prior for that).

        Raises:
          ValueError: ``label`` is given (the VAE is unconditional).
        """
        request.fixed_labels(0)  # the VAE is unconditional: a label is an error
        num, batch_size = request.num, request.batch_size
        z = self.prior_latents(num, request.seed, interpolate=request.interpolate)
        out = [
            np.asarray(jax.device_get(self.decode_fn(state["dec"], z[i : i + batch_size])))
            for i in range(0, num, batch_size)
        ]
        return np.clip(np.concatenate(out), -1.0, 1.0)

    @functools.cached_property
    def _posterior_fn(self):
        def fn(enc, dec, x):
            mean, logvar = self.encode(enc, x)
            return self.decode(dec, mean), mean, self.learned_kl(mean, logvar)

        return jax.jit(fn)

    @functools.cached_property
    def _heldout_fn(self):
        """(y, x) [N, T] → per-batch MR-STFT and log-mel distances, per-clip SI-SDR [N]: the
        JAX losses (float32) that ``wavegen.eval.metrics`` mirrors in float64 numpy."""
        basis = mel_filterbank(self.config.data.sample_rate, 1024, 80)

        def fn(y, x):
            return {
                "stft": multi_resolution_stft_loss(y, x, self.stft_sizes),
                "mel": log_mel_l1(y, x, basis, 256),
                "si_sdr": si_sdr(x, y),
            }

        return jax.jit(fn)

    def monitor_reconstructions(self, state: PyTree) -> tuple[np.ndarray, np.ndarray]:
        """(inputs, reconstructions) [N, T] float32 of the fixed held-out batch, for the loop's
        reconstruction monitors (posterior means, the function :meth:`summarize` compiled)."""
        x = self._heldout_batch()
        y, _, _ = jax.device_get(self._posterior_fn(state["enc"], state["dec"], x))
        return x, np.asarray(y, np.float32)

    def summarize(self, state: PyTree, writer: SummaryWriter, step: int) -> None:
        # Every process runs the networks (SPMD); only the enabled writer writes.
        x = self._heldout_batch()
        y, mean, kl = jax.device_get(self._posterior_fn(state["enc"], state["dec"], x))
        distances = jax.device_get(self._heldout_fn(y, x))
        if not writer.enabled:
            return
        n = min(self.config.train.num_samples, len(x))
        sr = self.config.data.sample_rate
        writer.audio_with_spectrograms(step, "reconstruction/output", y[:n], sr)
        scalars = {
            "heldout/stft_distance": float(distances["stft"]),
            "heldout/mel_distance": float(distances["mel"]),
            "latent/kl_total": float(np.sum(kl)),
        }
        sdr = distances["si_sdr"]
        energetic = (np.std(x, axis=-1) > 1e-6) & np.isfinite(sdr)  # undefined for silence
        if energetic.any():
            scalars["heldout/si_sdr"] = float(np.mean(sdr[energetic]))
        for i, value in enumerate(kl):
            scalars[f"latent/kl_channel/{i:03d}"] = float(value)
        fidelity = latent_fidelity(mean.reshape(-1, mean.shape[-1]))
        for level, dims in fidelity.items():
            scalars[f"latent/dims_for_{round(100 * level)}pct_variance"] = dims
        writer.scalars(step, scalars)

    def reference_summaries(self, dataset: AudioDataset, writer: SummaryWriter) -> None:
        x = self._heldout_batch()
        n = min(self.config.train.num_samples, len(x))
        writer.audio_with_spectrograms(
            0, "reconstruction/input", x[:n], self.config.data.sample_rate
        )

    def inference_state(self, state: PyTree) -> dict[str, PyTree]:
        """What ``wavegen publish`` keeps: the encoder and the decoder."""
        return {"enc": state["enc"], "dec": state["dec"]}

    def networks(self, state: PyTree, batch: int) -> list[Network]:
        """The decoder (latents [B, L, latent_dim] → audio [B, L · compression], unclipped) and
        the encoder (audio [B, data.length] → posterior means), for compile and export."""
        s = self.settings
        z = jax.ShapeDtypeStruct((batch, s.latent_frames, s.latent_dim), jnp.float32)
        x = jax.ShapeDtypeStruct((batch, s.length), jnp.float32)
        meta = {"latent_distribution": "normal(0, 1) per frame (the prior), or encoder.jax's means"}
        meta["compression"] = int(s.compression)
        return [
            Network("generator", self.decode, state["dec"], (z,), ("latents",), "audio", meta),
            Network("encoder", lambda enc, a: self.encode(enc, a)[0], state["enc"], (x,),
                    ("audio",), "posterior mean latents"),
        ]  # fmt: skip

    def extra_meta(self) -> dict:
        return {"compression": self.settings.compression}

    def load_meta(self, meta: dict) -> None:
        """Checks a restored checkpoint was made with this model's compression ratio."""
        saved = meta.get("compression")
        if saved is not None and saved != self.settings.compression:
            raise ValueError(
                f"checkpoint has compression {saved}; this config builds "
                f"{self.settings.compression}"
            )
