"""Distribution and reconstruction metrics against closed forms and brute-force references."""

import math

import jax.numpy as jnp
import numpy as np
import pytest

from wavegen.audio.stft import mel_filterbank
from wavegen.eval.metrics import (
    frechet_distance,
    frechet_distance_from_statistics,
    inception_score,
    kernel_distance,
    mel_distance,
    multi_resolution_stft_distance,
    nearest_neighbour_distances,
    si_sdr,
)
from wavegen.eval.validation import MetricInputError
from wavegen.losses.spectral import log_mel_l1, multi_resolution_stft_loss

# ---- inception score -------------------------------------------------------------------------


def test_inception_score_of_identical_uniform_predictions_is_one():
    mean, std = inception_score(np.full((20, 5), 0.2), num_splits=4)
    assert mean == pytest.approx(1.0, abs=1e-12) and std == pytest.approx(0.0, abs=1e-12)


def test_inception_score_of_confident_balanced_predictions_is_num_classes():
    k = 5
    probs = np.eye(k)[np.arange(100) % k]  # each split of 10 holds every class twice
    mean, std = inception_score(probs, num_splits=10)
    assert mean == pytest.approx(k) and std == pytest.approx(0.0, abs=1e-9)


def test_inception_score_std_over_splits_by_hand():
    probs = np.array([[1.0, 0.0], [0.0, 1.0], [0.8, 0.2], [0.2, 0.8]])
    # Split 1: marginal [.5, .5], each KL = log 2 -> score 2.
    # Split 2: marginal [.5, .5], each KL = .8 log 1.6 + .2 log .4 -> score exp(that).
    s1 = 2.0
    s2 = math.exp(0.8 * math.log(1.6) + 0.2 * math.log(0.4))
    mean, std = inception_score(probs, num_splits=2)
    assert mean == pytest.approx((s1 + s2) / 2)
    assert std == pytest.approx(abs(s1 - s2) / 2)


def test_inception_score_rejects_bad_input():
    with pytest.raises(MetricInputError, match="at least 10 rows"):
        inception_score(np.full((5, 2), 0.5))
    with pytest.raises(MetricInputError, match="softmax"):
        inception_score(np.full((10, 2), 0.7), num_splits=2)
    with pytest.raises(MetricInputError, match="probs: expected finite"):
        inception_score(np.array([[np.nan, 1.0], [0.5, 0.5]]), num_splits=1)
    with pytest.raises(MetricInputError, match="probs: expected shape"):
        inception_score(np.full(10, 0.1), num_splits=1)
    with pytest.raises(MetricInputError, match="non-empty"):
        inception_score(np.zeros((0, 3)), num_splits=1)


# ---- Fréchet distance ------------------------------------------------------------------------


def fd_by_eigenvalues(a, b):
    """Independent FD: Tr (S_a S_b)^1/2 = sum sqrt(eig(S_a^1/2 S_b S_a^1/2)), all symmetric."""
    mu_a, mu_b = a.mean(0), b.mean(0)
    s_a, s_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    w, v = np.linalg.eigh(s_a)
    root_a = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    inner = np.linalg.eigvalsh(root_a @ s_b @ root_a)
    tr_sqrt = np.sum(np.sqrt(np.clip(inner, 0, None)))
    return np.sum((mu_a - mu_b) ** 2) + np.trace(s_a) + np.trace(s_b) - 2 * tr_sqrt


def test_frechet_distance_identical_sets_and_pure_mean_shift():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(200, 6)) @ rng.normal(size=(6, 6))
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-7)
    delta = np.array([1.0, -2.0, 0.5, 0.0, 3.0, 1.0])
    assert frechet_distance(a, a + delta) == pytest.approx(np.sum(delta**2), rel=1e-6)


def test_frechet_distance_closed_form_for_diagonal_gaussians():
    mu_a, mu_b = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    var_a, var_b = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 0.25])
    expected = np.sum((mu_a - mu_b) ** 2) + np.sum((np.sqrt(var_a) - np.sqrt(var_b)) ** 2)
    got = frechet_distance_from_statistics(mu_a, np.diag(var_a), mu_b, np.diag(var_b))
    assert got == pytest.approx(expected, rel=1e-9)  # 5 + (1 + 1 + 6.25)


def test_frechet_distance_matches_eigenvalue_computation():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(300, 8)) @ rng.normal(size=(8, 8))
    b = rng.normal(size=(250, 8)) @ rng.normal(size=(8, 8)) + 0.3
    assert frechet_distance(a, b) == pytest.approx(fd_by_eigenvalues(a, b), rel=1e-6)


