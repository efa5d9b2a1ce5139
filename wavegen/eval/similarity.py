"""|D|self and |D|train as the WaveGAN reference code computes them (chrisdonahue/wavegan
``eval/similarity``: ``feats.py`` extracts the features, ``sim.py`` the distances).

Features (``feats.py``), per clip:

- the clip cropped / zero-padded to the model's length (16384 samples there);
- 16-bit PCM scale: the reference reads its WAVs with ``scipy.io.wavfile.read``, which returns
  int16 values, so its log-mels are of int16-scale magnitudes. Float clips in [-1, 1] are
  multiplied by 32768 (soundfile's int16 → float divisor) to match; this only moves where the
  log floor sits, but the floor decides the distance in quiet regions;
- TF ``stft(x, frame_length=2048, frame_step=128, pad_end=True)``: periodic Hann window, frames
  starting at sample 0 with the end zero-padded (``ceil(T / hop)`` frames), FFT length the next
  power of two >= the frame length, magnitude (not power);
- TF ``linear_to_mel_weight_matrix(128 bins, 40 Hz .. 7800 Hz)``: HTK mel scale
  (1127 ln(1 + f / 700)), triangles linear in mel (not in Hz, as librosa's), unnormalised peak-1
  weights, the DC bin zeroed. Implemented here in numpy rather than with librosa's filterbank
  because librosa's triangles are linear in Hz and so give different weights;
- natural log(mel + 1e-6), flattened [frames * 128].

Scaled to the data's sample rate ``sr`` (the reference is 16 kHz only): frame length, hop and FFT
length are multiplied by ``sr / 16000`` (a 128 ms window and an 8 ms hop at any rate, so bins are
7.8 Hz apart and the mel bands are resolved as at 16 kHz) and the upper edge 7800 Hz, which is
0.975 x Nyquist, becomes ``0.975 * sr / 2``; the 40 Hz lower edge is a physical limit below
speech and instrument fundamentals, not tied to the rate, so it stays. The clip length is the
model's output length (the reference's 16384 is its model's), not rescaled. At 8 kHz (FSDD):
frame 1024, hop 64, FFT 1024, 40 .. 3900 Hz; 16384 samples give 256 x 128 features.

Distances (``sim.py``): Euclidean nearest neighbour (sklearn ``NearestNeighbors``, Minkowski
p = 2) of every query's flattened features; |D|self queries the generated set against itself
excluding the example itself (the reference takes the second neighbour when the first is at
distance 0), |D|train against the training set. Reported: mean and std (ddof 0) over queries.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from wavegen.eval.validation import MetricInputError, check_array, check_same_width

REFERENCE_RATE = 16000
REFERENCE_FRAME = 2048
REFERENCE_HOP = 128
N_MELS = 128
LOWER_HZ = 40.0
UPPER_FRACTION = 7800.0 / 8000.0  # of Nyquist: 7800 Hz at 16 kHz
LOG_EPS = 1e-6
PCM_SCALE = 32768.0  # int16 full scale, the reference's feature input scale
CHUNK = 64  # clips per STFT chunk: bounds the complex temporaries
CANDIDATES = 8  # approximate nearest neighbours re-measured exactly (see nn_distances)


def _float32_rows(name: str, x: np.ndarray, min_rows: int, expected: str) -> np.ndarray:
    """``check_array``'s checks without its float64 copy: training-set features of SC09 are
    ~1.2 GB in float32."""
    arr = np.asarray(x)
    if arr.ndim == 2 and arr.size and np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float32, copy=False)
        if len(arr) < min_rows:
            raise MetricInputError(
                f"{name}: expected at least {min_rows} rows in {expected}; got {len(arr)}"
            )
        if not all(np.isfinite(arr[i : i + 1024]).all() for i in range(0, len(arr), 1024)):
            raise MetricInputError(f"{name}: expected finite values; found NaN/Inf entries")
        return arr
    return check_array(name, arr, min_rows=min_rows, expected=expected).astype(np.float32)


@dataclass(frozen=True)
class SimilaritySettings:
    """The reference's feature parameters at one sample rate (see the module docstring)."""

    sample_rate: int
    frame_length: int
    frame_step: int
    fft_length: int
    n_mels: int
    lower_hz: float
    upper_hz: float
    log_eps: float
    pcm_scale: float

    def as_dict(self) -> dict:
        """JSON-able copy, for result metadata."""
        return asdict(self)


