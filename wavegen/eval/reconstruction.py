"""Pitch and loudness fidelity of reconstructions (the VAE), on top of :mod:`wavegen.eval.pitch`.

The spectral distances (MR-STFT, mel) and SI-SDR say how far a reconstruction is from its input
but not *what* is wrong; a decoder that gets the loudness envelope right and every note wrong
can score a middling STFT distance. These say it directly:

- ``f0_within_50c``: fraction of pitched input clips whose reconstruction's f0 is within 50
  cents (a quarter tone) of the input's, per clip the median over the frames voiced in both
  (:func:`wavegen.eval.pitch.f0_error_cents`); a reconstruction with no voiced frame where the
  input has one is a miss.
- ``f0_median_error_cents``: median over those clips of the per-clip error (clips with no
  comparable frame left out; 1200 = an octave).
- ``f0_num_clips``: how many clips were counted: inputs with a confident f0, i.e. at least
  :data:`wavegen.eval.pitch.MIN_VOICED_FRACTION` of their loud frames voiced (noise, silence
  and unpitched speech frames are not a pitch to reproduce).
- ``loudness_correlation``: mean over clips of the Pearson correlation of the input's and the
  reconstruction's frame loudness in dB (:func:`wavegen.eval.pitch.loudness_correlation`;
  clips with a constant loudness curve left out).

Used by ``wavegen vae eval`` (:func:`wavegen.train.autoencode.evaluate_reconstruction`) and, in
TensorBoard as ``recon/*``, by :class:`wavegen.eval.monitors.ReconstructionMonitor`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from wavegen.eval.pitch import (
    MIN_VOICED_FRACTION,
    F0Track,
    estimate_f0,
    f0_error_cents,
    fraction_within_cents,
    loudness_correlation,
    note_of_clips,
)

F0_TOLERANCE_CENTS = 50.0
FIDELITY_KEYS = ("f0_within_50c", "f0_median_error_cents", "f0_num_clips", "loudness_correlation")


def finite_waves(waves: np.ndarray) -> np.ndarray:
    """[N, T] float32 with NaN/Inf set to 0 (a diverged decoder is scored as silence)."""
    return np.nan_to_num(np.asarray(waves, np.float32), nan=0.0, posinf=0.0, neginf=0.0)


def confident_f0(waves: np.ndarray, sample_rate: int, track: F0Track) -> np.ndarray:
    """[N] bool: the clip has a pitch to reproduce (most of its loud frames voiced).

    Args:
        waves: [N, T] float audio.
        sample_rate: Hz.
        track: :func:`wavegen.eval.pitch.estimate_f0` of ``waves``.
    """
    notes = note_of_clips(waves, sample_rate, track=track)
    return np.isfinite(notes.midi) & (notes.voiced_fraction >= MIN_VOICED_FRACTION)


def reconstruction_fidelity(
    inputs: np.ndarray,
    reconstructions: np.ndarray,
    sample_rate: int,
    *,
    input_track: F0Track | None = None,
    **f0_kwargs: Any,
) -> dict[str, float]:
    """Pitch and loudness fidelity of reconstructions of ``inputs`` (see the module docstring).

    Args:
        inputs: [N, T] float original clips.
        reconstructions: [N, T] float, same shape (NaN/Inf count as silence).
        sample_rate: Hz.
        input_track: precomputed :func:`wavegen.eval.pitch.estimate_f0` of ``inputs`` with
            ``f0_kwargs`` (a monitor scores the same inputs every time).
        **f0_kwargs: :func:`wavegen.eval.pitch.estimate_f0` settings (fmin, fmax,
            frame_length, hop_length); the loudness frames use the same framing.

    Returns:
        ``{'f0_within_50c', 'f0_median_error_cents', 'f0_num_clips', 'loudness_correlation'}``
        floats; the f0 ones are NaN when no input has a confident f0 (``f0_num_clips`` 0), the
        median also when no counted clip has a frame voiced in both, the correlation when every
        clip's loudness is constant.
    """
    x, y = finite_waves(inputs), finite_waves(reconstructions)
    if input_track is None:
        input_track = estimate_f0(x, sample_rate, **f0_kwargs)
    output_track = estimate_f0(y, sample_rate, **f0_kwargs)
    errors = f0_error_cents(x, y, sample_rate, tracks=(input_track, output_track))
    counted = confident_f0(x, sample_rate, input_track)
    err = errors[counted]
    comparable = err[np.isfinite(err)]
    framing = {k: int(f0_kwargs[k]) for k in ("frame_length", "hop_length") if k in f0_kwargs}
    corr = loudness_correlation(x, y, sample_rate, **framing)
    corr = corr[np.isfinite(corr)]
    nan = float("nan")
    return {
        "f0_within_50c": fraction_within_cents(err, F0_TOLERANCE_CENTS) if err.size else nan,
        "f0_median_error_cents": float(np.median(comparable)) if comparable.size else nan,
        "f0_num_clips": float(counted.sum()),
        "loudness_correlation": float(np.mean(corr)) if corr.size else nan,
    }
