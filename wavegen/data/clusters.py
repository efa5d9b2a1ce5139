"""Unsupervised pseudo-labels: k-means clusters of the training clips' log-mel statistics.

Self-conditioned GANs (Liu et al., "Diverse Image Generation via Self-Conditioned GANs", CVPR
2020) condition G and D on cluster indices of the real data instead of human labels: the model
stays unconditional in what it is given (no labels are read), but each cluster is a mode D makes
G cover, the way class conditioning does. The quickstart's sweep found conditioning was what
made a CPU-budget WaveGAN converge (docs/results.md); this carries that to unlabelled data.

Features: per mel band, the mean and standard deviation over time of the log-mel spectrogram
(512-point frames, hop 256, 32 bands), centred per feature and scaled by one overall std.
Clustering: k-means++ seeding and Lloyd iterations in numpy, deterministic for a seed.
"""

from __future__ import annotations

import librosa
import numpy as np

N_FFT = 512
HOP = 256
N_MELS = 32
LLOYD_ITERS = 50


def clip_features(waves: np.ndarray, sample_rate: int) -> np.ndarray:
    """Standardised log-mel statistics of clips.

    Args:
      waves: [N, T] float32 clips (T >= N_FFT).
      sample_rate: Hz.

    Returns:
      [N, 2 * N_MELS] float32: per band mean and std over frames of log(mel power + 1e-4),
      each column centred over the N clips, all divided by one overall std.
    """
    waves = np.asarray(waves, np.float32)
    if waves.ndim != 2 or waves.shape[1] < N_FFT:
        raise ValueError(f"expected clips [N, T >= {N_FFT}], got shape {waves.shape}")
    frames = np.lib.stride_tricks.sliding_window_view(waves, N_FFT, axis=1)[:, ::HOP]
    power = np.abs(np.fft.rfft(frames * np.hanning(N_FFT).astype(np.float32), axis=-1)) ** 2
    mel = librosa.filters.mel(sr=sample_rate, n_fft=N_FFT, n_mels=N_MELS).astype(np.float32)
    logmel = np.log(power @ mel.T + 1e-4)  # [N, frames, mels]
    feats = np.concatenate([logmel.mean(axis=1), logmel.std(axis=1)], axis=1)
    # Centred per feature but scaled as a whole (log-mel units throughout): scaling each feature
    # to unit variance would give silent bands, which differ only by noise, the loud ones' weight.
    feats = feats - feats.mean(0)
    return (feats / (feats.std() + 1e-6)).astype(np.float32)


def kmeans(points: np.ndarray, k: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """k-means++ seeding then Lloyd iterations.

    Args:
      points: [N, F] float32, N >= k.
      k: number of clusters.
      seed: seeds the k-means++ draws.

    Returns:
      ``(assignments [N] int32, centres [k, F] float32)``. A centre that loses all its points
      keeps its position (its cluster is then empty).
    """
    points = np.asarray(points, np.float64)
    if not 1 <= k <= len(points):
        raise ValueError(f"k must be in [1, {len(points)}] for {len(points)} points, got {k}")
    rng = np.random.default_rng(seed)
    centres = [points[rng.integers(len(points))]]
    nearest = ((points - centres[0]) ** 2).sum(1)
    for _ in range(1, k):
        # k-means++: the next centre with probability proportional to squared distance.
        total = nearest.sum()
        pick = (
            rng.choice(len(points), p=nearest / total) if total > 0 else rng.integers(len(points))
        )
        centres.append(points[pick])
        nearest = np.minimum(nearest, ((points - points[pick]) ** 2).sum(1))
    c = np.stack(centres)
    assign = np.zeros(len(points), np.int64)
    for _ in range(LLOYD_ITERS):
        dist = (points**2).sum(1)[:, None] - 2 * points @ c.T + (c**2).sum(1)[None]
        new = np.argmin(dist, axis=1)
        for j in range(k):
            members = points[new == j]
            if len(members):
                c[j] = members.mean(0)
        if np.array_equal(new, assign):
            break
        assign = new
    return assign.astype(np.int32), c.astype(np.float32)


def cluster_labels(waves: np.ndarray, sample_rate: int, k: int, seed: int = 0) -> np.ndarray:
    """[N, T] clips → [N] int32 cluster indices in [0, k), numbered by decreasing cluster size.

    Numbering by size (ties by index) makes the label of the largest mode 0 for any seed.
    """
    assign, _ = kmeans(clip_features(waves, sample_rate), k, seed)
    sizes = np.bincount(assign, minlength=k)
    order = np.lexsort((np.arange(k), -sizes))  # cluster ids by decreasing size
    rank = np.empty(k, np.int32)
    rank[order] = np.arange(k, dtype=np.int32)
    return rank[assign]


def cluster_names(k: int) -> list[str]:
    """The label names of ``k`` clusters: 'cluster00', 'cluster01', ..."""
    return [f"cluster{j:02d}" for j in range(k)]
