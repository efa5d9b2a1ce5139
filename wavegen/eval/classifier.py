"""The evaluation classifier: a small log-mel CNN whose softmax gives the Inception Score and whose
penultimate layer gives the features of FD, KID and the nearest-neighbour distances.

Architecture (the WaveGAN paper's SC09 classifier, Donahue et al. 2019, sized for a CPU):
log-mel spectrogram → 4 × [5×5 conv, ReLU, 2×2 max-pool] → dense (``feature_dim``, ReLU; the
*features*) → dropout → dense → softmax.

Choices, and why:

- **Input ~65 frames × 64 mels** by default, whatever the rate and length: the hop is the power
  of two nearest below ``length / 64`` (``frames`` option) and ``n_fft = 2 * hop`` (50% overlap).
  For 16384 samples that is hop 256 (32 ms at 8 kHz, 16 ms at 16 kHz). Twice the frames cost
  about twice the time per epoch (docs/benchmarks.md), and spoken digits (~0.5 s) still span
  ~16 frames, so the coarser hop buys the 10-minute CPU budget at little cost.
- **64 mel bands, not 128**: with ``n_fft = 512`` at 8 kHz there are only 257 FFT bins (65 for
  the ``n_fft = 128`` of 4096-sample clips); 128 bands would make dozens of low filters one FFT
  bin wide (duplicated inputs). ``n_mels = min(64, n_fft // 8)`` keeps every filter >= 2 bins
  wide up to 22.05 kHz.
- **Loudness-normalised features**: log-mel relative to the clip's loudest bin, clipped at
  ``-dynamic_range_db`` and mapped to [-1, 1]. The scores are then gain invariant (up to the
  STFT's absolute magnitude floor, ~-70 dBFS), so IS/FD measure *what* a generator says rather
  than how loud it says it (GAN output levels drift during training). This replaces gain
  augmentation; digitally silent clips map to the floor (-1).
- **Channels (16, 32, 64, 64)**: ~25 M multiply-adds per clip, enough for 98.3% FSDD test
  accuracy in 20 epochs (docs/results.md); twice the first widths cost over twice as much per
  epoch (docs/benchmarks.md).
- **Augmentation**: random time shifts of up to ``max_shift_frames`` (in feature space, vacated
  frames filled with the floor): FSDD clips are end-padded so speech always starts at frame 0,
  but generated clips need not.

Saved as ``DIR/params`` (orbax, arrays only) + ``DIR/classifier.json`` (label names, rate, length,
feature settings, network sizes, data fingerprints, accuracies, wavegen version).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from wavegen.audio.stft import log_mel_spectrogram, mel_filterbank
from wavegen.errors import WavegenError

log = logging.getLogger(__name__)

FORMAT = "wavegen-classifier"
FORMAT_VERSION = 1
METADATA_FILE = "classifier.json"
PARAMS_DIR = "params"
DEFAULT_CHANNELS = (16, 32, 64, 64)
# Peak amplitude at or below which a clip counts as digital silence (~1/3 of a 16-bit LSB).
SILENCE_PEAK = 1e-5


class ClassifierError(WavegenError):
    """A classifier directory is missing, damaged or does not fit the audio given to it."""


def wavegen_version() -> str:
    """The installed package version, else the checkout's pyproject.toml version."""
    import importlib.metadata

    try:
        return importlib.metadata.version("wavegen")
    except importlib.metadata.PackageNotFoundError:
        pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
        if pyproject.is_file():
            import tomllib

            return str(tomllib.loads(pyproject.read_text())["project"]["version"])
        return "unknown"


