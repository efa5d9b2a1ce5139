"""Evaluation metrics on precomputed arrays: IS, FID/FAD, KID, nearest-neighbour distances,
SI-SDR, spectral distances (``metrics``) and NDB (``ndb``); the evaluation classifier
(``classifier``), scoring of runs and real data (``evaluate``) and result tables (``tables``)."""

from wavegen.eval.classifier import (
    Classifier,
    ClassifierError,
    load_classifier,
    train_classifier,
)
from wavegen.eval.evaluate import EvalError, evaluate, evaluate_real
from wavegen.eval.metrics import (
    feature_statistics,
    frechet_distance,
    frechet_distance_from_statistics,
    inception_score,
    kernel_distance,
    mel_distance,
    multi_resolution_stft_distance,
    nearest_neighbour_distances,
    si_sdr,
)
from wavegen.eval.ndb import kmeans, log_spectrogram_features, ndb_score
from wavegen.eval.tables import TableError, make_tables
from wavegen.eval.validation import MetricInputError

__all__ = [
    "Classifier",
    "ClassifierError",
    "EvalError",
    "MetricInputError",
    "TableError",
    "evaluate",
    "evaluate_real",
    "feature_statistics",
    "frechet_distance",
    "frechet_distance_from_statistics",
    "inception_score",
    "kernel_distance",
    "kmeans",
    "load_classifier",
    "log_spectrogram_features",
    "make_tables",
    "mel_distance",
    "multi_resolution_stft_distance",
    "ndb_score",
    "nearest_neighbour_distances",
    "si_sdr",
    "train_classifier",
]
