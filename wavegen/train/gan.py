"""The GAN task (WaveGAN and SpecGAN) for the shared training loop.

One train step is one paper iteration: ``train.d_steps`` critic updates, each on a fresh real
batch, then one generator update, all inside one jitted function (a ``lax.scan`` over the critic
updates), so a step costs one dispatch and no host sync. Every random draw (latents, interpolation
alphas, phase shuffle) comes from the step's key, itself ``fold_in(seed, step)``.

Stabilisers, each a config key and off by default so the paper configs train as the paper:
R1 / R2 penalties with optional lazy regularisation (``loss.r1_weight``, ``r2_weight``,
``reg_every``), separate G and D learning rates (``train.g_learning_rate``, ``d_learning_rate``),
an exponential moving average of G (``train.ema_decay``; state entry ``g_ema``, used for every
sample), and differentiable augmentation of D's inputs (``train.augment_*``). The state's
``step`` counts generator updates (EMA warm-up and lazy regularisation read it). WaveGAN's
critic may be the library's discriminators (``model.critic``, :mod:`wavegen.models.critics`),
with mean-feature matching in G's loss (``loss.feature_matching``), and spectrally normalised
(``model.spectral_norm``: power-iteration vectors in ``state["d_sn"]``, advanced once per
critic update and read, not advanced, by G's update; :mod:`wavegen.models.spectral_norm`).
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from flax import nnx

from wavegen.config import ConfigError
from wavegen.data import AudioDataset, spectral
from wavegen.defaults import base_config
from wavegen.losses.adversarial import mean_discriminator_loss, mean_generator_loss
from wavegen.losses.gan import (
    LOSSES,
    gradient_norm_penalty,
    gradient_penalty,
    mean_feature_matching_loss,
)
from wavegen.models import (
    build_gan,
    critics,
    describe,
    precision,
    spectral_norm,
    validate_model_config,
)
from wavegen.train import augment
from wavegen.train.loop import SampleRequest, check_dataset_labels
from wavegen.train.networks import Network
from wavegen.train.optim import make_optimizer
from wavegen.train.summaries import SummaryWriter
from wavegen.train.task import TaskBase

PyTree = Any


def _rate(tc: ml_collections.ConfigDict, key: str) -> float:
    """G's or D's learning rate: ``train.<key>`` when set (> 0), else ``train.learning_rate``."""
    return float(tc[key]) if tc[key] > 0 else float(tc.learning_rate)


def validate_gan_config(cfg: ml_collections.ConfigDict) -> None:
    """Checks the ``loss`` and the GAN-only ``train`` keys; raises ConfigError naming the key.

    Runs when the task is built, before any data is decoded or anything is traced.
    """
    lc, tc = cfg.loss, cfg.train

    def need(ok: bool, key: str, expected: str, value: object) -> None:
        if not ok:
            raise ConfigError(f"config key {key}: expected {expected}, got {value!r}")

    need(lc.name in LOSSES, "loss.name", f"one of {LOSSES}", lc.name)
    for key in ("gp_weight", "r1_weight", "r2_weight"):
        need(lc[key] >= 0, f"loss.{key}", "a number >= 0", lc[key])
    fm = lc.feature_matching
    need(fm >= 0, "loss.feature_matching", "a number >= 0", fm)
    need(fm == 0 or cfg.model.name == "wavegan", "loss.feature_matching", "0 for specgan", fm)
    need(
        isinstance(lc.reg_every, int) and lc.reg_every >= 1,
        "loss.reg_every",
        "an int >= 1",
        lc.reg_every,
    )
    need(
        isinstance(tc.d_steps, int) and tc.d_steps >= 1, "train.d_steps", "an int >= 1", tc.d_steps
    )
    need(0.0 <= tc.ema_decay < 1.0, "train.ema_decay", "a number in [0, 1)", tc.ema_decay)
    k = cfg.data.clusters
    need(
        k == 0 or cfg.model.num_classes == k,
        "model.num_classes",
        f"data.clusters={k} (a self-conditioned G has one class per cluster)",
        cfg.model.num_classes,
    )
    for key in ("g_learning_rate", "d_learning_rate", "augment_gain_db"):
        need(tc[key] >= 0, f"train.{key}", "a number >= 0", tc[key])
    need(0.0 <= tc.augment_p <= 1.0, "train.augment_p", "a probability in [0, 1]", tc.augment_p)
    need(
        isinstance(tc.augment_shift, int) and 0 <= tc.augment_shift < cfg.data.length,
        "train.augment_shift",
        f"an int in [0, data.length={cfg.data.length})",
        tc.augment_shift,
    )
    if tc.augment_p > 0 and cfg.model.name != "wavegan":
        need(
            False,
            "train.augment_p",
            "0 for specgan (waveform augmentation, wavegan only)",
            tc.augment_p,
        )


def ema_decay_at(decay: float, updates: jax.Array) -> jax.Array:
    """The EMA's decay after ``updates`` generator updates: ``min(decay, (1 + n) / (10 + n))``.

    The warm-up is TensorFlow's ``ExponentialMovingAverage(num_updates=n)``: early on, when G
    moves fast, the average follows it closely instead of holding on to the random init for
    ~1 / (1 - decay) steps, which a laptop-budget run cannot afford.
    """
    n = updates.astype(jnp.float32)
    return jnp.minimum(jnp.float32(decay), (1.0 + n) / (10.0 + n))


def ema_update(ema: PyTree, params: PyTree, decay: jax.Array) -> PyTree:
    """``ema ← decay · ema + (1 - decay) · params``, leaf by leaf."""
    return jax.tree.map(lambda e, p: e + (1.0 - decay) * (p - e), ema, params)


class GANTask(TaskBase):
    """WaveGAN / SpecGAN training: networks, optimisers, step and summaries.

    Args:
      config: the full resolved config (one global batch per critic update: ``train.d_steps``
        of them per step).
    """

    default_config = staticmethod(base_config)  # the family's config schema

    def __init__(self, config: ml_collections.ConfigDict):
        validate_model_config(config)
        validate_gan_config(config)
        super().__init__(config, batch_group=config.train.d_steps)
        self.is_spec = config.model.name == "specgan"
        self.conditional = config.model.num_classes > 0
        generator, discriminator = build_gan(config, rngs=nnx.Rngs(config.seed))
        # Other critics are built beside the paper's D (the default returns it as is).
        discriminator = critics.build_critic(config, discriminator, rngs=nnx.Rngs(config.seed + 1))
        self.g_def, g_params = nnx.split(generator)
        self.d_def, d_params = nnx.split(discriminator)
        self._init_params = (nnx.to_pure_dict(g_params), nnx.to_pure_dict(d_params))
        self.g_tx = make_optimizer(config.train, _rate(config.train, "g_learning_rate"))
        self.d_tx = make_optimizer(config.train, _rate(config.train, "d_learning_rate"))
        self.use_ema = config.train.ema_decay > 0
        self.use_sn = bool(config.model.spectral_norm)
        self.fm_weight = float(config.loss.feature_matching)
        self.moments: tuple[np.ndarray, np.ndarray] | None = None
        # Self-conditioning (data.clusters > 0): how many training clips fell in each cluster;
        # unasked-for samples draw their cluster from these shares, as the data does.
        self.cluster_counts: list[int] = []
        key = jax.random.fold_in(jax.random.key(config.seed), 0x5A3)
        n = config.train.num_samples
        # Fixed latents for the audio summaries: the same clips are heard at every step.
        self.fixed_z = jax.random.uniform(key, (n, config.model.latent_dim), minval=-1, maxval=1)
        self.fixed_labels = (
            jnp.arange(n, dtype=jnp.int32) % config.model.num_classes if self.conditional else None
        )

    # ---- networks as pure functions of their parameters ----
    def generate(self, g_params: PyTree, z: jax.Array, labels: jax.Array | None) -> jax.Array:
        """z [B, latent] → G output ([B, T] audio or [B, 128, 128] normalised spectrogram)."""
        g = precision.merge(self.g_def, g_params, self.dtype)
        return precision.to_float32(g(precision.to_compute(z, self.dtype), labels))

    def critic_outputs(
        self, d_params: PyTree, x: jax.Array, labels: jax.Array | None, key: jax.Array
    ) -> critics.DiscriminatorOutput:
        """x [B, ...] → [(logits [B, ...], [feature maps]), ...], one per sub-discriminator."""
        d = precision.merge(self.d_def, d_params, self.dtype)
        out = critics.outputs(d, precision.to_compute(x, self.dtype), labels, key)
        return precision.to_float32(out)  # logits and features: float32 losses and penalties

    def critic(
        self, d_params: PyTree, x: jax.Array, labels: jax.Array | None, key: jax.Array
    ) -> jax.Array:
        """x [B, ...] → logits [B] (summed over sub-discriminators); ``key``: phase shuffle."""
        return critics.scores(self.critic_outputs(d_params, x, labels, key))

    # ---- Task protocol ----
    def data_arrays(self, dataset: AudioDataset) -> dict[str, np.ndarray]:
        self.label_names = list(dataset.label_names)
        check_dataset_labels(dataset, self.config.model.num_classes)
        if self.config.data.clusters > 0:
            counts = np.bincount(dataset.labels, minlength=self.config.model.num_classes)
            self.cluster_counts = [int(c) for c in counts]
        x = np.asarray(dataset.waveforms, np.float32)
        if self.is_spec:
            feats = spectral.waveform_to_features(x)
            self.moments = spectral.compute_moments(feats)
            x = spectral.normalize_features(feats, self.moments).astype(np.float32)
        return {"x": x, "label": np.asarray(dataset.labels, np.int32)}

    def init_state(self) -> PyTree:
        g, d = self._init_params
        state = {"g": g, "d": d, "g_opt": self.g_tx.init(g), "d_opt": self.d_tx.init(d)}
        state["step"] = jnp.zeros((), jnp.int32)
        if self.use_ema:
            state["g_ema"] = jax.tree.map(jnp.array, g)
        if self.use_sn:
            key = jax.random.fold_in(jax.random.key(self.config.seed), 0x5E)
            state["d_sn"] = spectral_norm.init_vectors(d, key)
        return state

    @staticmethod
    def sampling_params(state: PyTree) -> PyTree:
        """The generator weights samples come from: the EMA when the run keeps one, else G's."""
        return state["g_ema"] if "g_ema" in state else state["g"]

    def inference_state(self, state: PyTree) -> dict[str, PyTree]:
        """What ``wavegen publish`` keeps: the sampling weights, as ``'g'``."""
        return {"g": self.sampling_params(state)}

    def networks(self, state: PyTree, batch: int) -> list[Network]:
        """The generator on the sampling weights: latents [B, latent_dim] uniform(-1, 1) (and
        labels [B] int32 when conditional) → G's output (``wavegen compile``, ``export``)."""
        cfg = self.config
        z = jax.ShapeDtypeStruct((batch, cfg.model.latent_dim), jnp.float32)
        meta: dict = {
            "latent_distribution": "uniform(-1, 1)",
            "num_classes": int(cfg.model.num_classes),
            "label_names": list(self.label_names),
            "uses_ema": "g_ema" in state,
        }
        if self.is_spec:  # the host-side inversion of to_audio
            moments = None if self.moments is None else [m.tolist() for m in self.moments]
            meta["postprocess"] = {
                "function": "wavegen.data.spectral.features_to_waveform",
                "spectral_moments": moments,
                "griffin_lim": cfg.model.griffin_lim,
                "griffin_lim_iters": int(cfg.model.griffin_lim_iters),
                "length": int(cfg.data.length),
            }
        kind = "normalised log-magnitude spectrogram" if self.is_spec else "audio"
        params = self.sampling_params(state)
        if self.conditional:
            labels = jax.ShapeDtypeStruct((batch,), jnp.int32)
            names = ("latents", "labels")
            return [Network("generator", self.generate, params, (z, labels), names, kind, meta)]

        def unconditional(params: PyTree, latents: jax.Array) -> jax.Array:
            return self.generate(params, latents, None)

        return [Network("generator", unconditional, params, (z,), ("latents",), kind, meta)]

    def _augment(self, x: jax.Array, key: jax.Array) -> jax.Array:
        """D's input x [B, T] under the configured augmentation (identity when off)."""
        tc = self.config.train
        if tc.augment_p <= 0:
            return x
        return augment.augment(
            x, key, max_shift=tc.augment_shift, max_gain_db=tc.augment_gain_db, p=tc.augment_p
        )

    def critic_update(
        self,
        g_params: PyTree,
        d_params: PyTree,
        d_opt: PyTree,
        real: jax.Array,
        labels: jax.Array | None,
        key: jax.Array,
        regularize: jax.Array | bool = True,
        d_sn: PyTree | None = None,
    ) -> tuple[PyTree, PyTree, dict[str, jax.Array]]:
        """One critic update on a real batch [B, ...] against fresh fakes.

        Args:
          regularize: whether this update adds the R1 / R2 penalties (lazy regularisation:
            a traced bool; the penalties are weighted ``loss.reg_every``× when they run).
          d_sn: spectral-norm vectors (already advanced for this update) or None: every pass
            (real, fake, penalties) then sees the weights divided by the same σ estimates.

        Returns:
          (new critic params, new critic optimiser state, scalar metrics).
        """
        lc = self.config.loss
        kz, k_real, k_fake, k_gp, k_mix, k_aug_r, k_aug_f = jax.random.split(key, 7)
        z = self._latents(kz, real.shape[0])
        fake = jax.lax.stop_gradient(self.generate(g_params, z, labels))
        real, fake = self._augment(real, k_aug_r), self._augment(fake, k_aug_f)
        use_r = lc.r1_weight > 0 or lc.r2_weight > 0
        reg_scale = float(lc.reg_every)

        def loss_fn(dp, with_reg):
            if d_sn is not None:  # from here on dp is W / σ(W, u), differentiable in W
                dp, sigmas = spectral_norm.normalize(dp, d_sn)
            out_real = self.critic_outputs(dp, real, labels, k_real)
            out_fake = self.critic_outputs(dp, fake, labels, k_fake)
            d_real, d_fake = critics.scores(out_real), critics.scores(out_fake)
            loss = mean_discriminator_loss(lc.name, out_real, out_fake)
            metrics = {
                "d/wasserstein": jnp.mean(d_real) - jnp.mean(d_fake),
                "d/real_logit": jnp.mean(d_real),
                "d/fake_logit": jnp.mean(d_fake),
            }
            if d_sn is not None:
                metrics["d/sn_sigma"] = jnp.mean(sigmas)
            if lc.name == "wgan-gp":
                gp = gradient_penalty(lambda x: self.critic(dp, x, labels, k_mix), real, fake, k_gp)
                loss = loss + lc.gp_weight * gp
                metrics["d/gradient_penalty"] = gp
            metrics["d/adv_loss"] = loss
            for name, weight, x, k in (
                ("r1", lc.r1_weight, real, k_real),
                ("r2", lc.r2_weight, fake, k_fake),
            ):
                if weight > 0:
                    if with_reg:
                        pen = gradient_norm_penalty(
                            lambda x_, k=k: self.critic(dp, x_, labels, k), x
                        )
                        loss = loss + 0.5 * weight * reg_scale * pen
                    else:
                        pen = jnp.float32(0.0)
                    metrics[f"d/{name}_penalty"] = pen
            metrics["d/loss"] = loss
            return loss, metrics

        def grads_with(with_reg: bool):
            return lambda dp: jax.grad(lambda p: loss_fn(p, with_reg), has_aux=True)(dp)

        if use_r and lc.reg_every > 1:
            grads, metrics = jax.lax.cond(regularize, grads_with(True), grads_with(False), d_params)
            metrics["d/regularized"] = jnp.asarray(regularize, jnp.float32)
        else:
            grads, metrics = grads_with(True)(d_params)
        updates, d_opt = self.d_tx.update(grads, d_opt, d_params)
        metrics["d/grad_norm"] = optax.tree.norm(grads)
        return optax.apply_updates(d_params, updates), d_opt, metrics

    def generator_update(
        self,
        g_params: PyTree,
        g_opt: PyTree,
        d_params: PyTree,
        batch_size: int,
        labels: jax.Array | None,
        key: jax.Array,
        real: jax.Array | None = None,
    ) -> tuple[PyTree, PyTree, dict[str, jax.Array]]:
        """One generator update through the current critic; returns (g, opt, metrics).

        ``d_params`` are the critic's effective weights (spectrally normalised by the caller);
        ``real`` [B, ...] is the batch feature matching compares against (needed when on).
        """
        kz, k_shuffle, k_aug = jax.random.split(key, 3)
        z = self._latents(kz, batch_size)
        if self.fm_weight > 0:
            if real is None:
                raise ValueError("loss.feature_matching > 0: generator_update needs `real`")
            k_real, k_real_aug = jax.random.split(jax.random.fold_in(key, 1))
            real = self._augment(real, k_real_aug)  # D sees fakes augmented: match like for like
            out_real = self.critic_outputs(d_params, real, labels, k_real)
            real_feats = jax.lax.stop_gradient(critics.features(out_real))

        def loss_fn(gp_):
            fake = self._augment(self.generate(gp_, z, labels), k_aug)
            out = self.critic_outputs(d_params, fake, labels, k_shuffle)
            loss, aux = mean_generator_loss(self.config.loss.name, out), {}
            if self.fm_weight > 0:
                fm = mean_feature_matching_loss(real_feats, critics.features(out))
                aux = {"g/adv_loss": loss, "g/feature_matching": fm}
                loss = loss + self.fm_weight * fm
            return loss, aux

        (loss, aux), grads = jax.value_and_grad(loss_fn, has_aux=True)(g_params)
        updates, g_opt = self.g_tx.update(grads, g_opt, g_params)
        metrics = {"g/loss": loss, "g/grad_norm": optax.tree.norm(grads), **aux}
        return optax.apply_updates(g_params, updates), g_opt, metrics

    def _latents(self, key: jax.Array, batch_size: int) -> jax.Array:
        shape = (batch_size, self.config.model.latent_dim)
        return jax.random.uniform(key, shape, minval=-1.0, maxval=1.0)

    def train_step(self, state: PyTree, batch: dict[str, jax.Array], key: jax.Array):
        """One paper iteration: ``d_steps`` critic updates, then one generator update.

        Args:
          batch: "x" [d_steps, B, ...] real examples, "label" [d_steps, B] int32 (with one
            critic update the loop's batches have no group axis: [B, ...], [B]).
        """
        if self.batch_group == 1:
            batch = jax.tree.map(lambda a: a[None], batch)
        reals = batch["x"]
        labels = batch["label"] if self.conditional else jnp.zeros(reals.shape[:2], jnp.int32)
        d_key, g_key = jax.random.split(key)
        reg_every = self.config.loss.reg_every
        first_update = state["step"] * reals.shape[0]  # critic updates before this step

        def body(carry, inputs):
            d_params, d_opt, d_sn = carry
            real, label, k, i = inputs
            if d_sn is not None:  # one power iteration per critic update (SN-GAN Algorithm 1)
                d_sn = spectral_norm.power_iteration(d_params, d_sn)
            d_params, d_opt, metrics = self.critic_update(
                state["g"],
                d_params,
                d_opt,
                real,
                label if self.conditional else None,
                k,
                regularize=(first_update + i) % reg_every == 0,
                d_sn=d_sn,
            )
            return (d_params, d_opt, d_sn), metrics

        d_keys = jax.random.split(d_key, reals.shape[0])
        idx = jnp.arange(reals.shape[0], dtype=jnp.int32)
        (d_params, d_opt, d_sn), d_metrics = jax.lax.scan(
            body, (state["d"], state["d_opt"], state.get("d_sn")), (reals, labels, d_keys, idx)
        )
        # G steps through the current σ estimates; only critic updates advance the vectors.
        d_eff = d_params if d_sn is None else spectral_norm.normalize(d_params, d_sn)[0]
        g_params, g_opt, g_metrics = self.generator_update(
            state["g"],
            state["g_opt"],
            d_eff,
            reals.shape[1],
            labels[-1] if self.conditional else None,
            g_key,
            real=reals[-1] if self.fm_weight > 0 else None,
        )
        new_state = {"g": g_params, "d": d_params, "g_opt": g_opt, "d_opt": d_opt}
        if d_sn is not None:
            new_state["d_sn"] = d_sn
        new_state["step"] = state["step"] + 1
        metrics = dict(jax.tree.map(jnp.mean, d_metrics), **g_metrics)
        if self.use_ema:
            decay = ema_decay_at(self.config.train.ema_decay, state["step"])
            new_state["g_ema"] = ema_update(state["g_ema"], g_params, decay)
            metrics["g/ema_decay"] = decay
        return new_state, metrics

    @functools.cached_property
    def _sample_fn(self):
        return jax.jit(self.generate)

    @functools.cached_property
    def sample_batches_fn(self):
        """Jitted (g, z [N, B, latent], labels [N, B] or None) → G outputs [N, B, ...].

        The N batches run in one ``lax.map``, so XLA hoists the layers' kernel rearrangements
        out of the loop (what :meth:`sample_audio` and tools/bench.py's batched rate use).
        """

        def sample(g_params: PyTree, zs: jax.Array, labels: jax.Array | None) -> jax.Array:
            return jax.lax.map(lambda zl: self.generate(g_params, *zl), (zs, labels))

        return jax.jit(sample)

    def to_audio(self, g_out: np.ndarray) -> np.ndarray:
        """G output → audio [B, T] (SpecGAN: Griffin-Lim through the training-set moments)."""
        g_out = np.asarray(g_out, np.float32)
        if not self.is_spec:
            return g_out
        if self.moments is None:
            raise ValueError("SpecGAN needs the spectrogram moments of its training set")
        m = self.config.model
        return spectral.features_to_waveform(
            g_out,
            self.moments,
            m.griffin_lim_iters,
            length=self.config.data.length,
            method=m.griffin_lim,
        )

    def sample_audio(self, state: PyTree, request: SampleRequest) -> np.ndarray:
        """``request.num`` clips [num, T] from G(z), z ~ U(-1, 1) (or a line between two z).

        Conditional models take :meth:`default_labels` unless ``request.label`` fixes one.
        """
        from wavegen.models.latents import latents

        cfg, num, batch_size = self.config, request.num, request.batch_size
        z = latents(num, cfg.model.latent_dim, request.seed, interpolate=request.interpolate)
        labels = request.fixed_labels(cfg.model.num_classes)
        if self.conditional and labels is None:
            labels = self.default_labels(num, request.seed)
        labels = None if labels is None else jnp.asarray(labels)
        # All batches in one jitted lax.map: XLA hoists the layers' kernel rearrangements out of
        # the loop, so they run once per call rather than once per batch (d=64: +18% audio-s/s
        # at batch 8, +9% at batch 64; docs/benchmarks.md). The last batch is zero-padded.
        batch_size = min(batch_size, num)
        n_batches = -(-num // batch_size)
        pad = n_batches * batch_size - num
        zs = jnp.pad(z, ((0, pad), (0, 0))).reshape(n_batches, batch_size, -1)
        ls = None if labels is None else jnp.pad(labels, (0, pad)).reshape(n_batches, batch_size)
        g_out = self.sample_batches_fn(self.sampling_params(state), zs, ls)
        g_out = np.asarray(jax.device_get(g_out))
        return self.to_audio(g_out.reshape(n_batches * batch_size, *g_out.shape[2:])[:num])

    def default_labels(self, num: int, seed: int) -> np.ndarray:
        """The labels [num] int32 of clips generated without a requested label.

        Class-conditional models cycle through the classes (0, 1, ..., C-1, 0, ...);
        self-conditioned ones (``data.clusters``) draw each clip's cluster from the training
        set's cluster shares, with a generator seeded by ``seed``, so they sample like an
        unconditional model.
        """
        k = self.config.model.num_classes
        if self.cluster_counts:
            p = np.asarray(self.cluster_counts, np.float64)
            rng = np.random.default_rng([seed, 0xC1])
            return rng.choice(k, size=num, p=p / p.sum()).astype(np.int32)
        return (np.arange(num) % k).astype(np.int32)

    def monitor_samples(self, state: PyTree) -> tuple[np.ndarray, np.ndarray | None]:
        """Clips [M, T] (and labels [M] or None) from ``train.monitor_num`` fixed latents.

        The latents are the same at every call (seed-derived), so a diversity curve measures G,
        not the draw; conditional models cycle through the classes.
        """
        m = int(self.config.train.monitor_num)
        labels = self.default_labels(m, 0x40E) if self.conditional else None
        clips = self.sample_audio(state, SampleRequest(m, seed=0x40E))
        return clips, labels

    def summarize(self, state: PyTree, writer: SummaryWriter, step: int) -> None:
        # Every process runs the generator (an SPMD computation over global arrays would hang if
        # only process 0 called it); only the enabled writer (process 0) writes.
        g_out = self._sample_fn(self.sampling_params(state), self.fixed_z, self.fixed_labels)
        if not writer.enabled:
            return
        clips = self.to_audio(jax.device_get(g_out))
        labels = np.asarray(self.fixed_labels) if self.conditional else None
        writer.samples_by_label(
            step, clips, labels, self.config.model.num_classes, self.label_names,
            self.config.data.sample_rate,
        )  # fmt: skip

    def reference_summaries(self, dataset: AudioDataset, writer: SummaryWriter) -> None:
        n = min(self.config.train.num_samples, len(dataset))
        writer.audio_with_spectrograms(
            0, "real", np.asarray(dataset.waveforms[:n]), self.config.data.sample_rate
        )

    def describe(self) -> dict:
        """Parameter counts and analytic forward GFLOPs of G and D (:func:`models.describe`)."""
        return describe(self.config)

    def extra_meta(self) -> dict:
        meta = super().extra_meta()
        if self.cluster_counts:
            meta["cluster_counts"] = self.cluster_counts
        if self.moments is not None:
            meta["spectral_moments"] = [m.tolist() for m in self.moments]
        return meta

    def load_meta(self, meta: dict) -> None:
        """Restores what :meth:`extra_meta` saved (for generation from a checkpoint)."""
        super().load_meta(meta)
        self.cluster_counts = [int(c) for c in meta.get("cluster_counts", [])]
        if "spectral_moments" in meta:
            mean, std = meta["spectral_moments"]
            self.moments = (np.asarray(mean, np.float32), np.asarray(std, np.float32))
