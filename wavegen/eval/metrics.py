"""Sample-quality metrics on precomputed arrays (numpy; no downloaded models).

Distribution metrics take classifier outputs or features computed elsewhere:

- :func:`inception_score` (Salimans et al. 2016) from class probabilities.
- :func:`frechet_distance` (FID/FAD, Heusel et al. 2017) and :func:`kernel_distance` (KID,
  Bińkowski et al. 2018) between two feature sets.
- :func:`nearest_neighbour_distances`: |D|self and |D|train in a given feature space (the
  evaluation reports them in classifier space as ``nn_*_classifier``; the reference-code
  |D| on log-mels is :mod:`wavegen.eval.similarity`).

Reconstruction metrics compare waveforms pairwise: :func:`si_sdr` (Le Roux et al. 2019),
:func:`multi_resolution_stft_distance` and :func:`mel_distance` (numpy/librosa mirrors of the
training losses in ``wavegen.losses.spectral``, with the same conventions).

Every function raises :class:`~wavegen.eval.validation.MetricInputError` (a ``ValueError``)
naming the argument on empty, mis-shaped or non-finite input. Accumulation is in float64.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import scipy.linalg
import scipy.special

from wavegen.audio.stft import FFT_SIZES, log_mel_spectrogram_np, stft_magnitude_np
from wavegen.eval.validation import (
    MetricInputError,
    check_array,
    check_same_shape,
    check_same_width,
)

# ---------------------------------------------------------------------------------------------
# Distribution metrics
# ---------------------------------------------------------------------------------------------


def inception_score(probs: np.ndarray, num_splits: int = 10) -> tuple[float, float]:
    """Inception score ``exp(E_x KL(p(y|x) || p(y)))``, mean and std over splits.

    As in the reference implementation, the N examples are cut into ``num_splits`` contiguous
    parts (``np.array_split``), ``p(y)`` is the mean prediction of each part, and the std is
    the population std (ddof=0) of the per-part scores. Ranges from 1 (every prediction equal)
    to K (confident predictions spread evenly over K classes).

    Args:
        probs: [N, K] softmax outputs of a classifier on generated examples (rows sum to 1).
        num_splits: number of parts; needs ``N >= num_splits``.

    Returns:
        ``(mean, std)`` of the per-split scores.
    """
    if num_splits < 1:
        raise MetricInputError(f"num_splits: expected >= 1; got {num_splits}")
    p = check_array("probs", probs, min_rows=num_splits, expected="[N, K] class probabilities")
    row_sums = p.sum(axis=1)
    if np.any(p < 0) or not np.allclose(row_sums, 1.0, atol=1e-3):
        raise MetricInputError(
            "probs: expected softmax outputs (non-negative rows summing to 1); got row sums in "
            f"[{row_sums.min():.4g}, {row_sums.max():.4g}] and min {p.min():.4g}"
        )
    scores = []
    for part in np.array_split(p, num_splits):
        marginal = part.mean(axis=0, keepdims=True)
        # rel_entr(x, y) = x log(x / y) with 0 log 0 = 0, so one-hot rows are fine.
        kl = scipy.special.rel_entr(part, marginal).sum(axis=1)
        scores.append(np.exp(kl.mean()))
    return float(np.mean(scores)), float(np.std(scores))


def feature_statistics(feats: np.ndarray, name: str = "feats") -> tuple[np.ndarray, np.ndarray]:
    """Mean and unbiased covariance of a feature set (cache these for the training set).

    Args:
        feats: [N, F] features, N >= 2.

    Returns:
        ``(mu [F], sigma [F, F])``.
    """
    x = check_array(name, feats, min_rows=2)
    return x.mean(axis=0), np.atleast_2d(np.cov(x, rowvar=False))


def frechet_distance_from_statistics(
    mu_a: np.ndarray,
    sigma_a: np.ndarray,
    mu_b: np.ndarray,
    sigma_b: np.ndarray,
    eps: float = 1e-6,
) -> float:
    """Fréchet distance between N(mu_a, sigma_a) and N(mu_b, sigma_b).

    ``||mu_a - mu_b||^2 + Tr(sigma_a + sigma_b - 2 (sigma_a sigma_b)^{1/2})``. The square root
    comes from ``scipy.linalg.sqrtm``; if it is non-finite or inaccurate (singular covariances,
    e.g. fewer examples than feature dimensions) both covariances get ``eps * I`` added and it is
    recomputed. Its imaginary part (round-off; the product of two PSD matrices has real
    non-negative eigenvalues) is dropped, with a warning if it is not negligible.

    Args:
        mu_a: [F] mean; sigma_a: [F, F] covariance; likewise for b.
        eps: diagonal regulariser used only when the plain square root fails.

    Returns:
        The distance (clipped at 0: small negatives are round-off).
    """
    mu_a = check_array("mu_a", mu_a, ndim=1, expected="[F]")
    mu_b = check_array("mu_b", mu_b, ndim=1, expected="[F]")
    sigma_a = check_array("sigma_a", sigma_a, expected="[F, F]")
    sigma_b = check_array("sigma_b", sigma_b, expected="[F, F]")
    check_same_width("mu_a", mu_a, "mu_b", mu_b)
    for name, sigma in (("sigma_a", sigma_a), ("sigma_b", sigma_b)):
        if sigma.shape != (mu_a.size, mu_a.size):
            raise MetricInputError(
                f"{name}: expected shape ({mu_a.size}, {mu_a.size}) to match the means; "
                f"got {sigma.shape}"
            )

    def sqrt_product(sa: np.ndarray, sb: np.ndarray) -> tuple[np.ndarray, bool]:
        product = sa @ sb
        with warnings.catch_warnings():
            # Older scipy prints a warning for singular input; we check the result ourselves.
            warnings.simplefilter("ignore")
            root = scipy.linalg.sqrtm(product)
        if not np.all(np.isfinite(root)):
            return root, False
        scale = max(np.linalg.norm(product), np.finfo(np.float64).tiny)
        return root, np.linalg.norm(root @ root - product) / scale < 1e-5

    covmean, ok = sqrt_product(sigma_a, sigma_b)
    if not ok:
        offset = eps * np.eye(mu_a.size)
        covmean, ok = sqrt_product(sigma_a + offset, sigma_b + offset)
        if not np.all(np.isfinite(covmean)):
            raise MetricInputError(
                "frechet_distance: the covariance square root is not finite even with eps "
                f"= {eps} on the diagonal; the features may be degenerate"
            )
    if np.iscomplexobj(covmean):
        imag = np.max(np.abs(covmean.imag))
        if imag > 1e-3 * max(1.0, np.max(np.abs(covmean.real))):
            warnings.warn(
                f"frechet_distance: dropping a large imaginary part ({imag:.3g}) of the "
                "covariance square root; the result may be inaccurate",
                RuntimeWarning,
                stacklevel=2,
            )
        covmean = covmean.real
    diff = mu_a - mu_b
    distance = diff @ diff + np.trace(sigma_a) + np.trace(sigma_b) - 2.0 * np.trace(covmean)
    return float(max(distance, 0.0))


def frechet_distance(feats_a: np.ndarray, feats_b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (FID / FAD).

    Args:
        feats_a: [N_a, F] features, N_a >= 2.
        feats_b: [N_b, F] features, N_b >= 2.

    Returns:
        See :func:`frechet_distance_from_statistics`.
    """
    mu_a, sigma_a = feature_statistics(feats_a, "feats_a")
    mu_b, sigma_b = feature_statistics(feats_b, "feats_b")
    if mu_a.size != mu_b.size:
        raise MetricInputError(
            f"feats_a has feature dimension {mu_a.size} but feats_b has {mu_b.size}; "
            "expected the same"
        )
    return frechet_distance_from_statistics(mu_a, sigma_a, mu_b, sigma_b)