@dataclasses.dataclass(frozen=True)
class FeatureSettings:
    """Log-mel front end (see the module docstring for the choices)."""

    sample_rate: int
    length: int
    n_fft: int
    hop_length: int
    n_mels: int
    dynamic_range_db: float = 80.0

    @classmethod
    def for_clips(cls, sample_rate: int, length: int, frames: int = 64) -> FeatureSettings:
        """~``frames + 1`` frames x <= 64 mels for clips of ``length`` samples at ``sample_rate``.

        The hop is the power of two nearest below ``length / frames`` and ``n_fft = 2 * hop``.
        """
        if frames < 1 or length < 2 * frames:
            raise ClassifierError(
                f"clip length {length} is too short for {frames} frames; expected >= {2 * frames}"
            )
        hop = 2 ** int(math.floor(math.log2(length / frames)))
        n_fft = 2 * hop
        return cls(sample_rate, length, n_fft, hop, min(64, n_fft // 8))

    @property
    def num_frames(self) -> int:
        return 1 + self.length // self.hop_length  # centred STFT


def log_mel_features(
    waves: jax.Array, settings: FeatureSettings, mel_basis: jax.Array | np.ndarray
) -> jax.Array:
    """Loudness-normalised log-mel spectrograms, the network input.

    ``y = 1 + 2 * max(log M|STFT| - max log M|STFT|, -R) / R`` with ``R`` the dynamic range in
    natural-log magnitude units (80 dB → ln(10^4)); clips with peak <= ``SILENCE_PEAK`` give -1
    everywhere.

    Args:
        waves: [N, T] float32 audio.
        settings: the front end.
        mel_basis: [n_mels, n_fft // 2 + 1] filterbank.

    Returns:
        [N, frames, n_mels] float32 in [-1, 1].
    """
    waves = jnp.asarray(waves, jnp.float32)
    mel = log_mel_spectrogram(waves, mel_basis, settings.hop_length, eps=1e-10)
    peak = jnp.max(mel, axis=(-2, -1), keepdims=True)
    db_range = settings.dynamic_range_db / 20.0 * math.log(10.0)
    rel = jnp.maximum(mel - peak, -db_range)
    # Decided on the waveform: the STFT's magnitude floor makes a silent spectrogram non-zero.
    audible = jnp.max(jnp.abs(waves), axis=-1)[:, None, None] > SILENCE_PEAK
    return jnp.where(audible, 1.0 + 2.0 * rel / db_range, -1.0)


class ClassifierNet(nnx.Module):
    """4 × [5×5 conv, ReLU, 2×2 max-pool] → dense features (ReLU) → dropout → logits.

    Args:
        num_classes: K.
        num_frames, n_mels: input size [frames, n_mels].
        channels: output channels of the 4 convolutions.
        feature_dim: width of the penultimate (feature) layer.
        dropout: rate on the features during training.
    """

    def __init__(
        self,
        num_classes: int,
        num_frames: int,
        n_mels: int,
        *,
        channels: Sequence[int] = DEFAULT_CHANNELS,
        feature_dim: int = 128,
        dropout: float = 0.5,
        rngs: nnx.Rngs,
    ):
        self.dropout = dropout
        self.convs = nnx.List()
        self.pools: list[tuple[int, int]] = []
        cin, frames, mels = 1, num_frames, n_mels
        for cout in channels:
            self.convs.append(nnx.Conv(cin, cout, (5, 5), rngs=rngs))
            # Pool an axis only while it is >= 2 long, so short inputs (tests) still work.
            pool = (2 if frames >= 2 else 1, 2 if mels >= 2 else 1)
            self.pools.append(pool)
            frames, mels, cin = frames // pool[0], mels // pool[1], cout
        self.dense = nnx.Linear(frames * mels * cin, feature_dim, rngs=rngs)
        self.out = nnx.Linear(feature_dim, num_classes, rngs=rngs)

    def __call__(
        self, feats: jax.Array, *, dropout_key: jax.Array | None = None
    ) -> tuple[jax.Array, jax.Array]:
        """feats [B, frames, n_mels] → (logits [B, K], features [B, feature_dim]).

        ``dropout_key`` given → training mode (dropout on); None → inference.
        """
        x = feats[..., None]
        for conv, pool in zip(self.convs, self.pools, strict=True):
            x = nnx.max_pool(jax.nn.relu(conv(x)), pool, pool)
        embedding = jax.nn.relu(self.dense(x.reshape(x.shape[0], -1)))
        h = embedding
        if dropout_key is not None and self.dropout > 0:
            keep = jax.random.bernoulli(dropout_key, 1.0 - self.dropout, h.shape)
            h = jnp.where(keep, h / (1.0 - self.dropout), 0.0)
        return self.out(h), embedding


def _network(meta: dict, seed: int = 0) -> ClassifierNet:
    f, n = meta["features"], meta["network"]
    settings = FeatureSettings(**f)
    return ClassifierNet(
        len(meta["label_names"]),
        settings.num_frames,
        settings.n_mels,
        channels=tuple(n["channels"]),
        feature_dim=n["feature_dim"],
        dropout=n["dropout"],
        rngs=nnx.Rngs(seed),
    )


class Classifier:
    """A trained classifier: class probabilities and penultimate features of waveforms.

    Args:
        network: the trained :class:`ClassifierNet`.
        metadata: the ``classifier.json`` contents (label names, rate, length, settings, ...).
    """

    def __init__(self, network: ClassifierNet, metadata: dict):
        self.metadata = metadata
        self.settings = FeatureSettings(**metadata["features"])
        self.label_names: list[str] = list(metadata["label_names"])
        self.sample_rate: int = self.settings.sample_rate
        self.length: int = self.settings.length
        self._mel = jnp.asarray(
            mel_filterbank(self.sample_rate, self.settings.n_fft, self.settings.n_mels)
        )
        self.graphdef, self.params = nnx.split(network)

        @jax.jit
        def forward(params: Any, waves: jax.Array) -> tuple[jax.Array, jax.Array]:
            feats = log_mel_features(waves, self.settings, self._mel)
            return nnx.merge(self.graphdef, params)(feats)

        self._forward = forward

    def _run(self, waves: np.ndarray, batch_size: int = 256) -> tuple[np.ndarray, np.ndarray]:
        x = np.asarray(waves, np.float32)
        if x.ndim != 2 or x.shape[1] != self.length or len(x) == 0:
            raise ClassifierError(
                f"expected waveforms [N, {self.length}] (this classifier's clip length at "
                f"{self.sample_rate} Hz); got shape {x.shape}"
            )
        if not np.all(np.isfinite(x)):
            raise ClassifierError("waveforms contain NaN/Inf values")
        # Batches are padded to a power of two (<= batch_size) so few shapes get compiled.
        size = min(batch_size, 1 << (len(x) - 1).bit_length())
        logits, feats = [], []
        for start in range(0, len(x), size):
            chunk = x[start : start + size]
            padded = np.pad(chunk, ((0, size - len(chunk)), (0, 0)))
            lo, fe = jax.device_get(self._forward(self.params, padded))
            logits.append(lo[: len(chunk)])
            feats.append(fe[: len(chunk)])
        return np.concatenate(logits), np.concatenate(feats)

    def logits(self, waves: np.ndarray) -> np.ndarray:
        """waves [N, length] float32 → [N, K] float32 logits."""
        return self._run(waves)[0]

    def predict_proba(self, waves: np.ndarray) -> np.ndarray:
        """waves [N, length] float32 → [N, K] float64 softmax probabilities (rows sum to 1)."""
        logits = self.logits(waves).astype(np.float64)
        z = np.exp(logits - logits.max(axis=1, keepdims=True))
        return z / z.sum(axis=1, keepdims=True)

    def predict(self, waves: np.ndarray) -> np.ndarray:
        """waves [N, length] → [N] int64 class indices."""
        return np.argmax(self.logits(waves), axis=1)

    def features(self, waves: np.ndarray) -> np.ndarray:
        """waves [N, length] → [N, feature_dim] float32 penultimate-layer features."""
        return self._run(waves)[1]

    def accuracy(self, waves: np.ndarray, labels: np.ndarray) -> float:
        """Fraction of waves [N, length] whose predicted class equals labels [N]."""
        return float(np.mean(self.predict(waves) == np.asarray(labels)))


# ---------------------------------------------------------------------------------------------
# Saving and loading
# ---------------------------------------------------------------------------------------------


def dataset_fingerprint(dataset: Any) -> str:
    """sha256 over the dataset's sorted (source, file size) pairs, label names, rate and length.

    File sizes catch replaced recordings; the label names catch a relabelled set.
    """
    entries = []
    for source in sorted(str(s) for s in dataset.sources):
        size = os.path.getsize(source) if os.path.isfile(source) else -1
        entries.append([source, size])
    payload = {
        "sources": entries,
        "num_clips": len(dataset.waveforms),
        "label_names": list(dataset.label_names),
        "sample_rate": int(dataset.sample_rate),
        "length": int(np.shape(dataset.waveforms)[1]),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def save_classifier(classifier: Classifier, out_dir: str | Path) -> Path:
    """Writes ``out_dir/params`` (orbax) and ``out_dir/classifier.json``; returns ``out_dir``."""
    import orbax.checkpoint as ocp

    out_dir = Path(out_dir).absolute()
    out_dir.mkdir(parents=True, exist_ok=True)
    checkpointer = ocp.StandardCheckpointer()
    checkpointer.save(out_dir / PARAMS_DIR, nnx.to_pure_dict(classifier.params), force=True)
    checkpointer.wait_until_finished()
    checkpointer.close()
    tmp = out_dir / (METADATA_FILE + ".tmp")
    tmp.write_text(json.dumps(classifier.metadata, indent=2, sort_keys=True))
    tmp.replace(out_dir / METADATA_FILE)
    return out_dir


def _shapes(tree: Any) -> dict[str, tuple[int, ...]]:
    """{'['dense']['kernel']': shape, ...} of a pytree of arrays."""
    return {
        jax.tree_util.keystr(path): tuple(np.shape(leaf))
        for path, leaf in jax.tree_util.tree_leaves_with_path(tree)
    }


REQUIRED_KEYS = ("format", "format_version", "label_names", "features", "network")


def load_classifier(path: str | Path) -> Classifier:
    """Loads a classifier saved by :func:`train_classifier` / :func:`save_classifier`.

    Raises:
        ClassifierError: the directory, its metadata or its parameters are missing, of another
            format version, or do not fit the network the metadata describes.
    """
    import orbax.checkpoint as ocp

    path = Path(path).absolute()
    meta_path = path / METADATA_FILE
    if not meta_path.is_file():
        raise ClassifierError(
            f"{path} is not a classifier directory: {meta_path.name} is missing (train one with "
            "`wavegen eval train-classifier`)"
        )
    try:
        meta = json.loads(meta_path.read_text())
    except json.JSONDecodeError as e:
        raise ClassifierError(f"{meta_path} is not valid JSON: {e}") from e
    missing = [k for k in REQUIRED_KEYS if k not in meta]
    if missing:
        raise ClassifierError(f"{meta_path} lacks the keys {missing}")
    if meta["format"] != FORMAT or meta["format_version"] != FORMAT_VERSION:
        raise ClassifierError(
            f"{meta_path}: format {meta['format']!r} version {meta['format_version']!r}; this "
            f"wavegen reads {FORMAT!r} version {FORMAT_VERSION}. Retrain the classifier."
        )
    try:
        network = _network(meta)
    except (KeyError, TypeError, ValueError) as e:
        raise ClassifierError(f"{meta_path}: bad features/network settings: {e!r}") from e
    graphdef, params = nnx.split(network)
    params_dir = path / PARAMS_DIR
    if not params_dir.is_dir():
        raise ClassifierError(f"{path}: the parameter folder {PARAMS_DIR}/ is missing")
    checkpointer = ocp.StandardCheckpointer()
    try:
        # Restored as saved (no target), then checked here: a mismatch gets a message naming the
        # array instead of an orbax traceback.
        restored = nnx.restore_int_paths(checkpointer.restore(params_dir))
    except Exception as e:  # orbax raises many types; say which folder and why
        raise ClassifierError(
            f"{params_dir} is not a readable parameter checkpoint: {type(e).__name__}: "
            f"{str(e)[:300]}"
        ) from e
    finally:
        checkpointer.close()
    want = _shapes(nnx.to_pure_dict(params))
    got = _shapes(restored)
    if want != got:
        diffs = [
            f"{k}: saved {got.get(k, 'missing')}, expected {want.get(k, 'none')}"
            for k in sorted(set(want) | set(got))
            if want.get(k) != got.get(k)
        ]
        raise ClassifierError(
            f"{params_dir} does not fit the network described by {meta_path.name}: "
            + "; ".join(diffs[:5])
        )
    nnx.replace_by_pure_dict(params, restored)
    return Classifier(nnx.merge(graphdef, params), meta)


# ---------------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------------


def _time_shift(feats: jax.Array, shifts: jax.Array) -> jax.Array:
    """Shifts each [frames, mels] map of feats [B, frames, mels] by shifts [B] frames (-1 fill)."""
    frames = feats.shape[1]
    source = jnp.arange(frames)[None, :] - shifts[:, None]  # [B, frames]
    valid = (source >= 0) & (source < frames)
    moved = jnp.take_along_axis(feats, jnp.clip(source, 0, frames - 1)[..., None], axis=1)
    return jnp.where(valid[..., None], moved, -1.0)


def _check_labelled(dataset: Any, split: str) -> None:
    labels = np.asarray(dataset.labels)
    if len(labels) == 0:
        raise ClassifierError(f"the {split} split is empty")
    if np.any(labels < 0) or not dataset.label_names:
        raise ClassifierError(
            f"the {split} split has unlabelled clips; the classifier needs labels (set data.label "
            "to 'pattern', 'parent' or 'metadata')"
        )


def fit_classifier(
    train: Any,
    test: Any,
    *,
    epochs: int = 20,
    batch_size: int = 64,
    learning_rate: float = 1e-3,
    channels: Sequence[int] = DEFAULT_CHANNELS,
    feature_dim: int = 128,
    max_shift_frames: int = 8,
    frames: int = 64,
    seed: int = 0,
    progress: bool = True,
) -> tuple[Classifier, dict]:
    """Trains a classifier on in-memory datasets (``AudioDataset``-like objects).

    Args:
        train, test: objects with ``waveforms`` [N, T] float32, ``labels`` [N] int32,
            ``label_names``, ``sample_rate`` and ``sources``; the test set only scores.
        epochs, batch_size, learning_rate: Adam (weight decay 1e-4) with cosine decay.
        channels, feature_dim: network sizes.
        max_shift_frames: time-shift augmentation range (frames, both directions).
        frames: input frames (see :meth:`FeatureSettings.for_clips`); fewer suit short tests.
        seed: initialisation, shuffling and augmentation seed.
        progress: tqdm bar over epochs.

    Returns:
        ``(classifier, metrics)``; metrics has train/test accuracy, sizes and wall time.
    """
    _check_labelled(train, "train")
    _check_labelled(test, "test")
    if list(test.label_names) != list(train.label_names):
        raise ClassifierError(
            f"train and test label names differ: {train.label_names} vs {test.label_names}"
        )
    if int(test.sample_rate) != int(train.sample_rate):
        raise ClassifierError(
            f"train and test sample rates differ: {train.sample_rate} vs {test.sample_rate}"
        )
    start_time = time.perf_counter()
    length = int(np.shape(train.waveforms)[1])
    settings = FeatureSettings.for_clips(int(train.sample_rate), length, frames)
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "wavegen_version": wavegen_version(),
        "label_names": list(train.label_names),
        "features": dataclasses.asdict(settings),
        "network": {"channels": list(channels), "feature_dim": feature_dim, "dropout": 0.5},
    }
    classifier = Classifier(_network(meta, seed), meta)
    # The front end is fixed, so spectrograms are computed once, not every epoch.
    to_feats = jax.jit(lambda w: log_mel_features(w, settings, classifier._mel))
    train_x = np.concatenate(
        [
            np.asarray(to_feats(np.asarray(train.waveforms[i : i + 256], np.float32)))
            for i in range(0, len(train.waveforms), 256)
        ]
    )
    train_y = np.asarray(train.labels, np.int32)
    steps_per_epoch = max(1, len(train_x) // batch_size)
    schedule = optax.cosine_decay_schedule(learning_rate, epochs * steps_per_epoch)
    tx = optax.adamw(schedule, weight_decay=1e-4)
    graphdef = classifier.graphdef
    opt_state = tx.init(classifier.params)

    @jax.jit
    def train_step(params, opt_state, x, y, key):
        k_shift, k_drop = jax.random.split(key)
        shifts = jax.random.randint(k_shift, (x.shape[0],), -max_shift_frames, max_shift_frames + 1)
        x = _time_shift(x, shifts)

        def loss_fn(p):
            logits, _ = nnx.merge(graphdef, p)(x, dropout_key=k_drop)
            return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

        loss, grads = jax.value_and_grad(loss_fn)(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    rng = np.random.default_rng(seed)
    key = jax.random.key(seed)
    params = classifier.params
    epoch_iter = range(epochs)
    if progress:
        from tqdm import tqdm

        epoch_iter = tqdm(epoch_iter, desc="classifier", unit="epoch")
    loss = jnp.zeros(())
    for epoch in epoch_iter:
        order = rng.permutation(len(train_x))
        # Drop the ragged tail (reshuffled every epoch) so one batch shape is compiled.
        for i in range(steps_per_epoch):
            idx = order[i * batch_size : (i + 1) * batch_size]
            key, sub = jax.random.split(key)
            params, opt_state, loss = train_step(params, opt_state, train_x[idx], train_y[idx], sub)
        if progress:
            epoch_iter.set_postfix(loss=f"{float(loss):.3f}")
        log.debug("classifier epoch %d loss %.4f", epoch, float(loss))
    classifier.params = params
    metrics = {
        "train_accuracy": classifier.accuracy(train.waveforms, train.labels),
        "test_accuracy": classifier.accuracy(test.waveforms, test.labels),
        "final_loss": float(loss),
        "num_train": len(train_x),
        "num_test": len(test.waveforms),
        "epochs": epochs,
        "batch_size": batch_size,
        "learning_rate": learning_rate,
        "seed": seed,
        "wall_time_s": round(time.perf_counter() - start_time, 1),
    }
    meta["metrics"] = metrics
    meta["data"] = {
        "train_fingerprint": dataset_fingerprint(train),
        "test_fingerprint": dataset_fingerprint(test),
    }
    return classifier, metrics


def train_classifier(
    cfg_data: Any,
    out_dir: str | Path,
    *,
    epochs: int = 20,
    batch_size: int = 64,
    seed: int = 0,
    progress: bool = True,
    **fit_kwargs: Any,
) -> dict:
    """Trains on ``cfg_data``'s train split, scores its test split, saves to ``out_dir``.

    Args:
        cfg_data: a ``data`` config section (``wavegen.defaults.data_config()`` edited).
        out_dir: where ``params/`` and ``classifier.json`` go (keep it out of git).
        epochs, batch_size, seed, progress: see :func:`fit_classifier`.
        **fit_kwargs: other :func:`fit_classifier` options (``channels``, ``learning_rate``...).

    Returns:
        The metrics (``test_accuracy``, ``train_accuracy``, ``wall_time_s``...) plus ``path``.
    """
    from wavegen.data import build_dataset

    train = build_dataset(cfg_data, split="train", progress=progress)
    test = build_dataset(cfg_data, split="test", progress=progress)
    classifier, metrics = fit_classifier(
        train, test, epochs=epochs, batch_size=batch_size, seed=seed, progress=progress,
        **fit_kwargs,
    )  # fmt: skip
    data_cfg = cfg_data.to_dict() if hasattr(cfg_data, "to_dict") else dict(cfg_data)
    classifier.metadata["data"]["config"] = data_cfg
    path = save_classifier(classifier, out_dir)
    return {**metrics, "path": str(path)}
