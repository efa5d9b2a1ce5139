"""The latent-prior task: an autoregressive prior over a frozen waveform VAE's latent sequences.

RAVE's second stage. The config's ``prior.vae_workdir`` names a trained VAE run
(``experiments/vae_notes.py``) and ``prior.vae_step`` its checkpoint (None: the latest). When
training starts the VAE's encoder turns every training clip, once, into its posterior means
[N, L, D] (L = ``data.length / compression`` frames, D = the VAE's ``latent_dim``); the prior
(:class:`wavegen.models.latent_prior.LatentPrior`) is then trained on those sequences, with the
clips' labels when ``model.num_classes > 0``. Objective: the Gaussian negative log-likelihood of
each frame given the earlier ones, logged as ``loss/nll`` in nats per latent dimension.

Sampling (``wavegen generate``, TensorBoard audio, ``wavegen vae sample-prior --prior``) draws
latent sequences from the prior and decodes them with the frozen VAE decoder; ``--interpolate``
is a straight line between two standard-normal noise sequences that drive the prior's sampler.

The schema of this family's keys (``prior.*`` and ``model.*``) is :func:`prior_config`; keys
outside it are a :class:`~wavegen.config.ConfigError` when the task is built, before any data is
decoded.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from flax import nnx

from wavegen.config import ConfigError
from wavegen.data import AudioDataset
from wavegen.defaults import family_config
from wavegen.models.latent_prior import LatentPrior, gaussian_nll
from wavegen.models.vae import vae_settings
from wavegen.train.checkpoint import CheckpointError
from wavegen.train.loop import SampleRequest, check_dataset_labels
from wavegen.train.optim import make_optimizer
from wavegen.train.schema import read_run_config
from wavegen.train.summaries import SummaryWriter
from wavegen.train.task import TaskBase

log = logging.getLogger(__name__)
PyTree = Any

# The family's own keys (its schema is :func:`prior_config`).
PRIOR_MODEL_DEFAULTS = dict(
    name="latent_prior",
    channels=128,  # hidden width C
    kernel_size=3,  # taps of each causal dilated conv
    dilations=(1, 2, 4, 8, 16),  # one residual block each
    num_classes=0,  # > 0: conditional on data labels (label embedding added to every frame)
    residual=False,  # mean of frame t = frame t-1 + the network's output (LatentPrior)
)
PRIOR_DEFAULTS = dict(
    vae_workdir="",  # a VAE run directory (wavegen train with model.name 'vae'); required
    vae_step=None,  # its checkpoint step; None: the latest
    grad_clip=1.0,  # global-norm gradient clipping; 0: off
)


def prior_config() -> ml_collections.ConfigDict:
    """The latent prior's full schema: the shared sections, ``model``
    (:data:`PRIOR_MODEL_DEFAULTS`) and ``prior`` (:data:`PRIOR_DEFAULTS`); no ``loss`` keys (the
    objective is the frames' Gaussian NLL)."""
    return family_config(PRIOR_MODEL_DEFAULTS, prior=PRIOR_DEFAULTS)


def _check_keys(config: ml_collections.ConfigDict) -> None:
    """Unknown ``model.*`` / ``prior.*`` keys and bad values raise ConfigError naming them."""
    for section, schema in (("model", PRIOR_MODEL_DEFAULTS), ("prior", PRIOR_DEFAULTS)):
        given = config.get(section)
        if given is None:
            raise ConfigError(f"config section '{section}' is missing (see prior_config)")
        unknown = sorted(set(given) - set(schema))
        if unknown:
            raise ConfigError(
                f"unknown config key(s) {[f'{section}.{k}' for k in unknown]}; the latent "
                f"prior's {section} keys are {sorted(schema)}"
            )
    m, p = config.model, config.prior

    def positive_int(v: object) -> bool:
        return isinstance(v, int) and not isinstance(v, bool) and v > 0

    for key in ("channels", "kernel_size"):
        if not positive_int(m[key]):
            raise ConfigError(f"config key 'model.{key}' must be an integer > 0, got {m[key]!r}")
    dilations = tuple(m.dilations)
    if not dilations or not all(positive_int(d) for d in dilations):
        raise ConfigError(f"config key 'model.dilations' must be integers > 0, got {dilations!r}")
    nc = m.num_classes
    if not isinstance(nc, int) or nc < 0:
        raise ConfigError(f"config key 'model.num_classes' must be an integer >= 0, got {nc!r}")
    if not str(p.vae_workdir):
        raise ConfigError("config key 'prior.vae_workdir' must name a trained VAE run directory")
    step = p.vae_step
    if step is not None and not (isinstance(step, int) and step >= 0):
        raise ConfigError(f"config key 'prior.vae_step' must be None or a step >= 0, got {step!r}")
    if float(p.grad_clip) < 0:
        raise ConfigError(f"config key 'prior.grad_clip' must be >= 0, got {p.grad_clip!r}")


def read_vae_config(workdir: str | Path) -> ml_collections.ConfigDict:
    """The resolved config of a VAE run (its config.json), without restoring any weights.

    Raises:
      CheckpointError: no config.json there, or not a VAE run.
    """
    path = Path(workdir) / "config.json"
    if not path.is_file():
        raise CheckpointError(f"prior.vae_workdir={str(workdir)!r} is not a run: {path} is missing")
    config = read_run_config(path)
    name = config.model.name
    if name != "vae":
        raise CheckpointError(f"prior.vae_workdir={str(workdir)!r} holds a {name!r} run, not a VAE")
    return config


# (resolved workdir, requested step, its checkpoint names) → (VAETask, state, step): tasks built
# again in one process (resume, generate after train, tests) share the VAE and its compiled
# encoder/decoder; a new checkpoint in the VAE run changes the key.
_VAE_CACHE: dict[tuple, tuple[Any, PyTree, int]] = {}


def _load_vae(workdir: str | Path, step: int | None) -> tuple[Any, PyTree, int]:
    from wavegen.train.runs import load_vae_run

    path = Path(workdir).resolve()
    try:
        names = tuple(sorted(p.name for p in (path / "checkpoints").iterdir()))
    except OSError:
        names = ()
    key = (str(path), step, names)
    if key not in _VAE_CACHE:
        _VAE_CACHE.clear()  # one VAE at a time: its weights and compiled functions are large
        _VAE_CACHE[key] = load_vae_run(workdir, step)
    return _VAE_CACHE[key]


class PriorTask(TaskBase):
    """Latent-prior training over a frozen VAE: model, optimiser, step, sampling, summaries.

    Args:
      config: the full resolved config (``model.name == 'latent_prior'``).

    Raises:
      ConfigError: unknown or bad ``model.*`` / ``prior.*`` keys, or ``data`` that does not fit
        the VAE (another sample rate, a length that is not a whole number of latent frames).
      CheckpointError: ``prior.vae_workdir`` is not a VAE run.
    """

    default_config = staticmethod(prior_config)  # the family's config schema
    # The prior's schema has no model.compute_dtype: its network and its sampler run in float32.
    mixed_precision = False

    def __init__(self, config: ml_collections.ConfigDict):
        _check_keys(config)
        super().__init__(config)
        m, p = config.model, config.prior
        self.vae_workdir = str(p.vae_workdir)
        self.vae_step = p.vae_step
        # Only the VAE's config here: its weights are restored when first needed (data, audio),
        # so describing or building the task stays cheap.
        vae_config = read_vae_config(self.vae_workdir)
        vs, vae_sr = vae_settings(vae_config), int(vae_config.data.sample_rate)
        if int(config.data.sample_rate) != vae_sr:
            raise ConfigError(
                f"config key 'data.sample_rate' is {config.data.sample_rate} but the VAE in "
                f"{self.vae_workdir} runs at {vae_sr} Hz"
            )
        self.compression, self.latent_dim = vs.compression, vs.latent_dim
        if config.data.length % self.compression:
            raise ConfigError(
                f"config key 'data.length' must be a multiple of the VAE's compression "
                f"{self.compression}, got {config.data.length}"
            )
        self.frames = config.data.length // self.compression
        self.num_classes = int(m.num_classes)
        self.conditional = self.num_classes > 0
        self.grad_clip = float(p.grad_clip)

        def build(seed: int) -> LatentPrior:
            return LatentPrior(
                self.latent_dim,
                channels=int(m.channels),
                kernel_size=int(m.kernel_size),
                dilations=tuple(int(d) for d in m.dilations),
                num_classes=self.num_classes,
                residual=bool(m.residual),
                rngs=nnx.Rngs(seed),
            )

        self.graphdef = nnx.graphdef(nnx.eval_shape(lambda: build(0)))
        # One compiled program builds every parameter (eager init compiles one per shape).
        self._init_params = jax.jit(lambda: nnx.to_pure_dict(nnx.state(build(config.seed))))()
        tx = make_optimizer(config.train)
        self.tx = (
            optax.chain(optax.clip_by_global_norm(self.grad_clip), tx) if self.grad_clip else tx
        )
        self._vae: tuple[Any, PyTree, int] | None = None
        self._reference: np.ndarray | None = None

    def model(self, params: PyTree) -> LatentPrior:
        return nnx.merge(self.graphdef, params)

    # ---- the frozen VAE ----
    @property
    def vae(self) -> tuple[Any, PyTree, int]:
        """(VAETask, VAE state, step) of ``prior.vae_workdir``, restored once per process."""
        if self._vae is None:
            self._vae = _load_vae(self.vae_workdir, self.vae_step)
            log.info("latent prior over the VAE %s at step %d", self.vae_workdir, self._vae[2])
        return self._vae

    def encode(self, waves: np.ndarray) -> np.ndarray:
        """Posterior means of clips [N, data.length] → [N, L, D] float32 (frozen encoder)."""
        from wavegen.train.runs import encode

        vae_task, vae_state, _ = self.vae
        return encode(vae_task, vae_state, waves)

    def decode(self, z: np.ndarray, batch_size: int = 64) -> np.ndarray:
        """Latents [N, L, D] → clips [N, L · compression] in [-1, 1] (frozen decoder)."""
        from wavegen.train.runs import decode

        vae_task, vae_state, _ = self.vae
        return np.clip(decode(vae_task, vae_state, z, batch_size=batch_size), -1.0, 1.0)

    # ---- Task protocol ----
    def data_arrays(self, dataset: AudioDataset) -> dict[str, np.ndarray]:
        """Encodes every training clip once: "z" [N, L, D] float32, "label" [N] int32."""
        self.label_names = list(dataset.label_names)
        check_dataset_labels(dataset, self.num_classes)
        waves = np.asarray(dataset.waveforms, np.float32)
        n = min(self.config.train.num_samples, len(waves))
        self._reference = waves[:n]
        z = self.encode(waves).astype(np.float32)
        log.info("encoded %d clips to latents %s", len(z), z.shape[1:])
        return {"z": z, "label": np.maximum(np.asarray(dataset.labels, np.int32), 0)}

    def init_state(self) -> PyTree:
        p = jax.tree.map(jnp.asarray, self._init_params)  # fresh containers: callers may edit
        return {"params": p, "opt": self.tx.init(p)}

    def _labels(self, labels: jax.Array) -> jax.Array | None:
        return labels if self.conditional else None

    def nll(self, params: PyTree, z: jax.Array, labels: jax.Array | None) -> jax.Array:
        """Mean Gaussian NLL of z [B, L, D], nats per latent dimension (teacher-forced)."""
        mean, log_scale = self.model(params)(z, labels)
        return jnp.mean(gaussian_nll(mean, log_scale, z))

    def train_step(
        self, state: PyTree, batch: dict[str, jax.Array], key: jax.Array
    ) -> tuple[PyTree, dict[str, jax.Array]]:
        """One optimiser update on the NLL of the batch's latent sequences.

        Args:
          batch: "z" [B, L, D] float32 posterior means, "label" [B] int32.
          key: unused (the objective is deterministic); kept for the Task protocol.
        """
        labels = self._labels(batch["label"])
        loss, grads = jax.value_and_grad(self.nll)(state["params"], batch["z"], labels)
        updates, opt = self.tx.update(grads, state["opt"], state["params"])
        params = optax.apply_updates(state["params"], updates)
        metrics = {"loss/nll": loss, "grad_norm": optax.tree.norm(grads)}
        return {"params": params, "opt": opt}, metrics

    # ---- sampling ----
    @functools.cached_property
    def _sample_fn(self):
        def fn(params, eps, labels, temperature):
            return self.model(params).sample(eps, labels, temperature)

        return jax.jit(fn)

    def _class_labels(self, num: int, label: int | None) -> np.ndarray | None:
        """[num] labels cycling through the classes (or all ``label``); None if unconditional.

        Raises:
          SampleRequestError: a label for an unconditional prior, or one out of range.
        """
        return SampleRequest(num=num, label=label).cycled_labels(self.num_classes)

    def sample_latents(
        self,
        state: PyTree,
        num: int,
        *,
        frames: int | None = None,
        seed: int = 0,
        temperature: float = 1.0,
        interpolate: bool = False,
        label: int | None = None,
        batch_size: int = 64,
    ) -> np.ndarray:
        """``num`` latent sequences [num, frames, D] float32 drawn from the prior.

        The driving noise is ``normal(key(seed), (num, frames, D))``; with ``interpolate`` it is
        the straight line between two such draws (``(1 - t_i) e_0 + t_i e_1``). Conditional
        priors cycle through the classes unless ``label`` fixes one.

        Args:
          frames: sequence length; None: the training length ``data.length / compression``.
        """
        frames = self.frames if frames is None else int(frames)
        key = jax.random.key(seed)
        if interpolate:
            ends = np.asarray(jax.random.normal(key, (2, frames, self.latent_dim)))
            t = np.linspace(0.0, 1.0, num, dtype=np.float32)[:, None, None]
            eps = (1 - t) * ends[0] + t * ends[1]
        else:
            eps = np.asarray(jax.random.normal(key, (num, frames, self.latent_dim)))
        labels = self._class_labels(num, label)
        out = []
        for i in range(0, num, batch_size):
            lab = None if labels is None else labels[i : i + batch_size]
            z = self._sample_fn(state["params"], eps[i : i + batch_size], lab, temperature)
            out.append(np.asarray(jax.device_get(z), np.float32))
        return np.concatenate(out)

    def sample_audio(self, state: PyTree, request: SampleRequest) -> np.ndarray:
        """``request.num`` clips [num, data.length] in [-1, 1]: prior latents through the VAE
        decoder."""
        r = request
        z = self.sample_latents(
            state, r.num, seed=r.seed, interpolate=r.interpolate, label=r.label,
            batch_size=r.batch_size,
        )  # fmt: skip
        return self.decode(z, batch_size=r.batch_size)

    def monitor_samples(self, state: PyTree) -> tuple[np.ndarray, np.ndarray | None]:
        """Clips [M, T] (labels [M] or None) from ``train.monitor_num`` fixed noise draws."""
        m = int(self.config.train.monitor_num)
        return self.sample_audio(state, SampleRequest(m, seed=0x40E)), self._class_labels(m, None)

    # ---- summaries ----
    def summarize(self, state: PyTree, writer: SummaryWriter, step: int) -> None:
        # Every process samples (SPMD); only the enabled writer writes.
        n = self.config.train.num_samples
        clips = self.sample_audio(state, SampleRequest(n, seed=self.config.seed))
        labels = self._class_labels(n, None)
        if not writer.enabled:
            return
        writer.samples_by_label(
            step, clips, labels, self.num_classes, self.label_names, self.config.data.sample_rate
        )

    def reference_summaries(self, dataset: AudioDataset, writer: SummaryWriter) -> None:
        """Real clips and their VAE reconstructions from posterior means (the prior's ceiling)."""
        n = min(self.config.train.num_samples, len(dataset))
        real = np.asarray(dataset.waveforms[:n], np.float32)
        recon = self.decode(self.encode(real))
        if not writer.enabled:
            return
        sr = self.config.data.sample_rate
        writer.audio_with_spectrograms(0, "real", real, sr)
        writer.audio(0, "vae_reconstruction", recon, sr)

    def inference_state(self, state: PyTree) -> dict[str, PyTree]:
        """What ``wavegen publish`` keeps: the prior's network (its VAE is published beside)."""
        return {"params": state["params"]}

    def extra_meta(self) -> dict:
        return {**super().extra_meta(), "vae_step": int(self.vae[2])}

    def load_meta(self, meta: dict) -> None:
        """Restores the label names and pins the VAE to the step the prior was trained over
        (with ``prior.vae_step`` None the VAE run may have gone on training since)."""
        super().load_meta(meta)
        saved = meta.get("vae_step")
        if saved is not None and (self._vae is None or self._vae[2] != saved):
            if self.vae_step is not None and self.vae_step != saved:
                raise CheckpointError(
                    f"the prior was trained over VAE step {saved}, but prior.vae_step="
                    f"{self.vae_step}"
                )
            self.vae_step, self._vae = int(saved), None
