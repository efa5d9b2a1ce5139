"""Pitch of generated notes, for mode-collapse metrics on pitched data (numpy + scipy only).

A collapsed GAN trained on one-note-per-clip data (the built-in synthetic set, the GM ``notes``
set, NSynth) makes every clip the same note. The classifier metrics see this only through the
classes the classifier was trained on; pitch sees it directly and needs no trained model:

- :func:`estimate_f0`: YIN (de Cheveigné & Kawahara 2002) per frame, vectorised over clips and
  frames: difference function from FFT cross-correlation, cumulative-mean-normalised difference
  (CMND), absolute threshold, the local minimum after the first dip below it, and parabolic
  interpolation on the raw difference function (the CMND's minimum is biased, paper §II.E).
  ``librosa.pyin`` is ~1000x slower; this runs 1000 clips x 16384 samples in seconds.
- :func:`note_of_clips`: one fractional MIDI note per clip and whether the clip is a *clean
  note* (loud frames mostly voiced, steady pitch, close to a semitone).
- :class:`PitchReference`: the MIDI notes of the clean real training clips and their histogram.
- :func:`pitch_diversity`: the fraction of generated clips that are clean notes of the
  reference set, how many distinct reference notes they cover, and the Jensen-Shannon
  divergence of their note histogram from the reference's.
- :func:`f0_error_cents`, :func:`fraction_within_cents`, :func:`loudness_correlation`: pitch
  and loudness fidelity of reconstructions (the VAE).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import scipy.fft

from wavegen.errors import WavegenError

DEFAULT_FMIN = 60.0
DEFAULT_FMAX = 1100.0
DEFAULT_FRAME_LENGTH = 1024
DEFAULT_HOP_LENGTH = 256
DEFAULT_THRESHOLD = 0.15  # the YIN paper's 0.1-0.15 range; above it a frame is unvoiced
# Frames whose RMS is at or below this are digital silence: unvoiced, aperiodicity 1 (~-100 dBFS,
# below a 16-bit LSB, so zero padding and silent clips never reach the YIN division).
SILENT_RMS = 1e-5
# Frames per FFT batch: bounds the working memory (~40 MB at frame_length 1024) whatever N is.
CHUNK_FRAMES = 4096

# Clean-note thresholds (see note_of_clips).
# Loud frames: RMS within 35 dB of the clip's loudest frame. The synthetic set's white noise is
# ~42 dB below a note's peak-frame RMS, so noise-only frames after the release never count as
# loud (at -40 dB they would be within 2 dB of it); the decay and most of the release do count.
LOUD_DB = -35.0
# At least 60% of the loud frames must be voiced: onsets and release tails may be unvoiced, a
# clip that is mostly noise or buzz may not.
MIN_VOICED_FRACTION = 0.6
# Interquartile range of the voiced frames' pitch below half a semitone: a note, not a glide or
# a frame-to-frame octave-jumping estimate (whose IQR is ~1200 cents).
MAX_SPREAD_CENTS = 50.0
# Median less than this from the nearest MIDI note. At 50 (half a semitone) every pitch passes
# except an exact quarter tone, whose nearest note is ambiguous; lower it (e.g. to 30) to also
# reject generators whose notes are audibly out of tune with the set's equal temperament.
MAX_DETUNE_CENTS = 50.0


class PitchError(WavegenError):
    """Bad input to the pitch functions (shapes, rates, ranges, an empty reference)."""


@dataclasses.dataclass(frozen=True)
class F0Track:
    """Per-frame YIN output of N clips with F frames each.

    Attributes:
        f0: [N, F] float64 Hz; NaN where unvoiced or silent.
        aperiodicity: [N, F] float64: the CMND at the chosen lag (voiced) or its minimum over
            the lag range (unvoiced); 1 for silent frames. Near 0 = strongly periodic.
        rms: [N, F] float64 frame RMS.
        sample_rate: Hz.
        hop_length: samples between frame starts (frame f starts at sample ``f * hop_length``).
    """

    f0: np.ndarray
    aperiodicity: np.ndarray
    rms: np.ndarray
    sample_rate: int
    hop_length: int


@dataclasses.dataclass(frozen=True)
class ClipNotes:
    """One note per clip (see :func:`note_of_clips`).

    Attributes:
        midi: [N] float64 fractional MIDI note (median f0 of the loud voiced frames); NaN when
            the clip has no loud voiced frame.
        clean: [N] bool, the clip is a clean note.
        voiced_fraction: [N] float64 fraction of loud frames that are voiced (0 when silent).
        spread_cents: [N] float64 interquartile range of the loud voiced frames' pitch (NaN when
            none).
    """

    midi: np.ndarray
    clean: np.ndarray
    voiced_fraction: np.ndarray
    spread_cents: np.ndarray

    @property
    def note(self) -> np.ndarray:
        """[N] int64 nearest MIDI note, -1 where ``midi`` is NaN."""
        out = np.full(self.midi.shape, -1, np.int64)
        ok = np.isfinite(self.midi)
        out[ok] = np.rint(self.midi[ok]).astype(np.int64)
        return out


def hz_to_midi(f0: np.ndarray) -> np.ndarray:
    """Hz → fractional MIDI note (69 = A4 = 440 Hz); NaN stays NaN."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return 69.0 + 12.0 * np.log2(np.asarray(f0, np.float64) / 440.0)


