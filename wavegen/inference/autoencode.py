"""Using a trained waveform VAE on files: encode, decode, reconstruct and interpolate them,
and sample a latent prior through its VAE. The functions ``wavegen vae`` calls.

Latents are posterior means (:mod:`wavegen.train.runs`), [N, L, latent_dim]; waveforms of any
length are padded to whole latent frames and cropped back after decoding.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from wavegen.data import audio_io
from wavegen.inference.generate import write_wavs
from wavegen.train.runs import (
    AutoencodeError,
    decode,
    encode,
    load_run,
    load_vae_run,
    reconstruct,
)

PyTree = Any
VAETask = Any  # wavegen.train.vae.VAETask (not imported: type only)


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
