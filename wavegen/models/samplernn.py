"""A two-tier SampleRNN (Mehri et al., ICLR 2017) on 8-bit μ-law codes, in Flax NNX.

Notation: B batch, T samples, F = ``model.frame_size`` samples per frame, J = T / F frames,
Q = 256 μ-law classes (:mod:`wavegen.data.mulaw`), H = ``model.rnn_dim``, M = ``model.mlp_dim``,
E = ``model.embed_dim``.

- **Frame tier**: a GRU over frames. The input of frame j is the previous frame's F codes as
  companded values ``2c/255 - 1`` (a linear map F → 3H, the GRU's input gates), plus a learned
  label embedding [3H] for class-conditional models. Its state h_j [B, H] is upsampled by a
  linear map H → F·M (a stride-F transposed convolution) into one conditioning vector per sample
  of frame j.
- **Sample tier**: an MLP predicting sample t from the embeddings [F·E] of the F samples before t
  (a sliding window, as the paper's sample-level module) plus that conditioning vector:
  ``Linear(F·E → M) + cond → ReLU → Linear(M → M) → ReLU → Linear(M → Q)`` logits. The output
  layer starts at zero, so the model starts at the uniform distribution (NLL = ln 256).

Teacher forcing (:meth:`SampleRNN.__call__`) takes ``context`` [B, F + T] codes: the first F are
the samples before the crop (silence at the start of a clip), the last T the targets. Logits at
target t depend on codes before t only (the frame tier sees frames that have ended, the window
ends at t - 1). Sampling (:meth:`SampleRNN.generate`) is one ``lax.scan`` over frames with an
inner scan over the frame's samples, for a whole batch at once.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import ml_collections
from flax import nnx

from wavegen.data import mulaw
from wavegen.errors import ConfigError

# SampleRNN's ``model`` section (``wavegen.train.rnn.rnn_config`` is the family's schema).
SAMPLERNN_MODEL_DEFAULTS = dict(
    name="samplernn",
    num_classes=0,  # > 0: class-conditional (label embedding into the frame tier)
    frame_size=16,  # F: samples per frame-tier step (and sample-tier window length)
    rnn_dim=512,  # H: frame-tier GRU units
    mlp_dim=256,  # M: sample-tier MLP width
    embed_dim=32,  # E: μ-law code embedding width
    # 'float32' or 'bfloat16' matmuls (params, optimiser state, GRU state, NLL stay float32;
    # wavegen.models.precision).
    compute_dtype="float32",
)


class SampleRNNConfigError(ConfigError):
    """A SampleRNN model key is invalid; the message names it."""


@dataclasses.dataclass(frozen=True)
class SampleRNNSettings:
    frame_size: int
    rnn_dim: int
    mlp_dim: int
    embed_dim: int
    num_classes: int = 0  # > 0: class-conditional


def samplernn_settings(config: ml_collections.ConfigDict) -> SampleRNNSettings:
    """Reads and checks the ``model`` keys of a full config (:data:`SAMPLERNN_MODEL_DEFAULTS`)."""
    m = config.model
    values = {k: m[k] for k in ("frame_size", "rnn_dim", "mlp_dim", "embed_dim")}
    for key, value in values.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise SampleRNNConfigError(
                f"config key model.{key}: expected an integer >= 1, got {value!r}"
            )
    num_classes = m.num_classes
    if not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes < 0:
        raise SampleRNNConfigError(
            f"config key model.num_classes: expected an integer >= 0, got {num_classes!r}"
        )
    return SampleRNNSettings(**values, num_classes=num_classes)


class GRU(nnx.Module):
    """GRU (cuDNN/PyTorch gate convention) whose input projection is computed outside the loop.

    ``h' = (1 - z) · n + z · h``, ``n = tanh(x_n + r · (U_n h + b_n))``, ``r, z = σ(x_{r,z} +
    U_{r,z} h)``, with x = the [3H] input projection (r, z, n blocks) given to :meth:`step`.
    """

    def __init__(self, hidden: int, *, rngs: nnx.Rngs):
        self.hidden = hidden
        self.recurrent = nnx.Linear(
            hidden, 3 * hidden, kernel_init=nnx.initializers.orthogonal(), rngs=rngs
        )

    def step(self, h: jax.Array, x_proj: jax.Array) -> jax.Array:
        """h [B, H], x_proj [B, 3H] → h' [B, H]."""
        # The recurrent matmul runs in the input projection's (compute) dtype; the state h stays
        # float32 (the gate mix below promotes), so errors do not compound over the sequence.
        u = self.recurrent(h.astype(x_proj.dtype))
        xr, xz, xn = jnp.split(x_proj, 3, axis=-1)
        ur, uz, un = jnp.split(u, 3, axis=-1)
        r = jax.nn.sigmoid(xr + ur)
        z = jax.nn.sigmoid(xz + uz)
        n = jnp.tanh(xn + r * un)
        return (1.0 - z) * n + z * h

    def scan(self, h0: jax.Array, x_proj: jax.Array) -> tuple[jax.Array, jax.Array]:
        """h0 [B, H], x_proj [B, J, 3H] → (states [B, J, H], last state [B, H])."""

        def body(h, x):
            h = self.step(h, x)
            return h, h

        last, states = jax.lax.scan(body, h0, jnp.swapaxes(x_proj, 0, 1))
        return jnp.swapaxes(states, 0, 1), last


