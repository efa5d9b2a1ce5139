"""Using a trained waveform VAE: encode, decode, reconstruct and interpolate files, sample the
prior, and measure held-out reconstruction quality. The functions the CLI calls.

Latents are posterior means (the deterministic code of a clip), [N, L, latent_dim] with one
frame per ``compression`` samples. Waveforms of any length are zero-padded at the end to a
whole number of latent frames and cropped back after decoding.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from wavegen.data import audio_io, build_dataset
from wavegen.errors import WavegenError
from wavegen.train.checkpoint import CheckpointError
from wavegen.train.generate import load_run, write_wavs
from wavegen.train.vae import VAETask

PyTree = Any


class AutoencodeError(WavegenError):
    """A bad input to the autoencode functions (missing or malformed latents file, bad count)."""


def load_vae_run(workdir: str | Path, step: int | None = None) -> tuple[VAETask, PyTree, int]:
    """Restores (task, state, step) of a VAE run (:func:`wavegen.train.generate.load_run`).

    Raises:
      CheckpointError: not a run directory, not a VAE run, or no usable checkpoint.
    """
    cfg_path = Path(workdir) / "config.json"
    if cfg_path.is_file():  # refuse another family before building and restoring it
        try:
            name = json.loads(cfg_path.read_text()).get("model", {}).get("name")
        except (json.JSONDecodeError, AttributeError):
            name = None  # load_run reports the malformed file
        if name is not None and name != "vae":
            raise CheckpointError(
                f"{workdir} holds a {name!r} run; expected a VAE run (model.name 'vae')"
            )
    task, state, step = load_run(workdir, step)
    if not isinstance(task, VAETask):
        raise CheckpointError(f"{workdir} is not a VAE run (model.name 'vae')")
    return task, state, step


def _pad_to_frames(task: VAETask, waves: np.ndarray) -> np.ndarray:
    waves = np.asarray(waves, np.float32)
    if waves.ndim != 2 or waves.shape[1] == 0:
        raise AutoencodeError(f"expected waveforms [N, T] with T > 0, got shape {waves.shape}")
    pad = -waves.shape[1] % task.settings.compression
    return np.pad(waves, ((0, 0), (0, pad)))


def encode(task: VAETask, state: PyTree, waves: np.ndarray, batch_size: int = 16) -> np.ndarray:
    """Posterior means of waveforms.

    Args:
      waves: [N, T] float32 at the run's sample rate (any T; padded to whole latent frames).

    Returns:
      [N, ceil(T / compression), latent_dim] float32.
    """
    x = _pad_to_frames(task, waves)
    fn = task.encode_fn
    return np.concatenate(
        [np.asarray(fn(state["enc"], x[i : i + batch_size])) for i in range(0, len(x), batch_size)]
    )


def decode(task: VAETask, state: PyTree, latents: np.ndarray, batch_size: int = 16) -> np.ndarray:
    """Waveforms of latent sequences.

    Args:
      latents: [N, L, latent_dim].

    Returns:
      [N, L · compression] float32.
    """
    z = np.asarray(latents, np.float32)
    if z.ndim != 3 or z.shape[-1] != task.settings.latent_dim:
        raise AutoencodeError(
            f"expected latents [N, L, {task.settings.latent_dim}], got shape {z.shape}"
        )
    fn = task.decode_fn
    return np.concatenate(
        [np.asarray(fn(state["dec"], z[i : i + batch_size])) for i in range(0, len(z), batch_size)]
    )


def reconstruct(task: VAETask, state: PyTree, waves: np.ndarray) -> np.ndarray:
    """decode(encode(waves)) cropped to the input length: [N, T] → [N, T]."""
    length = np.shape(waves)[-1]
    return decode(task, state, encode(task, state, waves))[:, :length]


def _read(task: VAETask, path: str | Path) -> np.ndarray:
    """A file as mono float32 [T] at the run's sample rate (AudioDataError if unreadable)."""
    return audio_io.decode(path, task.config.data.sample_rate)


def _write(path: str | Path, audio: np.ndarray, sample_rate: int) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, np.clip(audio, -1.0, 1.0), sample_rate, subtype="PCM_16")
    return path


def reconstruct_file(
    workdir: str | Path, in_wav: str | Path, out_wav: str | Path, step: int | None = None
) -> Path:
    """Encodes and decodes one audio file (any length; resampled to the run's rate).

    Returns:
      The written 16-bit WAV path (same duration as the input at the run's sample rate).
    """
    task, state, _ = load_vae_run(workdir, step)
    x = _read(task, in_wav)
    y = reconstruct(task, state, x[None])[0]
    return _write(out_wav, y, task.config.data.sample_rate)


def encode_files(
    workdir: str | Path,
    in_paths: list[str | Path],
    out_npy: str | Path,
    step: int | None = None,
) -> np.ndarray:
    """Posterior means of audio files, saved as one ``.npy`` array.

    Files are resampled to the run's rate; shorter files are zero-padded at the end to the
    longest one's length, so all have the same number of latent frames.

    Returns:
      The saved latents [N, ceil(T_max / compression), latent_dim] float32 (N = len(in_paths)).
    """
    if not in_paths:
        raise AutoencodeError("encode: no input files given")
    task, state, _ = load_vae_run(workdir, step)
    waves = [_read(task, p) for p in in_paths]
    length = max(w.size for w in waves)
    z = encode(task, state, np.stack([np.pad(w, (0, length - w.size)) for w in waves]))
    out_npy = Path(out_npy)
    out_npy.parent.mkdir(parents=True, exist_ok=True)
    with out_npy.open("wb") as f:  # np.save(path) would append '.npy' to other suffixes
        np.save(f, z)
    return z