# Bińkowski et al. 2018 ("Demystifying MMD GANs") and their reference code: 100 subsets of
# 1000 examples; more subsets shrink the estimate's variance across seeds.
KID_NUM_SUBSETS = 100
KID_SUBSET_SIZE = 1000


def _polynomial_kernel(
    x: np.ndarray, y: np.ndarray, degree: int, gamma: float, coef: float
) -> np.ndarray:
    return (gamma * (x @ y.T) + coef) ** degree


def kernel_distance(
    feats_a: np.ndarray,
    feats_b: np.ndarray,
    *,
    degree: int = 3,
    gamma: float | None = None,
    coef: float = 1.0,
    num_subsets: int = KID_NUM_SUBSETS,
    subset_size: int = KID_SUBSET_SIZE,
    seed: int = 0,
) -> tuple[float, float]:
    """Kernel distance (KID): unbiased MMD^2 with ``k(x, y) = (gamma <x, y> + coef)^degree``.

    Each of ``num_subsets`` rounds draws ``m = min(subset_size, N_a, N_b)`` rows from each set
    without replacement and computes the unbiased estimator
    ``sum_{i!=j} k(a_i, a_j) / (m(m-1)) + sum_{i!=j} k(b_i, b_j) / (m(m-1))
    - 2 sum_{i,j} k(a_i, b_j) / m^2``. Unbiased, so it can be slightly negative when the sets
    come from the same distribution.

    Args:
        feats_a: [N_a, F] features.
        feats_b: [N_b, F] features.
        degree, gamma, coef: kernel parameters; ``gamma`` defaults to ``1 / F``.
        num_subsets: number of rounds (100, as Bińkowski et al.).
        subset_size: rows per round (1000, reduced to the smaller set's size).
        seed: seed of the subset draws.

    Returns:
        ``(mean, std)`` of the per-round MMD^2 (std with ddof=0).
    """
    if num_subsets < 1:
        raise MetricInputError(f"num_subsets: expected >= 1; got {num_subsets}")
    if subset_size < 2:
        raise MetricInputError(f"subset_size: expected >= 2; got {subset_size}")
    a = check_array("feats_a", feats_a, min_rows=2)
    b = check_array("feats_b", feats_b, min_rows=2)
    check_same_width("feats_a", a, "feats_b", b)
    gamma = 1.0 / a.shape[1] if gamma is None else gamma
    m = min(subset_size, len(a), len(b))
    rng = np.random.default_rng(seed)
    estimates = []
    for _ in range(num_subsets):
        x = a[rng.choice(len(a), m, replace=False)]
        y = b[rng.choice(len(b), m, replace=False)]
        k_xx = _polynomial_kernel(x, x, degree, gamma, coef)
        k_yy = _polynomial_kernel(y, y, degree, gamma, coef)
        k_xy = _polynomial_kernel(x, y, degree, gamma, coef)
        within = (k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
        estimates.append(within - 2.0 * k_xy.mean())
    return float(np.mean(estimates)), float(np.std(estimates))


def nearest_neighbour_distances(
    feats: np.ndarray, reference: np.ndarray | None = None, *, chunk_size: int = 1024
) -> float:
    """Mean Euclidean distance to the nearest neighbour (WaveGAN paper, Donahue et al. 2019).

    ``reference=None`` gives |D|self: each example's distance to its nearest *other* example
    in ``feats`` (low values indicate mode collapse). With a reference set it gives |D|train:
    each example's distance to its nearest example in ``reference`` (low values indicate
    memorisation of the training data).

    Args:
        feats: [N, F] features of generated examples (N >= 2 when ``reference`` is None).
        reference: [M, F] features of training examples, or None.
        chunk_size: rows of ``feats`` per distance block (bounds memory to chunk_size x M).

    Returns:
        Mean nearest-neighbour distance.
    """
    x = check_array("feats", feats, min_rows=1 if reference is not None else 2)
    if reference is None:
        ref = x
    else:
        ref = check_array("reference", reference)
        check_same_width("feats", x, "reference", ref)
    ref_sq = np.sum(ref**2, axis=1)
    nearest = np.empty(len(x))
    for start in range(0, len(x), chunk_size):
        block = x[start : start + chunk_size]
        # ||a - b||^2 = ||a||^2 + ||b||^2 - 2 a.b; clip the small negatives of round-off.
        sq = np.sum(block**2, axis=1)[:, None] + ref_sq[None, :] - 2.0 * block @ ref.T
        if reference is None:
            rows = np.arange(len(block))
            sq[rows, start + rows] = np.inf  # exclude the example itself
        nearest[start : start + len(block)] = np.sqrt(np.maximum(sq.min(axis=1), 0.0))
    return float(nearest.mean())


# ---------------------------------------------------------------------------------------------
# Reconstruction metrics
# ---------------------------------------------------------------------------------------------


def si_sdr(reference: np.ndarray, estimate: np.ndarray) -> np.ndarray:
    """Scale-invariant signal-to-distortion ratio in dB (Le Roux et al. 2019).

    Both signals are made zero-mean, then with ``alpha = <s, ŝ> / ||s||^2``:
    ``SI-SDR = 10 log10(||alpha s||^2 / ||alpha s - ŝ||^2)``. Energies are floored at
    ``float64 eps * ||s||^2`` so an exact (scaled) copy gives a large finite value (~156 dB)
    instead of inf.

    Args:
        reference: [N, T] (or [T]) clean signals s.
        estimate: same shape, estimates ŝ.

    Returns:
        [N] (or []) SI-SDR in dB.

    Raises:
        MetricInputError: shapes differ, inputs are empty/non-finite, or a reference is
            constant (zero energy after removing the mean, where SI-SDR is undefined).
    """
    s = check_array("reference", reference, ndim=(1, 2), expected="[N, T] or [T]")
    s_hat = check_array("estimate", estimate, ndim=(1, 2), expected="[N, T] or [T]")
    check_same_shape("reference", s, "estimate", s_hat)
    s = s - s.mean(axis=-1, keepdims=True)
    s_hat = s_hat - s_hat.mean(axis=-1, keepdims=True)
    ref_energy = np.sum(s**2, axis=-1, keepdims=True)
    if np.any(ref_energy == 0):
        rows = np.flatnonzero(ref_energy.ravel() == 0).tolist()
        raise MetricInputError(
            f"reference: rows {rows[:10]} are constant (zero energy after removing the mean); "
            "SI-SDR is undefined for them"
        )
    alpha = np.sum(s * s_hat, axis=-1, keepdims=True) / ref_energy
    target = alpha * s
    floor = np.finfo(np.float64).eps * ref_energy[..., 0]
    target_energy = np.maximum(np.sum(target**2, axis=-1), floor)
    noise_energy = np.maximum(np.sum((s_hat - target) ** 2, axis=-1), floor)
    return 10.0 * np.log10(target_energy / noise_energy)


def _check_waveform_pair(estimate: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, ...]:
    est = check_array("estimate", estimate, ndim=(1, 2), expected="[N, T] or [T]")
    ref = check_array("reference", reference, ndim=(1, 2), expected="[N, T] or [T]")
    check_same_shape("estimate", est, "reference", ref)
    return est, ref


def _stft_magnitude_np(x: np.ndarray, n_fft: int, hop_length: int) -> np.ndarray:
    if x.shape[-1] <= n_fft // 2:
        raise MetricInputError(
            f"waveforms of length {x.shape[-1]} are too short for n_fft={n_fft} "
            f"(reflect padding needs more than {n_fft // 2} samples)"
        )
    return stft_magnitude_np(x, n_fft, hop_length)


def multi_resolution_stft_distance(
    estimate: np.ndarray,
    reference: np.ndarray,
    fft_sizes: Sequence[int] = FFT_SIZES,
    *,
    hop_divisor: int = 4,
    eps: float = 1e-5,
) -> float:
    """Numpy mirror of ``wavegen.losses.spectral.multi_resolution_stft_loss``.

    Mean over resolutions of spectral convergence ``||S_ref - S_est||_F / ||S_ref||_F`` (over
    the whole batch) plus ``mean |log(S_ref + eps) - log(S_est + eps)|``; centred, reflect-padded
    periodic-Hann STFT with hop ``n_fft // hop_divisor`` and magnitudes floored at ``MAG_FLOOR``.

    Args:
        estimate: [N, T] or [T] generated / reconstructed waveforms.
        reference: same shape, reference waveforms (the denominator of spectral convergence).
        fft_sizes: FFT sizes; every size needs ``T > n_fft // 2``.

    Returns:
        The distance (0 for identical inputs).
    """
    est, ref = _check_waveform_pair(estimate, reference)
    if not fft_sizes:
        raise MetricInputError("fft_sizes: expected at least one FFT size; got none")
    total = 0.0
    for n_fft in fft_sizes:
        hop = max(1, n_fft // hop_divisor)
        mag_est = _stft_magnitude_np(est, n_fft, hop)
        mag_ref = _stft_magnitude_np(ref, n_fft, hop)
        total += np.linalg.norm(mag_ref - mag_est) / np.linalg.norm(mag_ref)
        total += np.mean(np.abs(np.log(mag_ref + eps) - np.log(mag_est + eps)))
    return float(total / len(fft_sizes))


def mel_distance(
    estimate: np.ndarray,
    reference: np.ndarray,
    sample_rate: int,
    *,
    n_fft: int = 1024,
    hop_length: int = 256,
    n_mels: int = 80,
    eps: float = 1e-5,
) -> float:
    """Mean |log mel(estimate) - log mel(reference)| (natural log of mel magnitudes + eps).

    Mirrors ``wavegen.losses.spectral.log_mel_l1`` (librosa Slaney mel filterbank applied to the
    centred, reflect-padded magnitude STFT), up to its magnitude floor.

    Args:
        estimate: [N, T] or [T] waveforms.
        reference: same shape.
        sample_rate: Hz, for the mel scale.

    Returns:
        The distance (0 for identical inputs).
    """
    est, ref = _check_waveform_pair(estimate, reference)
    if sample_rate <= 0:
        raise MetricInputError(f"sample_rate: expected a positive rate in Hz; got {sample_rate}")
    if est.shape[-1] <= n_fft // 2:
        raise MetricInputError(
            f"waveforms of length {est.shape[-1]} are too short for n_fft={n_fft}"
        )

    def log_mel(x: np.ndarray) -> np.ndarray:
        return log_mel_spectrogram_np(x, sample_rate, n_fft, hop_length, n_mels, eps)

    return float(np.mean(np.abs(log_mel(est) - log_mel(ref))))