def midi_to_hz(midi: np.ndarray | float) -> np.ndarray:
    """Fractional MIDI note → Hz."""
    return 440.0 * 2.0 ** ((np.asarray(midi, np.float64) - 69.0) / 12.0)


def _as_waves(waves: np.ndarray, sample_rate: int) -> np.ndarray:
    x = np.asarray(waves)
    if x.ndim == 1:
        x = x[None]
    if x.ndim != 2:
        raise PitchError(f"waves: expected [N, T] audio; got shape {x.shape}")
    if sample_rate <= 0:
        raise PitchError(f"sample_rate must be positive; got {sample_rate}")
    x = x.astype(np.float32, copy=False)
    if not np.all(np.isfinite(x)):
        raise PitchError("waves contain NaN/Inf values")
    return x


def estimate_f0(
    waves: np.ndarray,
    sample_rate: int,
    *,
    fmin: float = DEFAULT_FMIN,
    fmax: float = DEFAULT_FMAX,
    frame_length: int = DEFAULT_FRAME_LENGTH,
    hop_length: int = DEFAULT_HOP_LENGTH,
    threshold: float = DEFAULT_THRESHOLD,
) -> F0Track:
    """YIN fundamental frequency of every frame of every clip.

    Frames are ``frame_length`` samples every ``hop_length`` samples, not centred; clips shorter
    than ``frame_length`` are zero-padded to one frame. In each frame the difference function
    ``d(tau) = sum_{j<W} (x_j - x_{j+tau})^2`` uses the window ``W = frame_length - tau_max - 1``
    (the longest that fits), with ``tau_max = ceil(sr / fmin)``.

    Args:
        waves: [N, T] (or [T]) float audio.
        sample_rate: Hz.
        fmin, fmax: search range in Hz; ``sr / fmin`` must be below ``frame_length / 2``.
        frame_length, hop_length: framing in samples.
        threshold: absolute CMND threshold; frames without a dip below it are unvoiced.

    Returns:
        :class:`F0Track` with [N, F] arrays, ``F = 1 + max(T - frame_length, 0) // hop_length``.
    """
    x = _as_waves(waves, sample_rate)
    if not 0 < fmin < fmax <= sample_rate / 2:
        raise PitchError(f"need 0 < fmin < fmax <= sr/2; got fmin={fmin}, fmax={fmax}")
    if hop_length < 1:
        raise PitchError(f"hop_length must be >= 1; got {hop_length}")
    tau_min = max(1, int(np.floor(sample_rate / fmax)))
    tau_max = int(np.ceil(sample_rate / fmin))
    win = frame_length - tau_max - 1
    if win < tau_max + 1:
        raise PitchError(
            f"fmin={fmin} Hz needs lags up to {tau_max} samples at {sample_rate} Hz; "
            f"frame_length={frame_length} must be >= {2 * tau_max + 2}"
        )
    n, t = x.shape
    if t < frame_length:
        x = np.pad(x, ((0, 0), (0, frame_length - t)))
        t = frame_length
    num_frames = 1 + (t - frame_length) // hop_length
    frames = np.lib.stride_tricks.sliding_window_view(x, frame_length, axis=1)[:, ::hop_length]
    frames = frames.reshape(n * num_frames, frame_length)  # a copy: [N * F, L]
    f0 = np.full(n * num_frames, np.nan)
    aper = np.ones(n * num_frames)
    rms = np.zeros(n * num_frames)
    nfft = scipy.fft.next_fast_len(frame_length, real=True)
    for start in range(0, len(frames), CHUNK_FRAMES):
        sl = slice(start, start + CHUNK_FRAMES)
        f0[sl], aper[sl], rms[sl] = _yin_frames(
            frames[sl], win, tau_min, tau_max, nfft, sample_rate, threshold
        )
    shape = (n, num_frames)
    return F0Track(
        f0.reshape(shape), aper.reshape(shape), rms.reshape(shape), int(sample_rate), hop_length
    )