def load_latents(path: str | Path) -> np.ndarray:
    """A latents ``.npy`` file as float32 [N, L, D] ([L, D] is read as one sequence).

    Raises:
      AutoencodeError: the file is missing, unreadable, or not 2-D/3-D numeric.
    """
    path = Path(path)
    if not path.is_file():
        raise AutoencodeError(f"{path}: no such latents file")
    try:
        z = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as e:
        raise AutoencodeError(f"{path}: not a .npy array ({e})") from e
    if z.ndim == 2:
        z = z[None]
    if z.ndim != 3 or not np.issubdtype(z.dtype, np.number):
        raise AutoencodeError(
            f"{path}: expected latents [N, L, latent_dim] (as written by encode), got "
            f"{z.dtype} {z.shape}"
        )
    return z.astype(np.float32)


def decode_file(
    workdir: str | Path, latents_npy: str | Path, out_dir: str | Path, step: int | None = None
) -> list[Path]:
    """Decodes a latents ``.npy`` file [N, L, latent_dim] to N WAVs of L · compression samples.

    Returns:
      Paths ``out_dir/decoded_0000.wav`` … at the run's sample rate.
    """
    z = load_latents(latents_npy)
    task, state, _ = load_vae_run(workdir, step)
    return write_wavs(
        decode(task, state, z), out_dir, task.config.data.sample_rate, prefix="decoded_"
    )


def interpolate_files(
    workdir: str | Path,
    a_wav: str | Path,
    b_wav: str | Path,
    n: int,
    out_dir: str | Path,
    step: int | None = None,
) -> list[Path]:
    """Decodes ``n`` straight-line interpolations between the latent sequences of two files.

    The shorter file is zero-padded to the longer one's length, so both latent sequences have
    the same number of frames; clip i decodes ``(1 - t_i) z_a + t_i z_b``, ``t_i = i / (n-1)``.

    Returns:
      Paths ``out_dir/interp_0000.wav`` … in order from a to b.
    """
    if n < 2:
        raise AutoencodeError(f"interpolate_files: n must be >= 2 (the two ends), got {n}")
    task, state, _ = load_vae_run(workdir, step)
    a, b = _read(task, a_wav), _read(task, b_wav)
    length = max(a.size, b.size)
    pair = np.stack([np.pad(a, (0, length - a.size)), np.pad(b, (0, length - b.size))])
    z_a, z_b = encode(task, state, pair)
    t = np.linspace(0.0, 1.0, n, dtype=np.float32)[:, None, None]
    clips = decode(task, state, (1 - t) * z_a + t * z_b)[:, :length]
    return write_wavs(clips, out_dir, task.config.data.sample_rate, prefix="interp_")


def _load_prior_run(prior: str | Path, vae_workdir: str | Path) -> tuple[Any, PyTree]:
    """(PriorTask, state) of a latent-prior run whose ``prior.vae_workdir`` is ``vae_workdir``.

    Raises:
      AutoencodeError: ``prior`` is not a latent-prior run, or one over another VAE.
    """
    from wavegen.train.prior import PriorTask

    prior_task, prior_state, _ = load_run(prior)
    if not isinstance(prior_task, PriorTask):
        raise AutoencodeError(
            f"--prior {prior}: a {prior_task.config.model.name!r} run, not a latent prior"
        )
    if Path(prior_task.vae_workdir).resolve() != Path(vae_workdir).resolve():
        raise AutoencodeError(
            f"--prior {prior} was trained over the VAE {prior_task.vae_workdir}, not {vae_workdir}"
        )
    return prior_task, prior_state


def sample_prior(
    workdir: str | Path,
    n: int,
    seconds: float,
    out_dir: str | Path,
    *,
    seed: int = 0,
    temperature: float = 1.0,
    step: int | None = None,
    prior: str | Path | None = None,
) -> list[Path]:
    """Decodes latent sequences drawn from the VAE prior N(0, temperature² I), or from a
    learned prior.

    Without ``prior`` frames are drawn independently, so this shows what the decoder makes of
    the prior, not a model of latent dynamics. ``prior`` names a latent-prior run
    (``model.name`` 'latent_prior', :mod:`wavegen.train.prior`) trained over this VAE: its
    autoregressive samples are decoded instead, ``temperature`` multiplying its predicted
    scales (conditional priors cycle through their classes).

    Returns:
      Paths ``out_dir/prior_0000.wav`` …, each ``seconds`` long.
    """
    if n < 1 or seconds <= 0 or temperature < 0:
        raise AutoencodeError(
            f"sample_prior: expected n >= 1, seconds > 0 and temperature >= 0, got {n}, "
            f"{seconds}, {temperature}"
        )
    task, state, _ = load_vae_run(workdir, step)
    sr = task.config.data.sample_rate
    length = int(round(seconds * sr))
    frames = -(-length // task.settings.compression)
    if prior is None:
        rng = np.random.default_rng(seed)
        z = temperature * rng.standard_normal((n, frames, task.settings.latent_dim))
    else:
        prior_task, prior_state = _load_prior_run(prior, workdir)
        z = prior_task.sample_latents(
            prior_state, n, frames=frames, seed=seed, temperature=temperature
        )
    clips = decode(task, state, z.astype(np.float32))[:, :length]
    return write_wavs(clips, out_dir, sr, prefix="prior_")


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
    from wavegen.eval.metrics import mel_distance, multi_resolution_stft_distance, si_sdr
    from wavegen.eval.monitors import PITCH_SETTINGS
    from wavegen.eval.reconstruction import reconstruction_fidelity

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
