"""Short-time Fourier transforms, one convention for the whole package, in JAX and numpy.

Every spectral loss (``wavegen.losses.spectral``), the STFT discriminators
(``wavegen.models.discriminators``), the evaluation distances (``wavegen.eval.metrics``) and the
classifier's log-mel features use these functions, so their spectrograms agree:

- Periodic Hann window of length ``n_fft`` (``scipy.signal.get_window('hann', n_fft)``, the
  librosa / ``torch.hann_window`` default), no ``win_length`` shorter than ``n_fft``.
- ``center=True`` (default) reflect-pads ``n_fft // 2`` samples on both sides, as
  ``torch.stft`` does in Parallel WaveGAN and RAVE, so frame ``t`` is centred on sample
  ``t * hop``; the number of frames is ``1 + T // hop``. Reflect padding needs ``T > n_fft // 2``.
  Note librosa >= 0.10 pads with zeros by default; pass ``pad_mode='reflect'`` there to match.
  ``center=False`` uses only whole frames inside the signal: ``1 + (T - n_fft) // hop`` frames.
- Magnitudes are ``sqrt(max(re^2 + im^2, MAG_FLOOR^2))``. The floor keeps the gradient of the
  square root finite on silent bins (it is zero there instead of NaN).

The numpy twin :func:`stft_magnitude_np` (evaluation on the host, float64) follows the same
convention; tests/audio/test_stft.py checks the two against each other and against librosa.
SpecGAN's feature STFT (``wavegen.data.spectral``) is the paper's own (hop 128, no centring) and
stays separate on purpose.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

FFT_SIZES = (2048, 1024, 512, 256, 128)
# sqrt(1e-7), the power clamp of Parallel WaveGAN's stft(); ~-70 dB relative to a full-scale bin.
MAG_FLOOR = float(np.sqrt(1e-7))


def hann_window(n_fft: int, dtype: type = np.float32) -> np.ndarray:
    """Periodic Hann window (the DFT-even form used for spectral analysis).

    Returns:
        [n_fft] ``0.5 - 0.5 cos(2 pi n / n_fft)`` (computed in float64, returned as ``dtype``).
    """
    n = np.arange(n_fft, dtype=np.float64)
    return (0.5 - 0.5 * np.cos(2.0 * np.pi * n / n_fft)).astype(dtype)


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


def stft_magnitude_np(x: np.ndarray, n_fft: int, hop_length: int | None = None) -> np.ndarray:
    """Numpy twin of :func:`stft_magnitude` (``center=True``), computed in float64.

    Args:
        x: [..., T] waveform, ``T > n_fft // 2``.
        n_fft: FFT size and window length.
        hop_length: frame step; defaults to ``n_fft // 4``.

    Returns:
        [..., 1 + T // hop, n_fft // 2 + 1] float64 magnitudes (>= ``MAG_FLOOR``).

    Raises:
        ValueError: the signal is too short for the reflect padding.
    """
    hop_length = hop_length or n_fft // 4
    x = np.asarray(x, np.float64)
    pad = n_fft // 2
    if x.shape[-1] <= pad:
        raise ValueError(
            f"stft_magnitude_np: reflect padding needs more than n_fft // 2 = {pad} samples; "
            f"got T={x.shape[-1]} (use a smaller n_fft)"
        )
    xp = np.pad(x, [(0, 0)] * (x.ndim - 1) + [(pad, pad)], mode="reflect")
    num = 1 + (xp.shape[-1] - n_fft) // hop_length
    index = np.arange(num)[:, None] * hop_length + np.arange(n_fft)[None, :]
    spec = np.fft.rfft(xp[..., index] * hann_window(n_fft, np.float64), axis=-1)
    return np.maximum(np.abs(spec), MAG_FLOOR)


def complex_stft(x: jax.Array, n_fft: int, hop_length: int) -> jax.Array:
    """Centred (reflect-padded) periodic-Hann STFT as real and imaginary channels.

    Args:
      x: [B, T], T > n_fft // 2.

    Returns:
      [B, 1 + T // hop_length, n_fft // 2 + 1, 2] float32 (time, frequency, re/im).
    """
    pad = n_fft // 2
    if x.shape[-1] <= pad:
        raise ValueError(f"complex_stft: T={x.shape[-1]} is too short for n_fft={n_fft}")
    xp = jnp.pad(x, ((0, 0), (pad, pad)), mode="reflect")
    spec = jnp.fft.rfft(frame(xp, n_fft, hop_length) * hann_window(n_fft), axis=-1)
    return jnp.stack([spec.real, spec.imag], axis=-1)


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


def log_mel_spectrogram_np(
    x: np.ndarray, sample_rate: int, n_fft: int, hop_length: int, n_mels: int, eps: float
) -> np.ndarray:
    """Numpy log-mel magnitudes ``log(M |STFT(x)| + eps)`` through librosa (the eval metrics').

    librosa's Slaney mel filterbank over the centred, reflect-padded magnitude STFT: the
    convention of :func:`log_mel_spectrogram`, up to its magnitude floor.

    Args:
        x: [..., T] waveforms, ``T > n_fft // 2`` (librosa checks).
        sample_rate: Hz, for the mel scale.
        n_fft, hop_length, n_mels: STFT / mel parameters.
        eps: floor inside the natural log.

    Returns:
        [..., n_mels, 1 + T // hop_length] in x's float dtype.
    """
    import librosa  # imported lazily: librosa (numba) is slow to import

    mel = librosa.feature.melspectrogram(
        y=x,
        sr=sample_rate,
        n_fft=n_fft,
        hop_length=hop_length,
        n_mels=n_mels,
        power=1.0,
        pad_mode="reflect",
    )
    return np.log(mel + eps)


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


__all__ = [
    "FFT_SIZES",
    "MAG_FLOOR",
    "complex_stft",
    "frame",
    "hann_window",
    "log_mel_spectrogram",
    "mel_filterbank",
    "stft_magnitude",
    "stft_magnitude_np",
]