def test_frechet_distance_with_singular_covariances_is_finite_and_close():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(6, 12)), rng.normal(size=(7, 12)) + 0.1  # rank < F
    got = frechet_distance(a, b)
    assert np.isfinite(got)
    assert got == pytest.approx(fd_by_eigenvalues(a, b), rel=1e-3)


def test_frechet_distance_rejects_bad_input():
    with pytest.raises(MetricInputError, match="feats_a has feature dimension 3 but feats_b has 4"):
        frechet_distance(np.ones((5, 3)), np.ones((5, 4)))
    with pytest.raises(MetricInputError, match="feats_b: expected at least 2 rows"):
        frechet_distance(np.ones((5, 3)), np.ones((1, 3)))
    with pytest.raises(MetricInputError, match="feats_a: expected finite"):
        frechet_distance(np.array([[np.inf, 0.0], [1.0, 1.0]]), np.ones((3, 2)))


# ---- kernel distance -------------------------------------------------------------------------


def mmd2_brute_force(x, y, gamma, degree=3, coef=1.0):
    def k(u, v):
        return (gamma * np.dot(u, v) + coef) ** degree

    m = len(x)
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m)) / (m * m)
    return xx + yy - 2 * xy


def test_kernel_distance_matches_brute_force_unbiased_mmd():
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(12, 4)), rng.normal(size=(12, 4)) + 0.5
    # subset_size >= N: each subset is a permutation of the whole set; MMD^2 ignores order.
    mean, std = kernel_distance(a, b, num_subsets=3, subset_size=50)
    assert mean == pytest.approx(mmd2_brute_force(a, b, gamma=1 / 4), rel=1e-9)
    assert std == pytest.approx(0.0, abs=1e-9)


def test_kernel_distance_near_zero_for_same_distribution_positive_for_shift():
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(600, 16)), rng.normal(size=(600, 16))
    same, same_std = kernel_distance(a, b, num_subsets=5, subset_size=300)
    shifted, _ = kernel_distance(a, b + 1.0, num_subsets=5, subset_size=300)
    assert abs(same) < 0.05 * shifted
    assert shifted > 10 * max(same_std, 1e-6) and shifted > 0


def test_kernel_distance_rejects_bad_input():
    with pytest.raises(MetricInputError, match="feature dimension"):
        kernel_distance(np.ones((5, 3)), np.ones((5, 2)))
    with pytest.raises(MetricInputError, match="num_subsets"):
        kernel_distance(np.ones((5, 3)), np.ones((5, 3)), num_subsets=0)


# ---- nearest neighbours ----------------------------------------------------------------------


def test_nearest_neighbour_distances_match_double_loop():
    rng = np.random.default_rng(5)
    x, ref = rng.normal(size=(30, 3)), rng.normal(size=(17, 3))
    x[7] = x[3]  # a duplicate has distance 0 to its twin, not to itself
    self_expected = np.mean(
        [min(np.linalg.norm(x[i] - x[j]) for j in range(len(x)) if j != i) for i in range(len(x))]
    )
    train_expected = np.mean([min(np.linalg.norm(xi - r) for r in ref) for xi in x])
    # chunk_size=4 exercises the block boundaries of the diagonal exclusion.
    assert nearest_neighbour_distances(x, chunk_size=4) == pytest.approx(self_expected, rel=1e-9)
    assert nearest_neighbour_distances(x, ref, chunk_size=4) == pytest.approx(
        train_expected, rel=1e-9
    )


def test_nearest_neighbour_distances_rejects_bad_input():
    with pytest.raises(MetricInputError, match="feats: expected at least 2 rows"):
        nearest_neighbour_distances(np.ones((1, 3)))
    with pytest.raises(MetricInputError, match="reference has 2"):
        nearest_neighbour_distances(np.ones((4, 3)), np.ones((4, 2)))


# ---- SI-SDR ----------------------------------------------------------------------------------


def test_si_sdr_scaled_copy_is_very_large():
    rng = np.random.default_rng(6)
    s = rng.normal(size=(3, 1000))
    assert np.all(si_sdr(s, 0.3 * s + 2.0) > 100)
    assert np.all(si_sdr(s, s) > 100)


