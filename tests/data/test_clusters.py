"""Self-conditioning pseudo-labels: k-means and the clusters of clip features."""

import numpy as np
import pytest

from wavegen.data import clusters
from wavegen.data.errors import AudioDataError
from wavegen.data.pipeline import build_dataset
from wavegen.defaults import data_config


def test_kmeans_recovers_separated_blobs():
    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    truth = np.repeat(np.arange(3), [50, 30, 20])
    points = centres[truth] + rng.normal(scale=0.5, size=(100, 2))
    assign, found = clusters.kmeans(points.astype(np.float32), 3, seed=1)
    # The same partition up to renaming: every true blob maps to one cluster and back.
    pairs = set(zip(truth.tolist(), assign.tolist(), strict=True))
    assert len(pairs) == 3 and len({a for _, a in pairs}) == 3
    for t, a in pairs:
        np.testing.assert_allclose(found[a], points[truth == t].mean(0), atol=1e-4)


def test_cluster_labels_group_tones_by_pitch_and_number_by_size():
    sr, n = 8000, 2048
    t = np.arange(n) / sr
    rng = np.random.default_rng(0)
    freqs = np.repeat([200.0, 800.0, 2400.0], [12, 8, 4])
    waves = np.stack(
        [0.5 * np.sin(2 * np.pi * f * t + rng.uniform(0, 6.28)) for f in freqs]
    ).astype(np.float32)
    waves += 0.01 * rng.normal(size=waves.shape).astype(np.float32)
    labels = clusters.cluster_labels(waves, sr, 3, seed=0)
    # Largest group (12 clips at 200 Hz) is cluster 0, then 8, then 4.
    np.testing.assert_array_equal(labels, np.repeat([0, 1, 2], [12, 8, 4]))


def test_dataset_with_clusters_replaces_labels():
    cfg = data_config()
    cfg.synthetic_size = 32
    cfg.length = 4096
    cfg.clusters = 4
    ds = build_dataset(cfg)
    assert ds.label_names == ["cluster00", "cluster01", "cluster02", "cluster03"]
    counts = np.bincount(ds.labels, minlength=4)
    assert counts.sum() == len(ds) and all(counts[:-1] >= counts[1:])  # numbered by size


def test_bad_cluster_count_is_a_data_error():
    cfg = data_config()
    cfg.clusters = -1
    with pytest.raises(AudioDataError, match="data.clusters"):
        build_dataset(cfg)
