"""Spectral reconstruction losses in JAX: multi-resolution STFT loss and log-mel L1.

The STFT and mel conventions are :mod:`wavegen.audio.stft`'s (shared with the numpy distances of
``wavegen.eval.metrics``).
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from wavegen.audio.stft import FFT_SIZES, log_mel_spectrogram, stft_magnitude


def _check_pair(fn: str, pred: jax.Array, target: jax.Array) -> None:
    if pred.shape != target.shape:
        raise ValueError(
            f"{fn}: pred and target must have the same shape [..., T]; "
            f"got pred {pred.shape} and target {target.shape}"
        )
    if pred.ndim == 0 or pred.size == 0:
        raise ValueError(f"{fn}: expected non-empty waveforms [..., T]; got shape {pred.shape}")


def _frobenius_norm(a: jax.Array) -> jax.Array:
    """||a||_F with gradient 0 (not NaN, as from ``jnp.linalg.norm``) at a == 0.

    An exact reconstruction (a == 0) is a legitimate state for a VAE, so it must not poison the
    gradients of the other terms.
    """
    sq = jnp.sum(jnp.square(a))
    positive = sq > 0
    return jnp.where(positive, jnp.sqrt(jnp.where(positive, sq, 1.0)), 0.0)


def stft_loss(
    pred: jax.Array,
    target: jax.Array,
    n_fft: int,
    hop_length: int | None = None,
    *,
    eps: float = 1e-5,
    center: bool = True,
) -> tuple[jax.Array, jax.Array]:
    """Single-resolution STFT loss terms (Parallel WaveGAN, Yamamoto et al. 2020, eqs. 2-4).

    Args:
        pred: [..., T] generated / reconstructed waveform x.
        target: [..., T] reference waveform y.
        n_fft: FFT size; ``hop_length`` defaults to ``n_fft // 4``.
        eps: added inside the log so silent bins give log(eps), not -inf.
        center: see :func:`stft_magnitude`.

    Returns:
        ``(spectral_convergence, log_magnitude)``, both [] scalars.
        Spectral convergence is ``||S_y - S_x||_F / ||S_y||_F`` over the whole batch (as in
        Parallel WaveGAN; per-example ratios would blow up on a silent target); the log term is
        ``mean |log(S_y + eps) - log(S_x + eps)|``.
    """
    _check_pair("stft_loss", pred, target)
    mag_x = stft_magnitude(pred, n_fft, hop_length, center=center)
    mag_y = stft_magnitude(target, n_fft, hop_length, center=center)
    convergence = _frobenius_norm(mag_y - mag_x) / _frobenius_norm(mag_y)
    log_mag = jnp.mean(jnp.abs(jnp.log(mag_y + eps) - jnp.log(mag_x + eps)))
    return convergence, log_mag


def multi_resolution_stft_loss(
    pred: jax.Array,
    target: jax.Array,
    fft_sizes: Sequence[int] = FFT_SIZES,
    *,
    hop_divisor: int = 4,
    eps: float = 1e-5,
    center: bool = True,
) -> jax.Array:
    """Multi-resolution STFT loss: mean over resolutions of (spectral convergence + log term).

    Averaged (not summed, unlike RAVE) so the scale does not depend on how many resolutions are
    used. Zero iff the magnitudes agree at every resolution.

    Args:
        pred: [..., T] waveform x.
        target: [..., T] reference waveform y.
        fft_sizes: FFT sizes; each uses hop ``n_fft // hop_divisor`` and a Hann window of
            length ``n_fft``. Every size needs ``T > n_fft // 2`` (centred) or ``T >= n_fft``.
        hop_divisor: hop = ``n_fft // hop_divisor``.
        eps: see :func:`stft_loss`.
        center: see :func:`stft_magnitude`.

    Returns:
        [] scalar loss.
    """
    if not fft_sizes:
        raise ValueError("multi_resolution_stft_loss: fft_sizes is empty; expected >= 1 size")
    total = jnp.zeros((), jnp.float32)
    for n_fft in fft_sizes:
        sc, log_mag = stft_loss(
            pred, target, n_fft, max(1, n_fft // hop_divisor), eps=eps, center=center
        )
        total = total + sc + log_mag
    return total / len(fft_sizes)


def log_mel_l1(
    pred: jax.Array,
    target: jax.Array,
    mel_basis: np.ndarray | jax.Array,
    hop_length: int | None = None,
    *,
    eps: float = 1e-5,
    center: bool = True,
) -> jax.Array:
    """Mean absolute difference of log-mel spectrograms (HiFi-GAN's mel loss, natural log).

    Args:
        pred: [..., T] waveform.
        target: [..., T] reference waveform.
        mel_basis: [n_mels, n_fft // 2 + 1] from :func:`mel_filterbank`.
        hop_length: defaults to ``n_fft // 4``.
        eps: floor inside the log.

    Returns:
        [] scalar.
    """
    _check_pair("log_mel_l1", pred, target)
    return jnp.mean(
        jnp.abs(
            log_mel_spectrogram(pred, mel_basis, hop_length, eps=eps, center=center)
            - log_mel_spectrogram(target, mel_basis, hop_length, eps=eps, center=center)
        )
    )
