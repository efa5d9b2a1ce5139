"""Number of statistically Different Bins (NDB, Richardson & Weiss 2018; used by GANSynth).

The real training features are clustered into K bins with k-means; generated examples are
assigned to the nearest centroid; a two-sample z-test of proportions per bin flags bins whose
generated share differs significantly from the real share. NDB is the number of flagged bins;
NDB/K is near the significance level for a generator that matches the data and approaches 1
under mode collapse.

Everything is numpy (no sklearn): Lloyd's algorithm with k-means++ seeding.
"""

from __future__ import annotations

import numpy as np
import scipy.stats

from wavegen.audio.stft import log_mel_spectrogram_np
from wavegen.eval.validation import MetricInputError, check_array, check_same_width


def _squared_distances(x: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """[N, F] x [K, F] -> [N, K] squared Euclidean distances (clipped at 0 for round-off)."""
    sq = (
        np.sum(x**2, axis=1)[:, None]
        + np.sum(centroids**2, axis=1)[None, :]
        - 2.0 * x @ centroids.T
    )
    return np.maximum(sq, 0.0)


def assign_to_centroids(x: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Index of the nearest centroid for each row.

    Args:
        x: [N, F] points.
        centroids: [K, F].

    Returns:
        [N] int64 labels in [0, K).
    """
    x = check_array("x", x)
    centroids = check_array("centroids", centroids, expected="[K, F]")
    check_same_width("x", x, "centroids", centroids)
    return np.argmin(_squared_distances(x, centroids), axis=1)


def _kmeans_plus_plus(x: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k-means++ seeding (Arthur & Vassilvitskii 2007): later seeds drawn with prob ~ D(x)^2."""
    centroids = np.empty((k, x.shape[1]))
    centroids[0] = x[rng.integers(len(x))]
    closest = _squared_distances(x, centroids[:1])[:, 0]
    for i in range(1, k):
        total = closest.sum()
        # total == 0: fewer distinct points than k, so any point will do.
        index = rng.choice(len(x), p=closest / total) if total > 0 else rng.integers(len(x))
        centroids[i] = x[index]
        closest = np.minimum(closest, _squared_distances(x, centroids[i : i + 1])[:, 0])
    return centroids


def kmeans(
    x: np.ndarray, k: int, *, seed: int = 0, max_iter: int = 100, tol: float = 1e-8
) -> tuple[np.ndarray, np.ndarray]:
    """Lloyd's k-means with k-means++ initialisation; deterministic for a given seed.

    An empty cluster is re-seeded with the point farthest from its centroid, so every bin of
    NDB holds at least one training example when the data has >= k distinct points.

    Args:
        x: [N, F] points, N >= k.
        k: number of clusters.
        seed: seed of the initialisation.
        max_iter: maximum Lloyd iterations.
        tol: stop when the total squared centroid movement falls below ``tol`` times the
            data's total variance.

    Returns:
        ``(centroids [k, F], labels [N])``.
    """
    if k < 1:
        raise MetricInputError(f"k: expected >= 1 clusters; got {k}")
    x = check_array("x", x, min_rows=k)
    rng = np.random.default_rng(seed)
    centroids = _kmeans_plus_plus(x, k, rng)
    threshold = tol * max(float(np.sum(x.var(axis=0))), np.finfo(np.float64).tiny)
    for _ in range(max_iter):
        distances = _squared_distances(x, centroids)
        labels = np.argmin(distances, axis=1)
        counts = np.bincount(labels, minlength=k)
        sums = np.zeros_like(centroids)
        np.add.at(sums, labels, x)
        new = centroids.copy()
        filled = counts > 0
        new[filled] = sums[filled] / counts[filled, None]
        if not filled.all():
            point_cost = distances[np.arange(len(x)), labels]
            for cluster in np.flatnonzero(~filled):
                far = int(np.argmax(point_cost))
                new[cluster] = x[far]
                point_cost[far] = -1.0  # do not hand the same point to two clusters
        shift = float(np.sum((new - centroids) ** 2))
        centroids = new
        if shift <= threshold:
            break
    return centroids, assign_to_centroids(x, centroids)


def _pca_projection(real: np.ndarray, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean [F] and top-``dim`` principal axes [F, dim] of the real features."""
    mean = real.mean(axis=0)
    _, _, vt = np.linalg.svd(real - mean, full_matrices=False)
    return mean, vt[:dim].T


def ndb_score(
    real: np.ndarray,
    generated: np.ndarray,
    *,
    k: int = 50,
    alpha: float = 0.05,
    seed: int = 0,
    standardize: bool = True,
    pca_dim: int | None = None,
) -> dict:
    """NDB and NDB/K of generated features against real training features.

    Args:
        real: [N_r, F] training features (e.g. :func:`log_spectrogram_features`), N_r >= k.
        generated: [N_g, F] generated features.
        k: number of k-means bins (50 in GANSynth).
        alpha: significance level of each two-sided z-test.
        seed: k-means seed.
        standardize: z-score every feature with the real set's mean/std before clustering (as
            the reference implementation does), so loud dimensions do not dominate.
        pca_dim: if set, project onto the real set's top principal axes first (after
            standardising), which makes k-means on long spectrogram vectors much cheaper.

    Returns:
        dict with ``ndb`` (int), ``ndb_k`` (NDB / K), ``k``, ``alpha`` (the settings that
        ran, for result metadata), ``real_proportions`` [K],
        ``generated_proportions`` [K], ``z_scores`` [K], ``different`` [K] bool (bins where
        the test rejects equality), ``centroids`` [K, F'] in the (transformed) clustering space.
    """
    if not 0.0 < alpha < 1.0:
        raise MetricInputError(f"alpha: expected a significance level in (0, 1); got {alpha}")
    real = check_array("real", real, min_rows=max(k, 1))
    generated = check_array("generated", generated)
    check_same_width("real", real, "generated", generated)

    if standardize:
        mean, std = real.mean(axis=0), real.std(axis=0)
        std = np.where(std > 0, std, 1.0)  # constant dimensions carry no information
        real, generated = (real - mean) / std, (generated - mean) / std
    if pca_dim is not None:
        if not 1 <= pca_dim <= min(real.shape):
            raise MetricInputError(
                f"pca_dim: expected 1..{min(real.shape)} (min of N_real and F); got {pca_dim}"
            )
        mean, axes = _pca_projection(real, pca_dim)
        real, generated = (real - mean) @ axes, (generated - mean) @ axes

    centroids, real_labels = kmeans(real, k, seed=seed)
    generated_labels = assign_to_centroids(generated, centroids)
    n_r, n_g = len(real), len(generated)
    p_real = np.bincount(real_labels, minlength=k) / n_r
    p_gen = np.bincount(generated_labels, minlength=k) / n_g

    # Two-proportion z-test with the pooled proportion under H0: p_real == p_gen.
    pooled = (p_real * n_r + p_gen * n_g) / (n_r + n_g)
    se = np.sqrt(pooled * (1.0 - pooled) * (1.0 / n_r + 1.0 / n_g))
    z = np.divide(p_real - p_gen, se, out=np.zeros(k), where=se > 0)
    critical = scipy.stats.norm.ppf(1.0 - alpha / 2.0)
    different = np.abs(z) > critical
    ndb = int(different.sum())
    return {
        "ndb": ndb,
        "ndb_k": ndb / k,
        "k": k,
        "alpha": alpha,
        "real_proportions": p_real,
        "generated_proportions": p_gen,
        "z_scores": z,
        "different": different,
        "centroids": centroids,
    }


def log_spectrogram_features(
    waves: np.ndarray,
    sample_rate: int,
    *,
    n_fft: int = 1024,
    hop_length: int = 256,
    n_mels: int = 64,
    eps: float = 1e-5,
) -> np.ndarray:
    """Flattened log-mel magnitude spectrograms, the NDB input features.

    A mel scale (rather than linear bins) keeps the vectors short: 16384 samples at the
    defaults give 64 x 65 = 4160 features instead of 513 x 65.

    Args:
        waves: [N, T] waveforms.
        sample_rate: Hz.
        n_fft, hop_length, n_mels: STFT / mel parameters (centred, reflect padding).
        eps: floor inside the natural log.

    Returns:
        [N, n_mels * frames] float32.
    """
    x = check_array("waves", waves, expected="[N, T]")
    if sample_rate <= 0:
        raise MetricInputError(f"sample_rate: expected a positive rate in Hz; got {sample_rate}")
    if x.shape[1] <= n_fft // 2:
        raise MetricInputError(
            f"waves: length {x.shape[1]} is too short for n_fft={n_fft} "
            f"(needs more than {n_fft // 2} samples)"
        )
    log_mel = log_mel_spectrogram_np(
        x.astype(np.float32), sample_rate, n_fft, hop_length, n_mels, eps
    )  # [N, n_mels, frames]
    return log_mel.reshape(len(x), -1).astype(np.float32)
