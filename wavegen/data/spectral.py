"""SpecGAN's features: normalised log-magnitude spectrograms and their Griffin-Lim inverse.

As in the SpecGAN paper/code: STFT with a 256-sample Hann window and hop 128 (16 ms / 8 ms at
16 kHz); the signal is zero-padded at the end so 16384 samples give 128 frames; the Nyquist bin is
dropped, giving 128 × 128. Features are ``log(|X| + 1e-6)``, normalised per frequency bin with the
training set's mean and std, clipped at ±3 std and scaled by 1/3 into [-1, 1].

Layout: ``[N, time, freq]`` (128 frames × 128 bins for 16384 samples).
"""

from __future__ import annotations

import numpy as np

N_FFT = 256
HOP = 128
LOG_EPS = 1e-6
CLIP_STD = 3.0


def _frames(x: np.ndarray) -> np.ndarray:
    """x [N, T] → windowed frames [N, T // HOP, N_FFT] (zero-padded at the end)."""
    n, t = x.shape
    num = t // HOP
    padded = np.zeros((n, (num - 1) * HOP + N_FFT), np.float32)
    padded[:, :t] = x[:, : padded.shape[1]]
    idx = np.arange(N_FFT)[None, :] + HOP * np.arange(num)[:, None]
    return padded[:, idx] * np.hanning(N_FFT + 1)[:-1].astype(np.float32)


def waveform_to_features(x: np.ndarray) -> np.ndarray:
    """Log-magnitude spectrograms.

    Args:
      x: [N, T] float32 audio (T a multiple of 128).
    Returns:
      [N, T // 128, 128] float32 log magnitudes (Nyquist bin dropped).
    """
    spec = np.fft.rfft(_frames(np.asarray(x, np.float32)), axis=-1)[..., :-1]
    return np.log(np.abs(spec) + LOG_EPS).astype(np.float32)


def compute_moments(feats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-frequency-bin mean and std over examples and frames: ([F], [F]) float32."""
    feats = np.asarray(feats, np.float64)
    mean = feats.mean(axis=(0, 1))
    std = feats.std(axis=(0, 1))
    return mean.astype(np.float32), np.maximum(std, 1e-6).astype(np.float32)


def normalize_features(feats: np.ndarray, moments: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """(feats - mean) / std, clipped at ±3 std, scaled to [-1, 1]; [N, time, F] float32."""
    mean, std = moments
    z = (np.asarray(feats, np.float32) - mean) / std
    return (np.clip(z, -CLIP_STD, CLIP_STD) / CLIP_STD).astype(np.float32)


def features_to_waveform(
    norm_feats: np.ndarray,
    moments: tuple[np.ndarray, np.ndarray],
    *,
    n_iter: int = 16,
    length: int | None = None,
) -> np.ndarray:
    """Inverse of :func:`normalize_features` ∘ :func:`waveform_to_features` via Griffin-Lim.

    Args:
      norm_feats: [N, time, 128] in [-1, 1].
      moments: the training set's (mean, std).
      n_iter: Griffin-Lim iterations (16 as in the paper).
      length: output samples (default time * 128).
    Returns:
      [N, length] float32 audio.
    """
    import librosa  # lazy: seconds to import

    mean, std = moments
    logmag = np.asarray(norm_feats, np.float32) * CLIP_STD * std + mean
    mag = np.maximum(np.exp(logmag) - LOG_EPS, 0.0)
    mag = np.concatenate([mag, np.zeros_like(mag[..., :1])], axis=-1)  # Nyquist bin back
    n, frames, _ = mag.shape
    length = length or frames * HOP
    out = np.zeros((n, length), np.float32)
    for i in range(n):
        y = librosa.griffinlim(
            mag[i].T,
            n_iter=n_iter,
            hop_length=HOP,
            win_length=N_FFT,
            n_fft=N_FFT,
            window="hann",
            center=False,
            random_state=0,
            length=(frames - 1) * HOP + N_FFT,  # all frames; trimmed to `length` below
        )
        out[i, : len(y)] = y[:length]
    return np.clip(out, -1.0, 1.0)
