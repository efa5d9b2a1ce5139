"""Evaluation metrics on precomputed arrays: IS, FID/FAD, KID, nearest-neighbour distances,
SI-SDR, spectral distances (``metrics``) and NDB (``ndb``)."""

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
from wavegen.eval.validation import MetricInputError

__all__ = [
    "MetricInputError",
    "feature_statistics",
    "frechet_distance",
    "frechet_distance_from_statistics",
    "inception_score",
    "kernel_distance",
    "kmeans",
    "log_spectrogram_features",
    "mel_distance",
    "multi_resolution_stft_distance",
    "ndb_score",
    "nearest_neighbour_distances",
    "si_sdr",
]