class SampleRNN(nnx.Module):
    """Two-tier SampleRNN: frame-level GRU + sample-level MLP → 256-way logits per sample."""

    def __init__(self, s: SampleRNNSettings, *, rngs: nnx.Rngs):
        self.s = s
        f, h, m, e = s.frame_size, s.rnn_dim, s.mlp_dim, s.embed_dim
        self.frame_in = nnx.Linear(f, 3 * h, rngs=rngs)
        self.label_embed = (
            nnx.Embed(s.num_classes, 3 * h, embedding_init=nnx.initializers.normal(0.1), rngs=rngs)
            if s.num_classes > 0
            else None
        )
        self.gru = GRU(h, rngs=rngs)
        self.upsample = nnx.Linear(h, f * m, rngs=rngs)
        self.embed = nnx.Embed(mulaw.Q_LEVELS, e, rngs=rngs)
        self.window_in = nnx.Linear(f * e, m, rngs=rngs)
        self.hidden = nnx.Linear(m, m, rngs=rngs)
        self.out = nnx.Linear(m, mulaw.Q_LEVELS, kernel_init=nnx.initializers.zeros, rngs=rngs)

    def initial_state(self, batch: int) -> jax.Array:
        """The frame tier's state at the start of a clip: zeros [B, H]."""
        return jnp.zeros((batch, self.s.rnn_dim), jnp.float32)

    def _label_term(self, labels: jax.Array | None) -> jax.Array:
        """labels [B] int → the label embedding [B, 3H] added to the GRU input (0 if none)."""
        if self.label_embed is not None:
            if labels is None:
                raise ValueError(f"model.num_classes={self.s.num_classes} > 0 needs labels [B]")
            return self.label_embed(labels)
        if labels is not None:
            raise ValueError("got labels, but the model is unconditional (model.num_classes=0)")
        return jnp.zeros((), self._dtype)

    @property
    def _dtype(self) -> jnp.dtype:
        """The compute dtype: that of the parameters as used (the trainer casts them at use,
        wavegen.models.precision); float inputs are cast to it so the matmuls run in it."""
        return self.frame_in.kernel.dtype

    def _frame_inputs(self, frames: jax.Array) -> jax.Array:
        """frames [..., F] codes → GRU input projections [..., 3H] (without the label term)."""
        return self.frame_in(mulaw.codes_to_unit(frames).astype(self._dtype))

    def _sample_logits(self, windows: jax.Array, cond: jax.Array) -> jax.Array:
        """windows [..., F] codes, cond [..., M] → logits [..., Q]."""
        emb = self.embed(windows)  # [..., F, E]
        x = self.window_in(emb.reshape(*emb.shape[:-2], -1)) + cond
        x = jax.nn.relu(self.hidden(jax.nn.relu(x)))
        return self.out(x)

    def __call__(
        self, context: jax.Array, h0: jax.Array, labels: jax.Array | None = None
    ) -> tuple[jax.Array, jax.Array]:
        """Teacher-forced logits of a crop.

        Args:
          context: [B, F + T] int codes; the first F precede the crop, T is a multiple of F.
          h0: [B, H] frame-tier state before the crop (:meth:`initial_state` at a clip start).
          labels: [B] int class indices (conditional models only).

        Returns:
          (logits [B, T, 256] for context[:, F:], frame-tier state after the crop [B, H]).
        """
        f = self.s.frame_size
        b, n = context.shape
        t = n - f
        if t <= 0 or t % f:
            raise ValueError(f"context must be [B, F + T] with T a multiple of F={f}, got {n}")
        j = t // f
        frames = context[:, :t].reshape(b, j, f)  # frame j's input: the frame before its targets
        label_term = self._label_term(labels)
        x = self._frame_inputs(frames) + (label_term[:, None] if label_term.ndim else label_term)
        states, last = self.gru.scan(h0, x)
        cond = self.upsample(states.astype(self._dtype)).reshape(b, t, self.s.mlp_dim)  # [B, T, M]
        # Window of target i: context[i : i + F] (the F codes before it).
        windows = jnp.stack([context[:, k : k + t] for k in range(f)], axis=-1)  # [B, T, F]
        return self._sample_logits(windows, cond), last

    def generate(
        self, key: jax.Array, batch: int, length: int, labels: jax.Array | None = None
    ) -> jax.Array:
        """Ancestral sampling at temperature 1 from silence and a zero frame state.

        Args:
          key: PRNG key; the result is a deterministic function of it (and the labels).
          batch: clips B.
          length: samples T per clip (rounded up to frames internally, then trimmed).
          labels: [B] int class indices (conditional models only).

        Returns:
          codes [B, T] int32 in {0, …, 255}.
        """
        f = self.s.frame_size
        j = -(-length // f)
        label_term = self._label_term(labels)
        keys = jax.random.split(key, j * f).reshape(j, f)

        def sample_step(window, inputs):
            cond, k = inputs  # [B, M], key
            logits = self._sample_logits(window, cond)
            code = jax.random.categorical(k, logits).astype(jnp.int32)
            return jnp.concatenate([window[:, 1:], code[:, None]], axis=1), code

        def frame_step(carry, frame_keys):
            h, window = carry  # window [B, F]: the previous frame, also the sample-tier window
            x = self._frame_inputs(window) + label_term
            h = self.gru.step(h, x)
            cond = self.upsample(h.astype(self._dtype)).reshape(batch, f, self.s.mlp_dim)
            window, codes = jax.lax.scan(
                sample_step, window, (jnp.swapaxes(cond, 0, 1), frame_keys)
            )
            return (h, window), codes  # codes [F, B]

        window0 = jnp.full((batch, f), mulaw.SILENCE, jnp.int32)
        _, codes = jax.lax.scan(frame_step, (self.initial_state(batch), window0), keys)
        return codes.reshape(j * f, batch).T[:, :length]


def sequence_nll(logits: jax.Array, targets: jax.Array) -> jax.Array:
    """Cross-entropy in nats per sample: logits [..., Q], targets [...] int → [...]."""
    logp = jax.nn.log_softmax(logits.astype(jnp.float32), axis=-1)
    return -jnp.take_along_axis(logp, targets[..., None], axis=-1)[..., 0]
