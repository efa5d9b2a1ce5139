"""SpecGAN's spectrogram features (Donahue et al. 2019, and its reference code's ``t_to_f`` /
``f_to_t``): normalised log-magnitude STFTs and their inversion by Griffin-Lim.

- STFT: n_fft 256, hop 128 (16 ms / 8 ms at 16 kHz), periodic Hann window, frames starting at
  sample 0 with the end zero-padded (TF's ``stft(pad_end=True)``): 16384 samples → 128 frames.
- The Nyquist bin is dropped: 129 → 128 frequency bins.
- log(|X| + 1e-6), then per-frequency-bin moments (mean, std) over the training set,
  (x - mean) / std, clipped at ±3 std and scaled by 1/3 into [-1, 1].
- Inverse: un-normalise → exp → magnitude (Nyquist bin set to 0) → Griffin-Lim from zero phase
  → waveform of the requested length. ``method='plain'`` (the default, and the paper configs')
  is the reference's ``invert_spectra_griffin_lim``: 16 iterations (its ``specgan_ngl``) of
  ISTFT → STFT → keep the phase ``X / max(|X|, 1e-8)`` with the target magnitude, starting
  from zero phase, the ISTFT keeping its full overlap-add length until the final crop.
  ``method='momentum'`` adds the 'fast' momentum of Perraudin et al. 2013 (0.99, as
  ``librosa.griffinlim``), which converges in fewer iterations. One deliberate difference from
  the reference: its TF ``inverse_stft`` has no window-sum normalisation, so its audio carries
  a 0.5–1 gain ripple at the hop rate; the ISTFT here is the least-squares inverse.

Layout: features are ``[N, time, freq]`` = [N, 128, 128], as the reference code and
``wavegen.models.specgan``. The STFT and its least-squares inverse are implemented here in numpy
(hop = n_fft / 2 makes overlap-add two shifted adds), so forward and inverse share exactly one
framing convention.
"""

from __future__ import annotations

import logging
import os
import uuid
from pathlib import Path

import numpy as np

from wavegen.data.dataset import AudioDataset
from wavegen.data.errors import AudioDataError

N_FFT = 256
HOP = 128
NUM_BINS = N_FFT // 2  # after dropping the Nyquist bin
LOG_EPS = 1e-6
CLIP_NSTD = 3.0
STD_FLOOR = 1e-3  # log-magnitude std of a bin that never varies (e.g. digital silence)
# ISTFT normaliser floor: the first ~26 samples (where only one window tapers in) fade in instead
# of dividing by ~0.
WINDOW_SUM_FLOOR = 1e-2
CHUNK = 256  # clips per STFT chunk: bounds the complex temporaries
MOMENTS_FILE = "spectral_moments.npz"
WINDOW = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)).astype(np.float32)
assert N_FFT == 2 * HOP  # istft's two-shifted-adds overlap-add relies on 50% overlap
log = logging.getLogger(__name__)


