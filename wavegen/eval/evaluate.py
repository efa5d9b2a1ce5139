"""Scoring generated (or real) audio with the evaluation classifier: the WaveGAN Table 1 metrics.

:func:`evaluate` takes a training-run workdir (it generates ``num_samples`` clips from the latest
checkpoint) or a folder of audio files; :func:`evaluate_real` scores a real split, the table's
ceiling. Both report:

- Inception Score, mean ± std over 10 contiguous splits of the (shuffled) clips, with n.
- Fréchet distance and KID between classifier features of the clips and of real training data
  (and of real test data when given).
- NDB/K: k-means (k = ``ndb_k``) on log-mel spectrograms of real training data.
- |D|self and |D|train as the WaveGAN reference code computes them (``nn_self``, ``nn_train``;
  :mod:`wavegen.eval.similarity`): mean Euclidean nearest-neighbour distance between flattened
  log-mel spectrograms of at most ``nn_samples`` (1000) clips and the other clips / the whole
  training set; the same in classifier-feature space as ``nn_self_classifier`` /
  ``nn_train_classifier``.
- The predicted-class histogram (mode collapse shows as a few dominant classes).

Clips are fitted to the classifier's length (zero-padded at the end or cropped from the start);
every result records the sample count, seed and sizes it used.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from wavegen.errors import WavegenError
from wavegen.eval.classifier import SILENCE_PEAK, Classifier, dataset_fingerprint
from wavegen.eval.metrics import (
    KID_NUM_SUBSETS,
    KID_SUBSET_SIZE,
    frechet_distance,
    inception_score,
    kernel_distance,
    nearest_neighbour_distances,
)
from wavegen.eval.ndb import log_spectrogram_features, ndb_score
from wavegen.eval.similarity import nn_similarity, reference_settings, similarity_features

log = logging.getLogger(__name__)

EVAL_FILE = "eval.json"
# Top-level keys of every result (tests and table readers check these).
METRIC_KEYS = (
    "inception_score",
    "frechet_distance",
    "kernel_distance",
    "ndb",
    "nn_self",
    "nn_train",
    "nn_self_classifier",
    "nn_train_classifier",
    "num_samples",
    "seed",
)
IS_SPLITS = 10


class EvalError(WavegenError):
    """The audio to evaluate is unusable (missing, empty, silent, wrong rate); says which."""


def fit_length(waves: np.ndarray, length: int) -> np.ndarray:
    """waves [N, T] → [N, length]: zero-pad at the end or keep the first ``length`` samples."""
    waves = np.asarray(waves, np.float32)
    if waves.shape[1] >= length:
        return np.ascontiguousarray(waves[:, :length])
    return np.pad(waves, ((0, 0), (0, length - waves.shape[1])))


def read_audio_folder(
    folder: str | Path, sample_rate: int, length: int, *, resample: bool = False
) -> tuple[np.ndarray, list[str]]:
    """Every audio file directly in ``folder`` (sorted by name) as fixed-length mono clips.

    Args:
        folder: a folder of WAV (or FLAC/OGG...) files.
        sample_rate: the rate the clips must have (the classifier's).
        length: samples per clip after fitting (see :func:`fit_length`).
        resample: convert other rates instead of rejecting them.

    Returns:
        ``(waves [N, length] float32, file names [N])``.

    Raises:
        EvalError: no such folder, no audio files, files at another rate (without ``resample``),
            or digitally silent files; the message names the files.
    """
    from wavegen.data.audio_io import audio_extensions, read_mono
    from wavegen.data.audio_io import resample as resample_audio

    folder = Path(folder)
    if not folder.is_dir():
        raise EvalError(f"{folder} is neither a run directory nor a folder of audio files")
    exts = audio_extensions()
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix[1:].lower() in exts)
    if not files:
        raise EvalError(f"{folder} contains no audio files (looked for .wav, .flac, .ogg, ...)")
    clips, wrong_rate, silent = [], [], []
    for path in files:
        x, sr = read_mono(path)
        if sr != sample_rate:
            if not resample:
                wrong_rate.append(f"{path.name} ({sr} Hz)")
                continue
            x = resample_audio(x, sr, sample_rate)
        if np.max(np.abs(x)) <= SILENCE_PEAK:
            silent.append(path.name)
        clips.append(x)
    if wrong_rate:
        raise EvalError(
            f"{folder}: {len(wrong_rate)} of {len(files)} files are not at the classifier's "
            f"{sample_rate} Hz: {', '.join(wrong_rate[:5])}{' ...' if len(wrong_rate) > 5 else ''}"
            " (pass resample=True / --resample to convert them)"
        )
    if silent:
        raise EvalError(
            f"{folder}: {len(silent)} of {len(files)} files are silent (peak <= {SILENCE_PEAK}): "
            f"{', '.join(silent[:5])}{' ...' if len(silent) > 5 else ''}"
        )
    waves = np.zeros((len(clips), length), np.float32)
    for i, x in enumerate(clips):
        n = min(length, len(x))
        waves[i, :n] = x[:n]
    return waves, [p.name for p in files]


def is_run_dir(path: str | Path) -> bool:
    """A ``wavegen train`` workdir (it has ``config.json``)."""
    return (Path(path) / "config.json").is_file()


def _generate(
    workdir: Path, num: int, seed: int, step: int | None
) -> tuple[np.ndarray, int, int, list[str] | None]:
    """Generated clips [num, T], their sample rate, the checkpoint step, and for a
    class-conditional model the label name each clip was asked for (else None)."""
    from wavegen.inference import generate
    from wavegen.train import runs

    task, state, restored_step = runs.load_run(workdir, step=step)
    clips = generate.generate_audio(task, state, num, seed=seed)
    requested = None
    num_classes = int(task.config.model.num_classes)
    # Self-conditioned models (data.clusters; their run meta holds the cluster shares) sample
    # like unconditional ones: no label was asked.
    self_conditioned = bool(getattr(task, "cluster_counts", None))
    if num_classes > 0 and not self_conditioned:  # labels cycle 0, 1, ..., C-1, 0, ...
        names = list(getattr(task, "label_names", [])) or [str(c) for c in range(num_classes)]
        requested = [names[i % num_classes] for i in range(num)]
    return (
        np.asarray(clips, np.float32),
        int(task.config.data.sample_rate),
        int(restored_step),
        requested,
    )


def conditional_accuracy(
    probs: np.ndarray, requested: Sequence[str], label_names: Sequence[str]
) -> dict:
    """How often the classifier hears the class a conditional model was asked for.

    Args:
        probs: [N, C] classifier probabilities of the generated clips.
        requested: N label names the clips were generated for.
        label_names: the classifier's C label names (the same naming as the training data's).

    Returns:
        ``{"accuracy", "per_class": {name: accuracy}, "n"}``.

    Raises:
        EvalError: a requested label the classifier does not know.
    """
    index = {name: i for i, name in enumerate(label_names)}
    unknown = sorted({r for r in requested if r not in index})
    if unknown:
        raise EvalError(
            f"the model was asked for labels {unknown} that the classifier does not know "
            f"(its labels: {list(label_names)}); evaluate with the classifier of the same data"
        )
    want = np.asarray([index[r] for r in requested])
    hit = np.argmax(probs, axis=1) == want
    per_class = {
        name: float(hit[want == i].mean()) for name, i in index.items() if np.any(want == i)
    }
    return {"accuracy": float(hit.mean()), "per_class": per_class, "n": int(len(hit))}


def class_distribution(counts: Sequence[int] | np.ndarray) -> tuple[float, float]:
    """Entropy (bits) and largest share / (1/K) of a predicted-class histogram counts [K].

    The entropy is log2 K when the classes are predicted equally often and 0 when every clip is
    one class; the ratio is 1 when uniform and K when collapsed. An empty histogram gives (0, 0).
    """
    c = np.asarray(counts, np.float64)
    total = c.sum()
    if c.size == 0 or total <= 0:
        return 0.0, 0.0
    share = c / total
    nz = share[share > 0]
    entropy = float(max(-np.sum(nz * np.log2(nz)), 0.0))
    return entropy, float(share.max() * c.size)


def pitch_section(waves: np.ndarray, sample_rate: int, reference: Any) -> dict[str, Any]:
    """The result's ``pitch`` section: :func:`~wavegen.eval.pitch.pitch_diversity` of clips
    [N, T] against a :class:`~wavegen.eval.pitch.PitchReference`, its ``histogram`` and the
    ``reference`` itself; only ``error`` and ``reference`` when the reference has no notes
    (the real data is not one clean note per clip)."""
    from wavegen.eval.pitch import note_of_clips, pitch_diversity, pitch_histogram

    if not reference.notes:
        return {
            "error": f"none of the {reference.num_clips} reference clips is a clean note",
            "reference": reference.to_dict(),
        }
    notes = note_of_clips(waves, sample_rate, **reference.estimator_kwargs())
    section: dict[str, Any] = dict(pitch_diversity(waves, sample_rate, reference, notes=notes))
    section["histogram"] = pitch_histogram(waves, sample_rate, reference, notes=notes)
    section["reference"] = reference.to_dict()
    return section


def _pitch_reference(dataset: Any, source: str | None) -> Any:
    """PitchReference of a real ``AudioDataset`` with the YIN range of its data ``source``
    (the wide 'notes' range for other or unknown sources)."""
    from wavegen.data.presets import PITCH_SETTINGS
    from wavegen.eval.pitch import PitchReference

    kwargs = PITCH_SETTINGS.get(str(source), PITCH_SETTINGS["notes"])
    return PitchReference.from_waves(
        np.asarray(dataset.waveforms), int(dataset.sample_rate), **kwargs
    )


class ReferenceFeatures:
    """Classifier features and log-spectrograms of a real split, computed once per evaluation.

    Args:
        dataset: an ``AudioDataset`` (``waveforms`` [N, T], ``sample_rate``, ``sources``...).
        classifier: the evaluation classifier; the dataset must be at its sample rate.
        name: 'train' or 'test', for error messages.
    """

    def __init__(self, dataset: Any, classifier: Classifier, name: str):
        if int(dataset.sample_rate) != classifier.sample_rate:
            raise EvalError(
                f"the real {name} data is at {dataset.sample_rate} Hz but the classifier was "
                f"trained at {classifier.sample_rate} Hz; use data of the classifier's rate"
            )
        if len(dataset.waveforms) < 2:
            raise EvalError(f"the real {name} split has {len(dataset.waveforms)} clips; need >= 2")
        self.name = name
        self.waves = fit_length(dataset.waveforms, classifier.length)
        self.features = classifier.features(self.waves)
        self.fingerprint = dataset_fingerprint(dataset)
        self._spectrograms: np.ndarray | None = None
        self._similarity: np.ndarray | None = None

    def spectrograms(self, sample_rate: int) -> np.ndarray:
        """[N, n_mels * frames] NDB features (computed on first use)."""
        if self._spectrograms is None:
            self._spectrograms = log_spectrogram_features(self.waves, sample_rate)
        return self._spectrograms

    def similarity(self, sample_rate: int) -> np.ndarray:
        """[N, frames * 128] reference-style |D| features (computed on first use)."""
        if self._similarity is None:
            self._similarity = similarity_features(self.waves, sample_rate)
        return self._similarity


def score_clips(
    waves: np.ndarray,
    classifier: Classifier,
    train: ReferenceFeatures,
    test: ReferenceFeatures | None = None,
    *,
    seed: int = 0,
    ndb_k: int = 50,
    nn_samples: int = 1000,
    requested_labels: Sequence[str] | None = None,
    pitch_reference: Any | None = None,
) -> dict:
    """Every metric of clips [N, length] float32 against real reference features.

    The clips are shuffled (seeded) first so IS splits and the |D| subset do not depend on
    file or class order.

    Returns:
        JSON-able dict: ``inception_score`` {mean, std, num_splits, n}, ``frechet_distance``,
        ``kernel_distance`` {mean, std, subset_size, num_subsets}, ``ndb`` {ndb, ndb_k, k,
        alpha, n_reference}, ``nn_self``, ``nn_train`` (reference-style log-mel |D|) with
        ``nn_self_std``, ``nn_train_std`` and their settings in ``nn_features``,
        ``nn_self_classifier``, ``nn_train_classifier`` (classifier space), ``nn_n``,
        ``nn_reference_n``,
        ``predicted_class_counts``, ``predicted_class_entropy`` (bits),
        ``predicted_class_max_share_ratio`` (largest share / (1/K)), ``*_test`` distances when
        ``test`` is given, a ``pitch`` section (see :func:`pitch_section`) when
        ``pitch_reference`` (a :class:`~wavegen.eval.pitch.PitchReference`) is given, and
        ``conditional_accuracy`` (see :func:`conditional_accuracy`) when ``requested_labels``
        (the N label names a conditional model was asked for) is given.
    """
    n = len(waves)
    if n < max(IS_SPLITS, 2):
        raise EvalError(f"need at least {IS_SPLITS} clips for the {IS_SPLITS}-split IS; got {n}")
    if len(train.waves) < ndb_k:
        raise EvalError(
            f"NDB with k={ndb_k} bins needs >= {ndb_k} real training clips; got {len(train.waves)}"
        )
    if requested_labels is not None and len(requested_labels) != n:
        raise EvalError(f"{len(requested_labels)} requested labels for {n} clips")
    rng = np.random.default_rng(seed)
    order = rng.permutation(n)
    waves = np.asarray(waves, np.float32)[order]
    probs = classifier.predict_proba(waves)
    feats = classifier.features(waves)
    is_mean, is_std = inception_score(probs, IS_SPLITS)
    kid_args = dict(num_subsets=KID_NUM_SUBSETS, subset_size=KID_SUBSET_SIZE, seed=seed)
    kid_mean, kid_std = kernel_distance(feats, train.features, **kid_args)
    ndb = ndb_score(
        train.spectrograms(classifier.sample_rate),
        log_spectrogram_features(waves, classifier.sample_rate),
        k=ndb_k,
        seed=seed,
    )
    nn_n = min(nn_samples, n)
    sim_feats = similarity_features(waves[:nn_n], classifier.sample_rate)
    nn_self, nn_self_std = nn_similarity(sim_feats)
    nn_train, nn_train_std = nn_similarity(sim_feats, train.similarity(classifier.sample_rate))
    counts = np.bincount(np.argmax(probs, axis=1), minlength=len(classifier.label_names))
    result = {
        "num_samples": n,
        "seed": seed,
        "inception_score": {
            "mean": is_mean,
            "std": is_std,
            "num_splits": IS_SPLITS,
            "n": n,
        },
        "frechet_distance": frechet_distance(feats, train.features),
        "kernel_distance": {
            "mean": kid_mean,
            "std": kid_std,
            "subset_size": min(KID_SUBSET_SIZE, n, len(train.features)),
            "num_subsets": KID_NUM_SUBSETS,
        },
        "ndb": {
            "ndb": ndb["ndb"],
            "ndb_k": ndb["ndb_k"],
            "k": ndb["k"],
            "alpha": ndb["alpha"],
            "n_reference": len(train.waves),
        },
        "nn_self": nn_self,
        "nn_train": nn_train,
        "nn_self_std": nn_self_std,
        "nn_train_std": nn_train_std,
        "nn_features": {
            "kind": "log-mel, WaveGAN reference eval/similarity (wavegen.eval.similarity)",
            "dims": int(sim_feats.shape[1]),
            **reference_settings(classifier.sample_rate).as_dict(),
        },
        "nn_self_classifier": nearest_neighbour_distances(feats[:nn_n]),
        "nn_train_classifier": nearest_neighbour_distances(feats[:nn_n], train.features),
        "nn_n": nn_n,
        "nn_reference_n": len(train.features),
        "feature_space": f"classifier penultimate layer ({feats.shape[1]} dims)",
        "reference_n": len(train.features),
        "predicted_class_counts": dict(
            zip(classifier.label_names, (int(c) for c in counts), strict=True)
        ),
    }
    entropy, max_share_ratio = class_distribution(counts)
    result["predicted_class_entropy"] = entropy
    result["predicted_class_max_share_ratio"] = max_share_ratio
    if pitch_reference is not None:
        result["pitch"] = pitch_section(waves, classifier.sample_rate, pitch_reference)
    if requested_labels is not None:
        requested = [requested_labels[i] for i in order]
        result["conditional_accuracy"] = conditional_accuracy(
            probs, requested, classifier.label_names
        )
    if test is not None:
        kid_test = kernel_distance(feats, test.features, **kid_args)
        result["frechet_distance_test"] = frechet_distance(feats, test.features)
        result["kernel_distance_test"] = {"mean": kid_test[0], "std": kid_test[1]}
        result["reference_test_n"] = len(test.features)
    return result


def _classifier_info(classifier: Classifier, train: ReferenceFeatures) -> dict:
    meta = classifier.metadata
    trained_on = meta.get("data", {}).get("train_fingerprint")
    if trained_on is not None and trained_on != train.fingerprint:
        log.warning(
            "the reference training data differs from the data the classifier was trained on "
            "(fingerprints %s vs %s)",
            train.fingerprint[:12],
            trained_on[:12],
        )
    return {
        "label_names": classifier.label_names,
        "test_accuracy": meta.get("metrics", {}).get("test_accuracy"),
        "train_fingerprint": trained_on,
        "reference_train_fingerprint": train.fingerprint,
        "reference_matches_classifier_data": trained_on == train.fingerprint,
        "wavegen_version": meta.get("wavegen_version"),
    }


def write_eval_json(result: dict, path: str | Path) -> Path:
    """Writes ``result`` as indented JSON (atomically: a temp file renamed into place)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(result, indent=2, sort_keys=True))
    tmp.replace(path)
    return path