def reference_settings(sample_rate: int) -> SimilaritySettings:
    """The reference's 16 kHz STFT and mel range scaled to ``sample_rate`` Hz."""
    if sample_rate <= 0:
        raise MetricInputError(f"sample_rate: expected a positive rate in Hz; got {sample_rate}")
    scale = sample_rate / REFERENCE_RATE
    frame = max(2, round(REFERENCE_FRAME * scale))
    return SimilaritySettings(
        sample_rate=int(sample_rate),
        frame_length=frame,
        frame_step=max(1, round(REFERENCE_HOP * scale)),
        fft_length=1 << (frame - 1).bit_length(),  # TF's default: next power of two
        n_mels=N_MELS,
        lower_hz=LOWER_HZ,
        upper_hz=UPPER_FRACTION * sample_rate / 2.0,
        log_eps=LOG_EPS,
        pcm_scale=PCM_SCALE,
    )


def hertz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    """HTK mel scale as TF's mel ops: ``1127 ln(1 + f / 700)``."""
    return 1127.0 * np.log1p(np.asarray(hz, np.float64) / 700.0)


def mel_weight_matrix(
    n_mels: int, num_bins: int, sample_rate: int, lower_hz: float, upper_hz: float
) -> np.ndarray:
    """TF's ``linear_to_mel_weight_matrix`` in numpy.

    Args:
        n_mels: mel bands.
        num_bins: linear bins ``fft_length // 2 + 1``, spanning 0 .. sample_rate / 2.
        sample_rate: Hz.
        lower_hz, upper_hz: lower edge of the first band, upper edge of the last.

    Returns:
        [num_bins, n_mels] float64 weights (row 0, the DC bin, is zero).
    """
    if not 0.0 <= lower_hz < upper_hz <= sample_rate / 2.0:
        raise MetricInputError(
            f"mel range: expected 0 <= lower < upper <= Nyquist ({sample_rate / 2} Hz); got "
            f"{lower_hz}..{upper_hz}"
        )
    bins_mel = hertz_to_mel(np.linspace(0.0, sample_rate / 2.0, num_bins))[1:, None]
    edges = np.linspace(hertz_to_mel(lower_hz), hertz_to_mel(upper_hz), n_mels + 2)
    lower, centre, upper = edges[:-2], edges[1:-1], edges[2:]
    rising = (bins_mel - lower) / (centre - lower)
    falling = (upper - bins_mel) / (upper - centre)
    weights = np.maximum(0.0, np.minimum(rising, falling))
    return np.concatenate([np.zeros((1, n_mels)), weights])  # HTK drops the DC bin


def stft_magnitude(
    waves: np.ndarray, frame_length: int, frame_step: int, fft_length: int
) -> np.ndarray:
    """TF ``abs(stft(x, frame_length, frame_step, fft_length, pad_end=True))`` in numpy.

    Args:
        waves: [N, T] float.
        frame_length, frame_step, fft_length: samples (fft_length >= frame_length).

    Returns:
        [N, ceil(T / frame_step), fft_length // 2 + 1] float32 magnitudes.
    """
    n, t = waves.shape
    frames = -(-t // frame_step)
    padded = np.zeros((n, (frames - 1) * frame_step + frame_length), np.float32)
    padded[:, :t] = waves
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(frame_length) / frame_length)  # periodic
    windows = np.lib.stride_tricks.sliding_window_view(padded, frame_length, axis=-1)
    windowed = windows[:, ::frame_step] * window.astype(np.float32)
    return np.abs(np.fft.rfft(windowed, n=fft_length, axis=-1)).astype(np.float32)