def num_frames(length: int) -> int:
    """STFT frames of a ``length``-sample signal (ceil(length / hop)); 16384 → 128."""
    return -(-length // HOP)


def stft(x: np.ndarray) -> np.ndarray:
    """x [N, T] float → [N, num_frames(T), N_FFT // 2 + 1] complex (frames from sample 0)."""
    n, t = x.shape
    frames = num_frames(t)
    padded = np.zeros((n, (frames - 1) * HOP + N_FFT), np.float32)
    padded[:, :t] = x
    windows = np.lib.stride_tricks.sliding_window_view(padded, N_FFT, axis=-1)[:, ::HOP]
    return np.fft.rfft(windows * WINDOW, axis=-1)


def istft(spec: np.ndarray, length: int) -> np.ndarray:
    """Least-squares inverse of :func:`stft`: [N, F, N_FFT // 2 + 1] complex → [N, length]."""
    n, f, _ = spec.shape
    frames = (np.fft.irfft(spec, n=N_FFT, axis=-1) * WINDOW).reshape(n, f, 2, HOP)
    out = np.zeros((n, f + 1, HOP), frames.dtype)
    out[:, :f] += frames[:, :, 0]
    out[:, 1:] += frames[:, :, 1]
    w2 = (WINDOW**2).reshape(2, HOP)
    norm = np.zeros((f + 1, HOP), np.float32)
    norm[:f] += w2[0]
    norm[1:] += w2[1]
    out /= np.maximum(norm, WINDOW_SUM_FLOOR)
    return out.reshape(n, -1)[:, :length]


def waveform_to_features(w: np.ndarray) -> np.ndarray:
    """Log-magnitude spectrograms, un-normalised.

    Args:
      w: [N, T] float32 waveforms (T = 16384 gives 128 frames).

    Returns:
      [N, num_frames(T), 128] float32: log(|STFT| + 1e-6), Nyquist bin dropped, [N, time, freq].
    """
    w = np.asarray(w)
    if w.ndim != 2:
        raise AudioDataError(f"waveform_to_features expects [N, T] waveforms, got {w.shape}")
    out = np.empty((w.shape[0], num_frames(w.shape[1]), NUM_BINS), np.float32)
    for i in range(0, w.shape[0], CHUNK):
        mag = np.abs(stft(np.asarray(w[i : i + CHUNK], np.float32))[..., :NUM_BINS])
        out[i : i + CHUNK] = np.log(mag + LOG_EPS)
    return out


def compute_moments(feats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-frequency-bin moments of log-magnitude features.

    Args:
      feats: [N, time, 128] from :func:`waveform_to_features` (the training set).

    Returns:
      (mean [128] float32, std [128] float32), over examples and frames; std >= 1e-3.
    """
    feats = np.asarray(feats)
    if feats.ndim != 3 or feats.shape[-1] != NUM_BINS:
        raise AudioDataError(f"compute_moments expects [N, time, {NUM_BINS}], got {feats.shape}")
    mean = feats.mean(axis=(0, 1), dtype=np.float64)
    std = feats.std(axis=(0, 1), dtype=np.float64)
    return mean.astype(np.float32), np.maximum(std, STD_FLOOR).astype(np.float32)


def normalize_features(feats: np.ndarray, moments: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """[N, time, 128] log-magnitudes → [N, time, 128] float32 in [-1, 1] (±3 std, scaled 1/3)."""
    mean, std = _check_moments(moments)
    return np.clip((feats - mean) / (CLIP_NSTD * std), -1.0, 1.0).astype(np.float32)


def denormalize_features(
    norm_feats: np.ndarray, moments: tuple[np.ndarray, np.ndarray]
) -> np.ndarray:
    """Inverse of :func:`normalize_features` (up to the clipping): [N, time, 128] log-magnitudes."""
    mean, std = _check_moments(moments)
    return (np.asarray(norm_feats, np.float32) * CLIP_NSTD * std + mean).astype(np.float32)


# Griffin-Lim variants by name (``model.griffin_lim``): their momentum.
GRIFFIN_LIM_MOMENTUM = {"plain": 0.0, "momentum": 0.99}
GRIFFIN_LIM_ITERS = 16  # the reference's specgan_ngl


def griffin_lim(
    magnitude: np.ndarray, length: int, n_iter: int = GRIFFIN_LIM_ITERS, momentum: float = 0.0
) -> np.ndarray:
    """Waveforms whose STFT magnitude approximates ``magnitude``.

    Args:
      magnitude: [N, frames, N_FFT // 2 + 1] non-negative.
      length: output samples.
      n_iter: iterations (SpecGAN uses 16).
      momentum: 'fast Griffin-Lim' momentum (0 = the classic algorithm, as the reference).

    Returns:
      [N, length] float32.
    """
    frames = magnitude.shape[1]
    full = (frames + 1) * HOP  # the overlap-add's own length; cropping inside the loop would
    # force the tail to zero, a constraint the target spectrogram does not have
    angles = np.ones(magnitude.shape, np.complex64)  # zero-phase start, as the reference code
    previous = np.zeros_like(angles)
    for _ in range(n_iter):
        # stft's end padding adds a frame to a full-length signal; the first `frames` are the
        # frames the reference's un-padded re-analysis gives.
        rebuilt = stft(istft(magnitude * angles, full))[:, :frames]
        angles = rebuilt - (momentum / (1 + momentum)) * previous if momentum else rebuilt
        angles /= np.maximum(np.abs(angles), 1e-8)
        previous = rebuilt
    return istft(magnitude * angles, length).astype(np.float32)


def features_to_waveform(
    norm_feats: np.ndarray,
    moments: tuple[np.ndarray, np.ndarray],
    n_iter: int = GRIFFIN_LIM_ITERS,
    length: int = 16384,
    *,
    method: str = "plain",
) -> np.ndarray:
    """Normalised features back to audio (un-normalise → magnitude → Griffin-Lim).

    Args:
      norm_feats: [N, time, 128] (or [N, time, 128, 1]) in [-1, 1].
      moments: (mean [128], std [128]) the features were normalised with.
      n_iter: Griffin-Lim iterations (``model.griffin_lim_iters``).
      length: output samples (T of the original waveforms).
      method: 'plain' (the reference's) or 'momentum' (fast Griffin-Lim), ``model.griffin_lim``.

    Returns:
      [N, length] float32 in [-1, 1].
    """
    if method not in GRIFFIN_LIM_MOMENTUM:
        raise AudioDataError(
            f"Griffin-Lim method must be one of {sorted(GRIFFIN_LIM_MOMENTUM)}, got {method!r}"
        )
    if not isinstance(n_iter, int | np.integer) or n_iter < 0:
        raise AudioDataError(f"Griffin-Lim iterations must be an integer >= 0, got {n_iter!r}")
    norm_feats = np.asarray(norm_feats, np.float32)
    if norm_feats.ndim == 4 and norm_feats.shape[-1] == 1:
        norm_feats = norm_feats[..., 0]
    if norm_feats.ndim != 3 or norm_feats.shape[-1] != NUM_BINS:
        raise AudioDataError(
            f"features_to_waveform expects [N, time, {NUM_BINS}] features, got {norm_feats.shape}"
        )
    out = np.empty((norm_feats.shape[0], length), np.float32)
    for i in range(0, norm_feats.shape[0], CHUNK):
        mag = np.exp(denormalize_features(norm_feats[i : i + CHUNK], moments))
        mag = np.concatenate([mag, np.zeros_like(mag[..., :1])], axis=-1)  # Nyquist bin: 0
        out[i : i + CHUNK] = griffin_lim(mag, length, n_iter, GRIFFIN_LIM_MOMENTUM[method])
    return np.clip(out, -1.0, 1.0)


def dataset_moments(dataset: AudioDataset) -> tuple[np.ndarray, np.ndarray]:
    """:func:`compute_moments` of a dataset's features, stored beside its cache entry.

    Returns:
      (mean [128], std [128]) float32. Read from ``<cache entry>/spectral_moments.npz`` when
      present (np.load without pickle), else computed and written there (atomically; a
      read-only cache just skips the write).
    """
    path = Path(dataset.cache_path, MOMENTS_FILE) if dataset.cache_path else None
    if path is not None and path.is_file():
        try:
            with np.load(path, allow_pickle=False) as z:
                mean, std = z["mean"], z["std"]
            if mean.shape == std.shape == (NUM_BINS,):
                return mean.astype(np.float32), std.astype(np.float32)
        except (OSError, ValueError, KeyError) as e:
            log.warning("ignoring unreadable %s (%s); recomputing", path, e)
    mean, std = _streaming_moments(dataset.waveforms)
    if path is not None:
        tmp = path.with_name(f".{MOMENTS_FILE}.{uuid.uuid4().hex[:8]}.npz")
        try:
            np.savez(tmp, mean=mean, std=std)
            os.replace(tmp, path)
        except OSError as e:
            log.warning("could not store spectral moments in %s (%s)", path, e)
            tmp.unlink(missing_ok=True)
    return mean, std


def _streaming_moments(waveforms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """compute_moments(waveform_to_features(waveforms)) without holding all features at once."""
    total = np.zeros(NUM_BINS)
    total_sq = np.zeros(NUM_BINS)
    count = 0
    for i in range(0, waveforms.shape[0], CHUNK):
        feats = waveform_to_features(np.asarray(waveforms[i : i + CHUNK])).astype(np.float64)
        total += feats.sum(axis=(0, 1))
        total_sq += np.square(feats).sum(axis=(0, 1))
        count += feats.shape[0] * feats.shape[1]
    mean = total / count
    std = np.sqrt(np.maximum(total_sq / count - mean**2, 0.0))
    return mean.astype(np.float32), np.maximum(std, STD_FLOOR).astype(np.float32)


def _check_moments(moments: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    mean, std = (np.asarray(m, np.float32) for m in moments)
    if mean.shape != (NUM_BINS,) or std.shape != (NUM_BINS,):
        raise AudioDataError(
            f"spectral moments must be (mean [{NUM_BINS}], std [{NUM_BINS}]), got "
            f"{mean.shape}, {std.shape}"
        )
    return mean, std
