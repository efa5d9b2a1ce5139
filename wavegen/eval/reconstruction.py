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

Used by ``wavegen vae eval`` (:func:`evaluate_reconstruction`) and, in
TensorBoard as ``recon/*``, by :class:`wavegen.eval.monitors.ReconstructionMonitor`.
"""

from __future__ import annotations

import json
from pathlib import Path
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


def evaluate_reconstruction(
    workdir: str | Path,
    split: str = "test",
    *,
    step: int | None = None,
    max_examples: int | None = None,
    out_json: str | Path | None = None,
) -> dict:
    """Held-out reconstruction metrics of a run (posterior-mean reconstructions).

    Metrics (``wavegen.eval.metrics``): ``stft_distance`` (the multi-resolution STFT distance
    with the run's loss FFT sizes), ``mel_distance`` (log-mel L1, n_fft 1024, hop 256, 80 mels)
    and ``si_sdr_db`` (mean over clips that are not silent). Lower is better for the distances.
    Pitch and loudness (``wavegen.eval.reconstruction``, YIN with the pitch monitor's settings
    for ``data.source``): ``f0_within_50c`` (fraction of the ``f0_num_clips`` clips whose input
    has a confident f0 that are reconstructed within 50 cents), ``f0_median_error_cents`` and
    ``loudness_correlation`` (mean per-clip correlation of the dB loudness envelopes).

    Args:
      split: dataset split of the run's ``data`` config.
      max_examples: evaluate only the first N clips.
      out_json: also write the dict there.

    Returns:
      ``{'step', 'split', 'num_examples', 'stft_distance', 'mel_distance', 'si_sdr_db',
      'f0_within_50c', 'f0_median_error_cents', 'f0_num_clips', 'loudness_correlation'}``
      (the f0 ones NaN when no clip has a confident f0).
    """
    from wavegen.data import build_dataset
    from wavegen.data.presets import PITCH_SETTINGS
    from wavegen.eval.metrics import mel_distance, multi_resolution_stft_distance, si_sdr
    from wavegen.train.runs import AutoencodeError, load_vae_run, reconstruct

    task, state, step = load_vae_run(workdir, step)
    data = build_dataset(task.config.data, split=split, progress=False)
    x = np.asarray(data.waveforms[:max_examples], np.float32)
    if len(x) == 0:
        raise AutoencodeError(f"evaluate_reconstruction: the {split!r} split of {workdir} is empty")
    y = reconstruct(task, state, x)
    sr = task.config.data.sample_rate
    energetic = np.std(x, axis=-1) > 1e-6  # SI-SDR is undefined for silent references
    result = {
        "step": int(step),
        "split": split,
        "num_examples": len(x),
        "stft_distance": multi_resolution_stft_distance(y, x, task.stft_sizes),
        "mel_distance": mel_distance(y, x, sr),
        "si_sdr_db": float(np.mean(si_sdr(x[energetic], y[energetic])))
        if energetic.any()
        else float("nan"),
    }
    pitch_settings = PITCH_SETTINGS.get(str(task.config.data.source), {})
    result.update(reconstruction_fidelity(x, y, sr, **pitch_settings))
    result["f0_num_clips"] = int(result["f0_num_clips"])
    if out_json is not None:
        Path(out_json).write_text(json.dumps(result, indent=2))
    return result
