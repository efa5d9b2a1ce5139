"""The sample-level RNN task (two-tier SampleRNN on 8-bit μ-law codes) for the shared loop.

Objective: cross-entropy of the next μ-law code (256 classes), teacher-forced, logged in nats per
sample as ``loss/nll`` (and ``loss/bits_per_sample``); ``loss/nll_speech`` is the same over the
samples before the end of each clip's audio (the zero padding after it is easy to predict).

One train step takes a batch of clips x [B, T] and, per clip, a crop of ``train.seq_len``
samples whose offset is drawn from the step key, uniform over the offsets that keep the crop
inside the clip's audio (clips shorter than the crop start at 0, so every short clip is seen
from its first sample, as generation starts). The F samples before the crop (silence at the clip
start) are the first frame's input. The crop is cut into chunks of ``train.tbptt_len`` samples
and a ``lax.scan`` over the chunks does **one optimiser update per chunk**, carrying the
frame-tier GRU state from chunk to chunk without gradient: truncated backpropagation through
time as in the SampleRNN paper (their chunks: 512 samples). A step is therefore
``seq_len / tbptt_len`` updates; ``tbptt_len == seq_len`` is one update with full BPTT over the
crop. Chunked updates make more updates for the same compute and bound the activations kept for
the backward pass to one chunk, while the forward state still spans the whole crop.

Sampling (``wavegen generate``, summaries) is ancestral at temperature 1: one jitted
``lax.scan`` over frames with an inner scan over samples for the whole batch
(:meth:`wavegen.models.samplernn.SampleRNN.generate`).
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

from wavegen.data import AudioDataset, mulaw
from wavegen.defaults import family_config
from wavegen.errors import ConfigError
from wavegen.models import precision
from wavegen.models.samplernn import (
    SAMPLERNN_MODEL_DEFAULTS,
    SampleRNN,
    samplernn_settings,
    sequence_nll,
)
from wavegen.train.loop import (
    SampleRequest,
    SampleRequestError,
    check_dataset_labels,
)
from wavegen.train.networks import Network
from wavegen.train.optim import make_optimizer
from wavegen.train.summaries import SummaryWriter
from wavegen.train.task import TaskBase

log = logging.getLogger(__name__)
PyTree = Any

# The RNN's own ``train`` keys (the family's schema is :func:`rnn_config`).
RNN_TRAIN_DEFAULTS = dict(
    seq_len=4096,  # samples per crop (per clip per step)
    tbptt_len=512,  # samples per truncated-BPTT chunk = per optimiser update
    grad_clip=1.0,  # global-norm gradient clipping per update; 0: off
    num_heldout=16,  # test-split clips for the held-out NLL summary; 0: off
)
HELDOUT_BATCH = 8


class RNNConfigError(ConfigError):
    """An RNN training key is invalid; the message names it."""


def rnn_config() -> ml_collections.ConfigDict:
    """SampleRNN's full schema: the shared sections, ``model`` (:data:`SAMPLERNN_MODEL_DEFAULTS`)
    and the RNN's ``train`` keys (:data:`RNN_TRAIN_DEFAULTS`); it has no ``loss`` keys (the
    objective is the μ-law codes' NLL)."""
    return family_config(SAMPLERNN_MODEL_DEFAULTS, train=RNN_TRAIN_DEFAULTS)


def active_lengths(waveforms: np.ndarray) -> np.ndarray:
    """[N, T] clips → [N] int32: one past the last non-zero sample (≥ 1), i.e. before padding."""
    nonzero = np.asarray(waveforms) != 0
    last = nonzero.shape[1] - np.argmax(nonzero[:, ::-1], axis=1)
    return np.where(nonzero.any(axis=1), last, 1).astype(np.int32)