def test_si_sdr_with_orthogonal_noise_of_known_level():
    rng = np.random.default_rng(7)
    s = rng.normal(size=(2, 4000))
    s -= s.mean(axis=1, keepdims=True)
    n = rng.normal(size=(2, 4000))
    n -= n.mean(axis=1, keepdims=True)
    n -= (np.sum(n * s, axis=1) / np.sum(s * s, axis=1))[:, None] * s  # n ⟂ s
    n *= (0.1 * np.linalg.norm(s, axis=1) / np.linalg.norm(n, axis=1))[:, None]
    # alpha = 1 and ||noise|| = 0.1 ||s||: 10 log10(1 / 0.01) = 20 dB, for any gain on ŝ.
    np.testing.assert_allclose(si_sdr(s, s + n), [20.0, 20.0], atol=1e-9)
    np.testing.assert_allclose(si_sdr(s, -5 * (s + n)), [20.0, 20.0], atol=1e-9)
    assert si_sdr(s[0], s[0] + n[0]).shape == ()


def test_si_sdr_rejects_bad_input():
    with pytest.raises(MetricInputError, match="constant"):
        si_sdr(np.ones((2, 10)), np.zeros((2, 10)))
    with pytest.raises(MetricInputError, match="same shape"):
        si_sdr(np.ones((2, 10)), np.ones((2, 9)))


# ---- spectral distances ----------------------------------------------------------------------


@pytest.fixture
def waves():
    rng = np.random.default_rng(8)
    y = (0.3 * rng.normal(size=(2, 2000))).astype(np.float32)
    return (y + 0.1 * rng.normal(size=y.shape)).astype(np.float32), y


def test_multi_resolution_stft_distance_agrees_with_jax_loss(waves):
    x, y = waves
    sizes = (512, 128)
    got = multi_resolution_stft_distance(x, y, sizes)
    assert got == pytest.approx(float(multi_resolution_stft_loss(x, y, sizes)), rel=1e-4)
    assert multi_resolution_stft_distance(y, y, sizes) == 0.0


def test_mel_distance_agrees_with_jax_loss(waves):
    x, y = waves
    got = mel_distance(x, y, 16000, n_fft=256, hop_length=64, n_mels=40)
    basis = mel_filterbank(16000, n_fft=256, n_mels=40)
    assert got == pytest.approx(float(log_mel_l1(jnp.asarray(x), jnp.asarray(y), basis, 64)), 1e-3)
    assert mel_distance(y, y, 16000, n_fft=256, hop_length=64, n_mels=40) == 0.0


def test_spectral_distances_reject_bad_input(waves):
    x, y = waves
    with pytest.raises(MetricInputError, match="same shape"):
        multi_resolution_stft_distance(x, y[:, :100])
    with pytest.raises(MetricInputError, match="too short"):
        multi_resolution_stft_distance(x, y, (8192,))
    with pytest.raises(MetricInputError, match="sample_rate"):
        mel_distance(x, y, 0)


def test_frechet_distance_regularises_when_sqrtm_fails(monkeypatch):
    import scipy.linalg

    real_sqrtm = scipy.linalg.sqrtm
    calls = []

    def failing_once(matrix):
        calls.append(matrix)
        return np.full_like(matrix, np.nan) if len(calls) == 1 else real_sqrtm(matrix)

    monkeypatch.setattr(scipy.linalg, "sqrtm", failing_once)
    rng = np.random.default_rng(9)
    a, b = rng.normal(size=(50, 4)), rng.normal(size=(50, 4)) + 1.0
    got = frechet_distance(a, b)
    assert len(calls) == 2  # retried with eps * I on both covariances
    assert got == pytest.approx(fd_by_eigenvalues(a, b), rel=1e-5)


def test_kernel_distance_defaults_to_100_subsets_of_1000():
    """Bińkowski et al.'s KID settings: the default is the explicit 100 x 1000 computation."""
    from wavegen.eval.metrics import KID_NUM_SUBSETS, KID_SUBSET_SIZE

    assert (KID_NUM_SUBSETS, KID_SUBSET_SIZE) == (100, 1000)
    rng = np.random.default_rng(5)
    a, b = rng.standard_normal((30, 4)), rng.standard_normal((25, 4)) + 0.5
    default = kernel_distance(a, b, seed=2)
    assert default == kernel_distance(a, b, num_subsets=100, subset_size=1000, seed=2)
    # 100 rounds of the seeded draws, written out: the mean of their brute-force MMD^2.
    draws = np.random.default_rng(2)
    rounds = []
    for _ in range(100):
        x, y = a[draws.choice(30, 25, replace=False)], b[draws.choice(25, 25, replace=False)]
        rounds.append(mmd2_brute_force(x, y, gamma=1 / 4))
    assert default[0] == pytest.approx(np.mean(rounds), rel=1e-9)
    assert default[1] == pytest.approx(np.std(rounds), rel=1e-6)