def similarity_features(
    waves: np.ndarray, sample_rate: int, *, length: int | None = None
) -> np.ndarray:
    """The reference's flattened log-mel features of clips in [-1, 1].

    Args:
        waves: [N, T] float waveforms (nominally in [-1, 1]).
        sample_rate: Hz; the STFT and mel range are scaled to it (:func:`reference_settings`).
        length: crop / zero-pad every clip to this many samples first (None: keep T).

    Returns:
        [N, frames * 128] float32, frames = ceil(length / hop), frame-major (as the reference's
        [frames, 128] arrays flattened).
    """
    x = _float32_rows("waves", waves, 1, "[N, T]")
    settings = reference_settings(sample_rate)
    if length is not None:
        x = x[:, :length] if x.shape[1] >= length else np.pad(x, ((0, 0), (0, length - x.shape[1])))
    if x.shape[1] < 1:
        raise MetricInputError("waves: clips of length 0 have no spectrogram")
    mel = mel_weight_matrix(
        settings.n_mels,
        settings.fft_length // 2 + 1,
        sample_rate,
        settings.lower_hz,
        settings.upper_hz,
    ).astype(np.float32)
    frames = -(-x.shape[1] // settings.frame_step)
    out = np.empty((len(x), frames * settings.n_mels), np.float32)
    for i in range(0, len(x), CHUNK):
        block = np.asarray(x[i : i + CHUNK], np.float32) * np.float32(settings.pcm_scale)
        mag = stft_magnitude(block, settings.frame_length, settings.frame_step, settings.fft_length)
        out[i : i + CHUNK] = np.log(mag @ mel + settings.log_eps).reshape(len(block), -1)
    return out


def nn_distances(
    query: np.ndarray, reference: np.ndarray | None = None, *, chunk_size: int = 256
) -> np.ndarray:
    """Euclidean distance of every query row to its nearest reference row.

    ``reference=None`` measures |D|self: the nearest *other* query row. Candidates are found
    with a float32 Gram-matrix distance on mean-centred features (the log-mels' large common
    offset would otherwise eat float32's precision), and the best :data:`CANDIDATES` of each
    query are re-measured exactly in float64 from the differences, so an identical clip gives
    exactly 0.

    Args:
        query: [N, F] features (N >= 2 when ``reference`` is None); held as float32.
        reference: [M, F] features, or None.
        chunk_size: query rows per distance block (memory chunk_size x M).

    Returns:
        [N] float64 distances.
    """
    q = _float32_rows("query", query, 1 if reference is not None else 2, "[N, F]")
    if reference is None:
        r = q
    else:
        r = _float32_rows("reference", reference, 1, "[M, F]")
        check_same_width("query", q, "reference", r)
    centre = r.mean(axis=0, dtype=np.float64).astype(np.float32)
    q32 = q - centre
    r32 = q32 if reference is None else r - centre
    r_sq = np.sum(r32.astype(np.float64) ** 2, axis=1).astype(np.float32)
    k = min(CANDIDATES, len(r) - (1 if reference is None else 0))
    out = np.empty(len(q))
    for start in range(0, len(q), chunk_size):
        block = q32[start : start + chunk_size]
        approx = r_sq[None, :] - 2.0 * (block @ r32.T)  # + ||q||^2, constant per row
        if reference is None:
            rows = np.arange(len(block))
            approx[rows, start + rows] = np.inf  # exclude the example itself
        best = np.argpartition(approx, k - 1, axis=1)[:, :k]
        for row, candidates in enumerate(best):
            diff = r[candidates].astype(np.float64) - q[start + row].astype(np.float64)
            out[start + row] = np.sqrt(np.min(np.sum(diff**2, axis=1)))
    return out


def nn_similarity(query: np.ndarray, reference: np.ndarray | None = None) -> tuple[float, float]:
    """``(mean, std)`` of :func:`nn_distances`, as the reference's ``sim.py`` prints them."""
    d = nn_distances(query, reference)
    return float(d.mean()), float(d.std())