class RNNTask(TaskBase):
    """SampleRNN training: model, optimiser, truncated-BPTT step, sampling and summaries.

    Args:
      config: the full resolved config (``model.name == 'samplernn'``); ``train.num_heldout``
        test clips are scored by teacher-forced NLL in the summaries.
    """

    default_config = staticmethod(rnn_config)  # the family's config schema

    def __init__(self, config: ml_collections.ConfigDict):
        # Under bf16 the matmuls run in it (params cast in self.model); the NLL stays float32.
        super().__init__(config, num_heldout=config.train.num_heldout)
        self.settings = samplernn_settings(config)
        self.conditional = self.settings.num_classes > 0
        tc, f = config.train, self.settings.frame_size
        self.seq_len, self.tbptt_len = int(tc.seq_len), int(tc.tbptt_len)
        self.grad_clip = float(tc.grad_clip)
        if self.tbptt_len < 1 or self.tbptt_len % f:
            raise RNNConfigError(
                f"config key train.tbptt_len: expected a positive multiple of model.frame_size="
                f"{f}, got {self.tbptt_len}"
            )
        if self.seq_len % self.tbptt_len or self.seq_len < self.tbptt_len:
            raise RNNConfigError(
                f"config key train.seq_len: expected a multiple of train.tbptt_len="
                f"{self.tbptt_len}, got {self.seq_len}"
            )
        if self.seq_len > config.data.length:
            raise RNNConfigError(
                f"config key train.seq_len: expected <= data.length={config.data.length}, got "
                f"{self.seq_len}"
            )
        self.graphdef = nnx.graphdef(
            nnx.eval_shape(lambda: SampleRNN(self.settings, rngs=nnx.Rngs(0)))
        )
        # One compiled program builds every parameter (eager init compiles one per shape).
        self._init_params = jax.jit(
            lambda: nnx.to_pure_dict(
                nnx.state(SampleRNN(self.settings, rngs=nnx.Rngs(config.seed)))
            )
        )()
        tx = make_optimizer(tc)
        self.tx = (
            optax.chain(optax.clip_by_global_norm(self.grad_clip), tx) if self.grad_clip else tx
        )
        self.summary_key = jax.random.fold_in(jax.random.key(config.seed), 0x5A3)

    def model(self, params: PyTree) -> SampleRNN:
        return precision.merge(self.graphdef, params, self.dtype)

    # ---- Task protocol ----
    def data_arrays(self, dataset: AudioDataset) -> dict[str, np.ndarray]:
        self.label_names = list(dataset.label_names)
        check_dataset_labels(dataset, self.settings.num_classes)
        x = np.asarray(dataset.waveforms, np.float32)
        arrays = {
            "x": x,
            "length": active_lengths(x),
            "label": np.asarray(dataset.labels, np.int32),
        }
        return arrays

    def init_state(self) -> PyTree:
        p = jax.tree.map(jnp.asarray, self._init_params)  # fresh containers: callers may edit
        return {"params": p, "opt": self.tx.init(p)}

    def _labels(self, labels: jax.Array) -> jax.Array | None:
        return labels if self.conditional else None

    def crop(self, x: jax.Array, length: jax.Array, key: jax.Array) -> tuple[jax.Array, jax.Array]:
        """Per-clip crops of ``seq_len`` targets with their F-sample context.

        Args:
          x: [B, T] waveforms; length: [B] samples of audio before the padding.

        Returns:
          (codes [B, F + seq_len] int32, offsets [B] int32 of the first target in the clip).
        """
        f, n = self.settings.frame_size, self.seq_len
        codes = mulaw.encode(x)
        codes = jnp.concatenate([jnp.full((x.shape[0], f), mulaw.SILENCE, jnp.int32), codes], 1)
        high = jnp.clip(length - n, 0, x.shape[1] - n)
        u = jax.random.uniform(key, length.shape)
        offset = jnp.minimum(jnp.floor(u * (high + 1)).astype(jnp.int32), high)
        crops = jax.vmap(lambda c, o: jax.lax.dynamic_slice(c, (o,), (f + n,)))(codes, offset)
        return crops, offset

    def train_step(
        self, state: PyTree, batch: dict[str, jax.Array], key: jax.Array
    ) -> tuple[PyTree, dict[str, jax.Array]]:
        """``seq_len / tbptt_len`` updates on one crop per clip (see the module docstring).

        Args:
          batch: "x" [B, T] float32 waveforms, "length" [B] int32, "label" [B] int32.
        """
        f, c = self.settings.frame_size, self.tbptt_len
        crops, offset = self.crop(batch["x"], batch["length"], key)
        b = crops.shape[0]
        num_chunks = self.seq_len // c
        idx = jnp.arange(num_chunks)[:, None] * c + jnp.arange(f + c)[None, :]  # [K, F + C]
        chunks = jnp.moveaxis(crops[:, idx], 1, 0)  # [K, B, F + C]
        # speech[k, b, i]: target i of chunk k lies before the end of clip b's audio.
        pos = offset[None, :, None] + (jnp.arange(num_chunks)[:, None, None] * c)
        speech = (pos + jnp.arange(c)[None, None, :]) < batch["length"][None, :, None]
        labels = self._labels(batch["label"])

        def update(carry, inputs):
            params, opt, h = carry
            ctx, mask = inputs

            def loss_fn(p):
                logits, h_new = self.model(p)(ctx, h, labels)
                nll = sequence_nll(logits, ctx[:, f:])
                return jnp.mean(nll), (h_new, nll)

            (loss, (h_new, nll)), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
            updates, opt = self.tx.update(grads, opt, params)
            params = optax.apply_updates(params, updates)
            m = mask.astype(jnp.float32)
            speech_nll = jnp.sum(nll * m) / jnp.maximum(jnp.sum(m), 1.0)
            metrics = {
                "loss/nll": loss,
                "loss/nll_speech": speech_nll,
                "grad_norm": optax.tree.norm(grads),
            }
            return (params, opt, jax.lax.stop_gradient(h_new)), metrics

        h0 = self.model(state["params"]).initial_state(b)
        (params, opt, _), metrics = jax.lax.scan(
            update, (state["params"], state["opt"], h0), (chunks, speech)
        )
        metrics = jax.tree.map(jnp.mean, metrics)
        metrics["loss/bits_per_sample"] = metrics["loss/nll"] / math.log(2.0)
        return {"params": params, "opt": opt}, metrics

    # ---- sampling ----
    @functools.cached_property
    def _generate_fn(self):
        def fn(params, key, labels, batch, length):
            return self.model(params).generate(key, batch, length, labels)

        return jax.jit(fn, static_argnums=(3, 4))

    def generate_codes(
        self, params: PyTree, key: jax.Array, batch: int, length: int, labels: jax.Array | None
    ) -> jax.Array:
        """Codes [batch, length] int32 sampled from ``key`` (labels [batch] if conditional)."""
        return self._generate_fn(params, key, labels, batch, length)

    def sample_audio(self, state: PyTree, request: SampleRequest) -> np.ndarray:
        """``request.num`` clips [num, data.length] in [-1, 1], sampled from silence.

        Conditional models cycle through the classes unless ``label`` fixes one. Batches of
        ``batch_size`` clips use the keys ``fold_in(key(seed), first index)``.
        """
        if request.interpolate:
            raise SampleRequestError(
                "--interpolate needs a latent space; the sample-level RNN has none"
            )
        num, nc = request.num, self.settings.num_classes
        labels = request.cycled_labels(nc)
        batch = min(request.batch_size, num)
        base, out = jax.random.key(request.seed), []
        for i in range(0, num, batch):
            lab = None
            if self.conditional:
                lab = np.resize(labels[i : i + batch], batch).astype(np.int32)  # pad the last batch
            key = jax.random.fold_in(base, i)
            codes = self.generate_codes(state["params"], key, batch, self.config.data.length, lab)
            out.append(np.asarray(jax.device_get(mulaw.decode(codes))))
        return np.concatenate(out)[:num].astype(np.float32)

    # ---- summaries ----
    @functools.cached_property
    def _nll_fn(self):
        """(params, x [N, T'], length [N], labels [N]) → (sum of NLL, count) over speech."""
        f = self.settings.frame_size

        def fn(params, x, length, labels):
            codes = mulaw.encode(x)
            ctx = jnp.concatenate([jnp.full((x.shape[0], f), mulaw.SILENCE, jnp.int32), codes], 1)
            model = self.model(params)
            logits, _ = model(ctx, model.initial_state(x.shape[0]), self._labels(labels))
            mask = (jnp.arange(x.shape[1])[None, :] < length[:, None]).astype(jnp.float32)
            return jnp.sum(sequence_nll(logits, codes) * mask), jnp.sum(mask)

        return jax.jit(fn)

    def heldout_nll(self, params: PyTree) -> float:
        """Teacher-forced NLL (nats/sample) from the clip start over the audio before padding
        of the held-out clips the loop set (:meth:`set_heldout`)."""
        x = np.asarray(self.heldout.waveforms, np.float32)
        length, labels = active_lengths(x), np.asarray(self.heldout.labels, np.int32)
        t = x.shape[1] // self.settings.frame_size * self.settings.frame_size
        total = count = 0.0
        for i in range(0, len(x), HELDOUT_BATCH):
            sl = slice(i, i + HELDOUT_BATCH)
            s, n = self._nll_fn(params, x[sl, :t], length[sl], np.maximum(labels[sl], 0))
            total, count = total + float(s), count + float(n)
        return total / max(count, 1.0)

    def _summary_labels(self) -> np.ndarray | None:
        n = self.config.train.num_samples
        return (
            (np.arange(n) % self.settings.num_classes).astype(np.int32)
            if self.conditional
            else None
        )

    def summarize(self, state: PyTree, writer: SummaryWriter, step: int) -> None:
        # Every process samples (SPMD); only the enabled writer writes.
        labels = self._summary_labels()
        n, length = self.config.train.num_samples, self.config.data.length
        codes = self.generate_codes(state["params"], self.summary_key, n, length, labels)
        clips = np.asarray(jax.device_get(mulaw.decode(codes)))
        scalars = {}
        if self.heldout is not None:
            nll = self.heldout_nll(state["params"])
            scalars = {"heldout/nll": nll, "heldout/bits_per_sample": nll / math.log(2.0)}
        if not writer.enabled:
            return
        if scalars:
            writer.scalars(step, scalars)
        writer.samples_by_label(
            step, clips, labels, self.settings.num_classes, self.label_names,
            self.config.data.sample_rate,
        )  # fmt: skip

    def reference_summaries(self, dataset: AudioDataset, writer: SummaryWriter) -> None:
        """Real clips, and the same clips through the μ-law round trip (the model's ceiling)."""
        n = min(self.config.train.num_samples, len(dataset))
        real = np.asarray(dataset.waveforms[:n], np.float32)
        sr = self.config.data.sample_rate
        writer.audio_with_spectrograms(0, "real", real, sr)
        writer.audio(0, "real_mulaw", np.asarray(mulaw.decode(mulaw.encode(real))), sr)

    def networks(self, state: PyTree, batch: int) -> list[Network]:
        """The sampler: a PRNG key (and labels [B] int32 when conditional) → μ-law codes
        [B, data.length] int32, one sample per step of a scan (``wavegen compile``)."""
        length = self.config.data.length
        key = jax.ShapeDtypeStruct((), jax.random.key(0).dtype)
        inputs, names = (key,), ("key",)
        if self.conditional:
            inputs, names = (key, jax.ShapeDtypeStruct((batch,), jnp.int32)), ("key", "labels")

        def sample(params: PyTree, key: jax.Array, labels: jax.Array | None = None) -> jax.Array:
            return self.model(params).generate(key, batch, length, labels)

        why = "it draws a typed PRNG key and samples step by step; use wavegen generate"
        return [Network("generator", sample, state["params"], inputs, names, "μ-law codes",
                        not_portable=why)]  # fmt: skip
