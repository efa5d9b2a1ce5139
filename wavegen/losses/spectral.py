"""Spectral reconstruction losses in JAX: multi-resolution STFT loss and log-mel L1.

STFT conventions (shared with the numpy versions in ``wavegen.eval.metrics``):

- Periodic Hann window of length ``n_fft`` (``scipy.signal.get_window('hann', n_fft)``, the
  librosa / ``torch.hann_window`` default), no ``win_length`` shorter than ``n_fft``.
- ``center=True`` (default) reflect-pads ``n_fft // 2`` samples on both sides, as
  ``torch.stft`` does in Parallel WaveGAN and RAVE, so frame ``t`` is centred on sample
  ``t * hop``; the number of frames is ``1 + T // hop``. Reflect padding needs ``T > n_fft // 2``.
  Note librosa >= 0.10 pads with zeros by default; pass ``pad_mode='reflect'`` there to match.
  ``center=False`` uses only whole frames inside the signal: ``1 + (T - n_fft) // hop`` frames.
- Magnitudes are ``sqrt(max(re^2 + im^2, MAG_FLOOR^2))``. The floor keeps the gradient of the
  square root finite on silent bins (it is zero there instead of NaN).
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

FFT_SIZES = (2048, 1024, 512, 256, 128)
# sqrt(1e-7), the power clamp of Parallel WaveGAN's stft(); ~-70 dB relative to a full-scale bin.
MAG_FLOOR = float(np.sqrt(1e-7))


def hann_window(n_fft: int) -> np.ndarray:
    """Periodic Hann window (the DFT-even form used for spectral analysis).

    Returns:
        [n_fft] float32 ``0.5 - 0.5 cos(2 pi n / n_fft)``.
    """
    n = np.arange(n_fft, dtype=np.float64)
    return (0.5 - 0.5 * np.cos(2.0 * np.pi * n / n_fft)).astype(np.float32)


def frame(x: jax.Array, frame_length: int, hop_length: int) -> jax.Array:
    """Slices overlapping frames along the last axis (no padding).

    Args:
        x: [..., T] signal with ``T >= frame_length``.
        frame_length: samples per frame.
        hop_length: samples between frame starts.

    Returns:
        [..., 1 + (T - frame_length) // hop_length, frame_length].
    """
    if frame_length < 1 or hop_length < 1:
        raise ValueError(
            f"frame: frame_length and hop_length must be >= 1; got {frame_length}, {hop_length}"
        )
    length = x.shape[-1]
    if length < frame_length:
        raise ValueError(
            f"frame: signal length {length} is shorter than frame_length {frame_length}"
        )
    num_frames = 1 + (length - frame_length) // hop_length
    if frame_length % hop_length == 0:
        # Cheap path (hop divides the frame, e.g. hop = n_fft / 4): cut the signal into hop-sized
        # chunks and concatenate shifted chunk sequences. Only reshapes and slices, so the
        # backward pass avoids the scatter-add a gather would need.
        per_frame = frame_length // hop_length
        num_chunks = num_frames + per_frame - 1
        chunks = x[..., : num_chunks * hop_length].reshape(*x.shape[:-1], num_chunks, hop_length)
        return jnp.concatenate(
            [chunks[..., i : i + num_frames, :] for i in range(per_frame)], axis=-1
        )
    index = (
        np.arange(num_frames)[:, None] * hop_length + np.arange(frame_length)[None, :]
    )  # [frames, frame_length], a trace-time constant
    return x[..., index]


def stft_magnitude(
    x: jax.Array, n_fft: int, hop_length: int | None = None, *, center: bool = True
) -> jax.Array:
    """Magnitude STFT with a periodic Hann window (conventions in the module docstring).

    Args:
        x: [..., T] float waveform.
        n_fft: FFT size and window length.
        hop_length: frame step; defaults to ``n_fft // 4``.
        center: reflect-pad ``n_fft // 2`` on both sides so frames are centred.

    Returns:
        [..., frames, n_fft // 2 + 1] float32 magnitudes (>= ``MAG_FLOOR``).

    Raises:
        ValueError: the signal is too short for ``n_fft`` (and the padding).
    """
    hop_length = hop_length or n_fft // 4
    x = jnp.asarray(x)
    x = x.astype(jnp.promote_types(x.dtype, jnp.float32))
    length = x.shape[-1]
    if center:
        pad = n_fft // 2
        if length <= pad:
            raise ValueError(
                f"stft_magnitude: reflect padding needs more than n_fft // 2 = {pad} samples; "
                f"got T={length} (use a smaller n_fft)"
            )
        x = jnp.pad(x, [(0, 0)] * (x.ndim - 1) + [(pad, pad)], mode="reflect")
    elif length < n_fft:
        raise ValueError(f"stft_magnitude: center=False needs T >= n_fft={n_fft}; got T={length}")
    frames = frame(x, n_fft, hop_length) * jnp.asarray(hann_window(n_fft), dtype=x.dtype)
    spec = jnp.fft.rfft(frames, axis=-1)
    power = jnp.square(spec.real) + jnp.square(spec.imag)
    return jnp.sqrt(jnp.maximum(power, MAG_FLOOR**2))


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


def mel_filterbank(
    sample_rate: int,
    n_fft: int,
    n_mels: int = 80,
    fmin: float = 0.0,
    fmax: float | None = None,
) -> np.ndarray:
    """Slaney-normalised mel filterbank from librosa, computed once in numpy.

    Pass the result to :func:`log_mel_l1`; under ``jit`` it becomes a constant.

    Returns:
        [n_mels, n_fft // 2 + 1] float32.
    """
    import librosa  # imported lazily: librosa (numba) is slow to import and only needed here

    return librosa.filters.mel(
        sr=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax
    ).astype(np.float32)


def log_mel_spectrogram(
    x: jax.Array,
    mel_basis: np.ndarray | jax.Array,
    hop_length: int | None = None,
    *,
    eps: float = 1e-5,
    center: bool = True,
) -> jax.Array:
    """Natural-log mel magnitude spectrogram ``log(M |STFT(x)| + eps)``.

    Args:
        x: [..., T] waveform.
        mel_basis: [n_mels, n_fft // 2 + 1] from :func:`mel_filterbank`; ``n_fft`` is inferred
            from its second dimension.
        hop_length: defaults to ``n_fft // 4``.

    Returns:
        [..., frames, n_mels] float32.
    """
    mel_basis = jnp.asarray(mel_basis, jnp.float32)
    if mel_basis.ndim != 2:
        raise ValueError(
            f"log_mel_spectrogram: mel_basis must be [n_mels, n_fft // 2 + 1]; "
            f"got shape {mel_basis.shape}"
        )
    n_fft = 2 * (mel_basis.shape[1] - 1)
    mag = stft_magnitude(x, n_fft, hop_length, center=center)
    return jnp.log(jnp.einsum("...fk,mk->...fm", mag, mel_basis) + eps)


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