def _yin_frames(
    frames: np.ndarray,
    win: int,
    tau_min: int,
    tau_max: int,
    nfft: int,
    sample_rate: int,
    threshold: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """YIN on frames [B, L] float32 → (f0 [B], aperiodicity [B], rms [B])."""
    b = len(frames)
    rms = np.sqrt(np.einsum("ij,ij->i", frames, frames).astype(np.float64) / frames.shape[1])
    f0, aper = np.full(b, np.nan), np.ones(b)
    live = rms > SILENT_RMS
    if not np.any(live):
        return f0, aper, rms
    fr = frames[live]
    lags = tau_max + 2  # d at 0 .. tau_max + 1 (the last one for the interpolation)
    # Cross term r(tau) = sum_{j<W} x_j x_{j+tau}: circular correlation of the first W samples
    # with the frame; j + tau < W + tau_max + 2 <= L <= nfft, so nothing wraps.
    head = scipy.fft.rfft(fr[:, :win], nfft, axis=1)
    full = scipy.fft.rfft(fr, nfft, axis=1)
    cross = scipy.fft.irfft(np.conj(head) * full, nfft, axis=1)[:, :lags]
    # float32 throughout: the FFT's rounding (~1e-7 of the frame energy) is the floor anyway,
    # and a dip's depth matters only against the 0.15 threshold.
    # Lagged window energy E(tau) = sum_{j<W} x_{j+tau}^2 by E(tau+1) = E(tau) + x_{W+tau}^2 -
    # x_tau^2 (a cumsum over the lags only, not over the frame).
    e0 = np.einsum("ij,ij->i", fr[:, :win], fr[:, :win])[:, None]
    d = np.empty_like(cross)  # d(tau) = E(0) + E(tau) - 2 r(tau), tau = 0..lags-1
    d[:, 0] = 0.0
    np.cumsum(np.square(fr[:, win : win + lags - 1]) - np.square(fr[:, : lags - 1]), axis=1,
              out=d[:, 1:])  # fmt: skip
    d[:, 1:] += 2.0 * e0
    d[:, 1:] -= 2.0 * cross[:, 1:]
    np.maximum(d, 0.0, out=d)
    # Cumulative mean normalised difference d'(tau) = d(tau) tau / sum_{1..tau} d; d'(0) = 1.
    cum = np.cumsum(d[:, 1:], axis=1)
    cmnd = np.ones_like(d)
    np.divide(d[:, 1:] * np.arange(1, lags, dtype=d.dtype), cum, out=cmnd[:, 1:], where=cum > 0)
    search = cmnd[:, tau_min : tau_max + 1]  # [B', K]
    below = search < threshold
    voiced = below.any(axis=1)
    first = np.argmax(below, axis=1)
    # Walk from the first dip below threshold down to its local minimum.
    k = np.arange(search.shape[1])
    rising = np.empty_like(below)
    rising[:, :-1] = search[:, 1:] >= search[:, :-1]
    rising[:, -1] = True
    best = np.argmax(rising & (k >= first[:, None]), axis=1)
    best = np.where(voiced, best, np.argmin(search, axis=1))
    rows = np.arange(len(fr))
    lag = best + tau_min  # index into d, in 1..tau_max
    # Parabolic interpolation of d around the lag (tau_min >= 1 and lag + 1 <= tau_max + 1).
    a, c0, c = d[rows, lag - 1], d[rows, lag], d[rows, lag + 1]
    curv = a - 2.0 * c0 + c
    safe = curv > 0
    shift = np.where(safe, 0.5 * (a - c) / np.where(safe, curv, 1.0), 0.0)
    period = lag + np.clip(shift, -1.0, 1.0)
    f0_live = np.where(voiced, sample_rate / period, np.nan)
    f0[live] = f0_live
    aper[live] = search[rows, best]
    return f0, aper, rms


def note_of_clips(
    waves: np.ndarray,
    sample_rate: int,
    *,
    track: F0Track | None = None,
    **f0_kwargs: Any,
) -> ClipNotes:
    """The note of each clip, and whether it is a clean note.

    A clip is a clean note when it has loud frames (RMS within :data:`LOUD_DB` of its loudest
    frame, which must be above digital silence), at least :data:`MIN_VOICED_FRACTION` of them
    are voiced, the voiced frames' pitch has an interquartile range below
    :data:`MAX_SPREAD_CENTS`, and their median is within :data:`MAX_DETUNE_CENTS` of a MIDI
    note.

    Args:
        waves: [N, T] float audio.
        sample_rate: Hz.
        track: a precomputed :func:`estimate_f0` result of ``waves`` (then ``f0_kwargs`` unused).
        **f0_kwargs: passed to :func:`estimate_f0` (fmin, fmax, frame_length, ...).

    Returns:
        :class:`ClipNotes` of [N] arrays.
    """
    if track is None:
        track = estimate_f0(waves, sample_rate, **f0_kwargs)
    peak = track.rms.max(axis=1, keepdims=True)
    loud = (track.rms >= peak * 10.0 ** (LOUD_DB / 20.0)) & (peak > SILENT_RMS)
    voiced = loud & np.isfinite(track.f0)
    num_loud = loud.sum(axis=1)
    num_voiced = voiced.sum(axis=1)
    voiced_fraction = num_voiced / np.maximum(num_loud, 1)
    midi_frames = np.where(voiced, hz_to_midi(np.where(voiced, track.f0, 440.0)), np.nan)
    n = len(midi_frames)
    midi, spread = np.full(n, np.nan), np.full(n, np.nan)
    has = num_voiced > 0
    if np.any(has):
        q25, q50, q75 = np.nanpercentile(midi_frames[has], [25, 50, 75], axis=1)
        midi[has], spread[has] = q50, 100.0 * (q75 - q25)
    detune = 100.0 * np.abs(midi - np.rint(np.where(has, midi, 0.0)))
    clean = (
        has
        & (voiced_fraction >= MIN_VOICED_FRACTION)
        & (np.where(has, spread, np.inf) < MAX_SPREAD_CENTS)
        & (np.where(has, detune, np.inf) < MAX_DETUNE_CENTS)
    )
    return ClipNotes(midi, clean, voiced_fraction.astype(np.float64), spread)


@dataclasses.dataclass
class PitchReference:
    """The notes of clean real clips: the pitches a non-collapsed generator should cover.

    Attributes:
        notes: sorted distinct MIDI notes (ints) of the clean reference clips.
        counts: clean clips per note, aligned with ``notes``.
        num_clips: clips analysed.
        num_clean: clips that were clean notes (``sum(counts)``).
        sample_rate: Hz of the reference clips.
        f0_kwargs: :func:`estimate_f0` settings, reused on the clips scored against it.
    """

    notes: list[int]
    counts: list[int]
    num_clips: int
    num_clean: int
    sample_rate: int
    f0_kwargs: dict[str, float] = dataclasses.field(default_factory=dict)

    @classmethod
    def from_waves(
        cls,
        waves: np.ndarray,
        sample_rate: int,
        max_clips: int = 512,
        *,
        min_count: int = 1,
        **f0_kwargs: Any,
    ) -> PitchReference:
        """Reference from real clips [N, T].

        Args:
            waves: [N, T] real training audio.
            sample_rate: Hz.
            max_clips: analyse at most this many, evenly spaced over N (deterministic, and a
                stratified sample of a set stored in label order).
            min_count: keep notes with at least this many clean clips (drops rare estimation
                errors, e.g. one octave-jumped clip, from a large reference).
            **f0_kwargs: :func:`estimate_f0` settings (fmin, fmax, frame_length, ...).
        """
        x = np.asarray(waves)
        num = len(x)
        if num > max_clips:
            x = x[np.unique(np.linspace(0, num - 1, max_clips).round().astype(np.int64))]
        clip_notes = note_of_clips(x, sample_rate, **f0_kwargs)
        values, counts = np.unique(clip_notes.note[clip_notes.clean], return_counts=True)
        keep = counts >= min_count
        return cls(
            notes=[int(v) for v in values[keep]],
            counts=[int(c) for c in counts[keep]],
            num_clips=int(len(x)),
            num_clean=int(counts[keep].sum()),
            sample_rate=int(sample_rate),
            f0_kwargs={k: float(v) for k, v in f0_kwargs.items()},
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict (ints, floats, lists)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PitchReference:
        """Inverse of :meth:`to_dict`."""
        kwargs = {k: v for k, v in dict(d.get("f0_kwargs", {})).items()}
        for key in ("frame_length", "hop_length"):
            if key in kwargs:
                kwargs[key] = int(kwargs[key])
        return cls(
            notes=[int(v) for v in d["notes"]],
            counts=[int(v) for v in d["counts"]],
            num_clips=int(d["num_clips"]),
            num_clean=int(d["num_clean"]),
            sample_rate=int(d["sample_rate"]),
            f0_kwargs=kwargs,
        )

    def estimator_kwargs(self) -> dict[str, Any]:
        """``f0_kwargs`` with integer frame sizes, ready for :func:`estimate_f0`."""
        kw = dict(self.f0_kwargs)
        for key in ("frame_length", "hop_length"):
            if key in kw:
                kw[key] = int(kw[key])
        return kw


def _clip_notes_for(
    waves: np.ndarray, sample_rate: int, reference: PitchReference, notes: ClipNotes | None
) -> ClipNotes:
    if not reference.notes:
        raise PitchError(
            f"the pitch reference has no notes (0 of {reference.num_clips} reference clips were "
            "clean notes): is the data pitched, and within fmin..fmax?"
        )
    if int(sample_rate) != reference.sample_rate:
        raise PitchError(
            f"clips at {sample_rate} Hz, pitch reference at {reference.sample_rate} Hz"
        )
    if notes is None:
        notes = note_of_clips(waves, sample_rate, **reference.estimator_kwargs())
    return notes


def pitch_histogram(
    waves: np.ndarray,
    sample_rate: int,
    reference: PitchReference,
    *,
    notes: ClipNotes | None = None,
) -> dict[str, Any]:
    """Histogram of clips [N, T] over the reference notes, JSON-able.

    Args:
        waves: [N, T] float audio (unused when ``notes`` is given).
        sample_rate: Hz; must be the reference's.
        reference: from :meth:`PitchReference.from_waves`.
        notes: precomputed :func:`note_of_clips` of ``waves``.

    Returns:
        ``{"notes": [K] ints, "counts": [K] ints (clean clips of each reference note),
        "other": clips that are not a clean note of the set, "reference_counts": [K] ints,
        "num_clips": N}``.
    """
    notes = _clip_notes_for(waves, sample_rate, reference, notes)
    ref = np.asarray(reference.notes)
    nearest = notes.note
    in_set = notes.clean & np.isin(nearest, ref)
    index = np.searchsorted(ref, nearest[in_set])
    counts = np.bincount(index, minlength=len(ref))
    return {
        "notes": [int(v) for v in ref],
        "counts": [int(c) for c in counts],
        "other": int(len(nearest) - in_set.sum()),
        "reference_counts": [int(c) for c in reference.counts],
        "num_clips": int(len(nearest)),
    }


def jensen_shannon_divergence(p: np.ndarray, q: np.ndarray) -> float:
    """JSD in bits (in [0, 1]) of two histograms [K] (normalised here; 0 log 0 = 0)."""
    p = np.asarray(p, np.float64)
    q = np.asarray(q, np.float64)
    p, q = p / p.sum(), q / q.sum()
    m = 0.5 * (p + q)

    def kl(a: np.ndarray) -> float:
        nz = a > 0
        return float(np.sum(a[nz] * np.log2(a[nz] / m[nz])))

    return float(np.clip(0.5 * kl(p) + 0.5 * kl(q), 0.0, 1.0))


def pitch_diversity(
    waves: np.ndarray,
    sample_rate: int,
    reference: PitchReference,
    *,
    notes: ClipNotes | None = None,
) -> dict[str, float]:
    """Mode-collapse metrics of clips [N, T] against the real notes.

    Args:
        waves: [N, T] float audio (unused when ``notes`` is given).
        sample_rate: Hz; must be the reference's.
        reference: from :meth:`PitchReference.from_waves` (must have notes).
        notes: precomputed :func:`note_of_clips` of ``waves``.

    Returns:
        ``pitch/clean_fraction``: clips that are a clean note whose nearest MIDI note is in the
        reference set; ``pitch/distinct``: distinct reference notes among them;
        ``pitch/coverage``: distinct / number of reference notes; ``pitch/jsd``: Jensen-Shannon
        divergence (bits, 0 = same distribution, 1 = disjoint) of the clips' histogram over the
        reference notes plus an "other" bin from the reference histogram (its "other" bin
        empty); ``pitch/num_reference_pitches``.
    """
    hist = pitch_histogram(waves, sample_rate, reference, notes=notes)
    counts = np.asarray(hist["counts"] + [hist["other"]], np.float64)
    ref = np.asarray(hist["reference_counts"] + [0], np.float64)
    n = max(hist["num_clips"], 1)
    distinct = int(np.count_nonzero(counts[:-1]))
    k = len(hist["notes"])
    return {
        "pitch/clean_fraction": float(counts[:-1].sum() / n),
        "pitch/distinct": float(distinct),
        "pitch/coverage": float(distinct / k),
        "pitch/jsd": jensen_shannon_divergence(counts, ref) if counts.sum() > 0 else 1.0,
        "pitch/num_reference_pitches": float(k),
    }


# ---------------------------------------------------------------------------------------------
# Reconstruction fidelity (the VAE): pitch and loudness of estimate vs reference clips
# ---------------------------------------------------------------------------------------------


def f0_error_cents(
    reference: np.ndarray,
    estimate: np.ndarray,
    sample_rate: int,
    *,
    tracks: tuple[F0Track, F0Track] | None = None,
    **f0_kwargs: Any,
) -> np.ndarray:
    """Per-clip median absolute pitch error in cents over the frames voiced in both.

    Args:
        reference: [N, T] original clips.
        estimate: [N, T] reconstructions (same shape).
        sample_rate: Hz.
        tracks: precomputed :func:`estimate_f0` of (reference, estimate); then ``f0_kwargs``
            are unused.
        **f0_kwargs: :func:`estimate_f0` settings.

    Returns:
        [N] float64 cents (an octave error is 1200); NaN for clips with no frame voiced in both.
    """
    ref, est = np.asarray(reference), np.asarray(estimate)
    if ref.shape != est.shape:
        raise PitchError(f"reference {ref.shape} and estimate {est.shape} differ in shape")
    if tracks is None:
        tracks = (
            estimate_f0(ref, sample_rate, **f0_kwargs),
            estimate_f0(est, sample_rate, **f0_kwargs),
        )
    f_ref, f_est = tracks[0].f0, tracks[1].f0
    both = np.isfinite(f_ref) & np.isfinite(f_est)
    cents = np.where(
        both, 1200.0 * np.abs(np.log2(np.where(both, f_est, 1.0) / np.where(both, f_ref, 1.0))), 0
    )
    out = np.full(len(cents), np.nan)
    has = both.any(axis=1)
    if np.any(has):
        out[has] = np.nanmedian(np.where(both, cents, np.nan)[has], axis=1)
    return out


def fraction_within_cents(errors: np.ndarray, cents: float = 50.0) -> float:
    """Fraction of per-clip errors [N] (from :func:`f0_error_cents`) within ``cents``; NaN
    errors (no comparable frames) count as misses. 0 for an empty array."""
    e = np.asarray(errors, np.float64)
    if e.size == 0:
        return 0.0
    return float(np.mean(np.where(np.isfinite(e), e, np.inf) <= cents))


def loudness_correlation(
    reference: np.ndarray,
    estimate: np.ndarray,
    sample_rate: int,
    *,
    frame_length: int = DEFAULT_FRAME_LENGTH,
    hop_length: int = DEFAULT_HOP_LENGTH,
    floor_db: float = -100.0,
) -> np.ndarray:
    """Per-clip Pearson correlation of the frame RMS in dB (floored at ``floor_db``).

    Args:
        reference, estimate: [N, T] clips of the same shape.
        sample_rate: Hz (checked only).
        frame_length, hop_length: framing as in :func:`estimate_f0`.
        floor_db: RMS floor in dBFS, so silent frames do not give -inf.

    Returns:
        [N] float64 in [-1, 1]; NaN where either loudness curve is constant.
    """
    ref = _as_waves(reference, sample_rate)
    est = _as_waves(estimate, sample_rate)
    if ref.shape != est.shape:
        raise PitchError(f"reference {ref.shape} and estimate {est.shape} differ in shape")

    def db(x: np.ndarray) -> np.ndarray:
        if x.shape[1] < frame_length:
            x = np.pad(x, ((0, 0), (0, frame_length - x.shape[1])))
        fr = np.lib.stride_tricks.sliding_window_view(x, frame_length, axis=1)[:, ::hop_length]
        rms = np.sqrt(np.mean(np.square(fr, dtype=np.float64), axis=2))
        return 20.0 * np.log10(np.maximum(rms, 10.0 ** (floor_db / 20.0)))

    a, b = db(ref), db(est)
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    den = np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))
    ok = den > 1e-12
    return np.where(ok, (a * b).sum(axis=1) / np.where(ok, den, 1.0), np.nan)
