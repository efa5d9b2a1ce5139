"""NDB and its numpy k-means on synthetic clusters with known structure."""

import librosa
import numpy as np
import pytest

from wavegen.eval.ndb import kmeans, log_spectrogram_features, ndb_score
from wavegen.eval.validation import MetricInputError

CENTRES = np.array([[10.0, 10.0], [10.0, -10.0], [-10.0, 10.0], [-10.0, -10.0]])


def blobs(rng, centres, counts, scale=0.5):
    points = [
        c + scale * rng.normal(size=(n, len(c))) for c, n in zip(centres, counts, strict=True)
    ]
    labels = np.repeat(np.arange(len(centres)), counts)
    return np.concatenate(points), labels


def test_kmeans_recovers_well_separated_clusters():
    rng = np.random.default_rng(0)
    x, truth = blobs(rng, CENTRES, [100, 80, 120, 60])
    centroids, labels = kmeans(x, 4, seed=0)
    # Same partition up to relabelling: each true cluster maps to exactly one distinct label.
    mapping = {t: set(labels[truth == t]) for t in range(4)}
    assert all(len(v) == 1 for v in mapping.values())
    assert len(set.union(*mapping.values())) == 4
    for t in range(4):
        (label,) = mapping[t]
        np.testing.assert_allclose(centroids[label], CENTRES[t], atol=0.2)


def test_kmeans_is_deterministic_and_fills_every_cluster():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 3))
    c1, l1 = kmeans(x, 7, seed=3)
    c2, l2 = kmeans(x, 7, seed=3)
    np.testing.assert_array_equal(c1, c2)
    np.testing.assert_array_equal(l1, l2)
    assert np.all(np.bincount(l1, minlength=7) > 0)


def mixture(rng, n, dims=5, modes=8):
    centres = np.random.default_rng(123).normal(scale=8.0, size=(modes, dims))
    return centres[rng.integers(modes, size=n)] + rng.normal(size=(n, dims)), centres


def test_ndb_small_for_same_distribution_and_zero_for_same_samples():
    rng = np.random.default_rng(2)
    real, _ = mixture(rng, 1500)
    generated, _ = mixture(rng, 1500)
    result = ndb_score(real, generated, k=10, seed=0)
    # Under H0 each bin is flagged with probability alpha = 0.05.
    assert result["ndb_k"] <= 0.3
    assert ndb_score(real, real, k=10)["ndb"] == 0
    np.testing.assert_allclose(result["real_proportions"].sum(), 1.0)


def test_ndb_large_for_mode_collapse():
    rng = np.random.default_rng(3)
    real, centres = mixture(rng, 1500)
    collapsed = centres[0] + rng.normal(size=(500, 5))
    result = ndb_score(real, collapsed, k=10, seed=0)
    assert result["ndb_k"] >= 0.9
    assert result["different"].sum() == result["ndb"]


def test_ndb_z_test_by_hand():
    # Two bins on a line: real 60/40, generated 30/70. Pooled p = 0.45,
    # se = sqrt(0.45 * 0.55 * (1/100 + 1/100)) = 0.0703562, z = 0.3 / se = 4.2640.
    rng = np.random.default_rng(4)
    real = np.concatenate([rng.normal(0, 1, 60), rng.normal(100, 1, 40)])[:, None]
    generated = np.concatenate([rng.normal(0, 1, 30), rng.normal(100, 1, 70)])[:, None]
    result = ndb_score(real, generated, k=2, standardize=False)
    low = int(np.argmin(result["centroids"][:, 0]))
    assert result["real_proportions"][low] == pytest.approx(0.6)
    assert result["generated_proportions"][low] == pytest.approx(0.3)
    assert abs(result["z_scores"][low]) == pytest.approx(0.3 / np.sqrt(0.45 * 0.55 * 0.02))
    assert result["ndb"] == 2 and result["ndb_k"] == 1.0
    # With alpha = 1e-6 the critical |z| is 4.89 > 4.26: no bin is flagged.
    assert ndb_score(real, generated, k=2, alpha=1e-6, standardize=False)["ndb"] == 0


def test_ndb_with_pca_still_detects_collapse():
    rng = np.random.default_rng(5)
    real, centres = mixture(rng, 800, dims=20)
    collapsed = centres[2] + rng.normal(size=(300, 20))
    assert ndb_score(real, collapsed, k=8, pca_dim=5)["ndb_k"] >= 0.75


def test_ndb_rejects_bad_input():
    with pytest.raises(MetricInputError, match="real: expected at least 50 rows"):
        ndb_score(np.ones((10, 3)), np.ones((10, 3)))
    with pytest.raises(MetricInputError, match="feature dimension"):
        ndb_score(np.ones((60, 3)), np.ones((10, 4)))
    with pytest.raises(MetricInputError, match="generated: expected finite"):
        ndb_score(np.ones((60, 3)), np.full((10, 3), np.nan))
    with pytest.raises(MetricInputError, match="pca_dim"):
        ndb_score(np.ones((60, 3)), np.ones((10, 3)), pca_dim=7)


def test_log_spectrogram_features_shape_and_sine_energy():
    sr, freq = 16000, 1000.0
    t = np.arange(4096) / sr
    waves = np.stack([np.sin(2 * np.pi * freq * t), 0.1 * np.sin(2 * np.pi * 3000 * t)])
    feats = log_spectrogram_features(waves, sr)
    frames = 1 + 4096 // 256
    assert feats.shape == (2, 64 * frames) and np.all(np.isfinite(feats))
    # The loudest mel band of the 1 kHz sine is the one whose centre is closest to 1 kHz.
    band_energy = feats[0].reshape(64, frames).mean(axis=1)
    centres = librosa.mel_frequencies(n_mels=66, fmax=sr / 2)[1:-1]
    assert abs(int(np.argmax(band_energy)) - int(np.argmin(np.abs(centres - freq)))) <= 1


def test_ndb_reports_the_settings_it_ran_with():
    rng = np.random.default_rng(3)
    real, generated = rng.standard_normal((40, 3)), rng.standard_normal((30, 3))
    result = ndb_score(real, generated, k=4, alpha=0.01)
    assert (result["k"], result["alpha"]) == (4, 0.01)
    assert ndb_score(real, generated, k=4)["alpha"] == 0.05