def evaluate(
    source: str | Path,
    classifier: Classifier,
    *,
    reference_train: Any,
    reference_test: Any | None = None,
    num_samples: int = 1000,
    seed: int = 0,
    ndb_k: int = 50,
    nn_samples: int = 1000,
    resample: bool = False,
    step: int | None = None,
    name: str | None = None,
    out: str | Path | None = None,
    pitch: bool = False,
    pitch_source: str | None = None,
) -> dict:
    """Scores a training run (generating ``num_samples`` clips) or a folder of audio files.

    Args:
        source: a run workdir (``config.json`` + ``checkpoints/``) or a folder of audio files
            (all are used; ``num_samples`` applies to runs only).
        classifier: from :func:`~wavegen.eval.classifier.load_classifier`.
        reference_train: real training ``AudioDataset`` (FD, KID, NDB and |D|train reference).
        reference_test: real test ``AudioDataset`` or None (adds ``*_test`` distances).
        num_samples: clips generated from a run.
        seed: generation latents, shuffling, KID subsets and k-means seed.
        ndb_k: NDB bins.
        nn_samples: clips used for |D|self and |D|train (at most).
        resample: convert folder files at another rate instead of rejecting them.
        step: checkpoint step of a run (default: latest).
        name: row name in tables (default: the source folder's name).
        out: JSON path; default ``source/eval.json``.
        pitch: add the ``pitch`` section (notes of the clips against the notes of the clean
            clips of ``reference_train``; for one-note-per-clip data).
        pitch_source: data source ('synthetic', 'notes', 'nsynth') choosing the YIN range
            (:data:`wavegen.data.presets.PITCH_SETTINGS`); None = the wide 'notes' range.

    Returns:
        The metrics (see :func:`score_clips`) plus ``name``, ``source``, ``source_kind``,
        ``sample_rate``, ``length``, ``step`` (runs), ``classifier`` info and ``output``.
    """
    source = Path(source)
    if not source.exists():
        raise EvalError(f"{source} does not exist; expected a run directory or an audio folder")
    meta: dict[str, Any] = {"source": str(source)}
    if is_run_dir(source):
        if num_samples < IS_SPLITS:
            raise EvalError(f"num_samples must be >= {IS_SPLITS}; got {num_samples}")
        waves, rate, restored, requested = _generate(source, num_samples, seed, step)
        if rate != classifier.sample_rate:
            raise EvalError(
                f"run {source} generates {rate} Hz audio but the classifier expects "
                f"{classifier.sample_rate} Hz"
            )
        peaks = np.max(np.abs(waves), axis=1)
        meta.update(source_kind="run", step=restored, num_silent=int(np.sum(peaks <= SILENCE_PEAK)))
        meta["generated_length"] = int(waves.shape[1])
        waves = fit_length(waves, classifier.length)
    else:
        waves, files = read_audio_folder(
            source, classifier.sample_rate, classifier.length, resample=resample
        )
        meta.update(source_kind="audio_folder", num_files=len(files), resampled=resample)
        requested = None
    train = ReferenceFeatures(reference_train, classifier, "train")
    test = None if reference_test is None else ReferenceFeatures(reference_test, classifier, "test")
    result = score_clips(
        waves,
        classifier,
        train,
        test,
        seed=seed,
        ndb_k=ndb_k,
        nn_samples=nn_samples,
        requested_labels=requested,
        pitch_reference=_pitch_reference(reference_train, pitch_source) if pitch else None,
    )
    result.update(meta)
    result.update(
        name=name or source.resolve().name,
        sample_rate=classifier.sample_rate,
        length=classifier.length,
        classifier=_classifier_info(classifier, train),
    )
    path = write_eval_json(result, Path(out) if out else source / EVAL_FILE)
    result["output"] = str(path)
    return result


def evaluate_real(
    split_dataset: Any,
    classifier: Classifier,
    *,
    reference_train: Any,
    reference_test: Any | None = None,
    num_samples: int | None = None,
    seed: int = 0,
    ndb_k: int = 50,
    nn_samples: int = 1000,
    name: str = "Real",
    out: str | Path | None = None,
    pitch: bool = False,
    pitch_source: str | None = None,
) -> dict:
    """Scores real clips (e.g. the train or test split) like generated ones: the table's ceiling.

    When ``split_dataset`` is the training set itself, FD is 0 and |D|train is 0 by
    construction (every clip is its own nearest training neighbour), as in the paper's
    "Real (train)" row.

    Args:
        split_dataset: the ``AudioDataset`` to score.
        classifier, reference_train, reference_test, seed, ndb_k, nn_samples: see
            :func:`evaluate`.
        num_samples: score a seeded random subset of this many clips (None: all).
        name: row name, e.g. 'Real (train)'.
        out: JSON path (None: nothing written).
        pitch, pitch_source: see :func:`evaluate`.

    Returns:
        As :func:`evaluate`, with ``source_kind`` 'real'.
    """
    if int(split_dataset.sample_rate) != classifier.sample_rate:
        raise EvalError(
            f"the data is at {split_dataset.sample_rate} Hz but the classifier expects "
            f"{classifier.sample_rate} Hz"
        )
    waves = fit_length(split_dataset.waveforms, classifier.length)
    if num_samples is not None and num_samples < len(waves):
        pick = np.sort(np.random.default_rng(seed).choice(len(waves), num_samples, replace=False))
        waves = waves[pick]
    train = ReferenceFeatures(reference_train, classifier, "train")
    test = None if reference_test is None else ReferenceFeatures(reference_test, classifier, "test")
    result = score_clips(
        waves, classifier, train, test, seed=seed, ndb_k=ndb_k, nn_samples=nn_samples,
        pitch_reference=_pitch_reference(reference_train, pitch_source) if pitch else None,
    )  # fmt: skip
    result.update(
        name=name,
        source="real data",
        source_kind="real",
        dataset_fingerprint=dataset_fingerprint(split_dataset),
        sample_rate=classifier.sample_rate,
        length=classifier.length,
        classifier=_classifier_info(classifier, train),
    )
    if out is not None:
        result["output"] = str(write_eval_json(result, out))
    return result
