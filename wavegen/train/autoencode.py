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

import jax
import numpy as np
import soundfile as sf

from wavegen.config import from_json
from wavegen.data import audio_io, build_dataset
from wavegen.train.checkpoint import Checkpointer, CheckpointError, abstract_like
from wavegen.train.generate import write_wavs
from wavegen.train.vae import VAETask

PyTree = Any


def load_vae_run(workdir: str | Path, step: int | None = None) -> tuple[VAETask, PyTree, int]:
    """Restores (task, state, step) of a VAE run from its config.json and checkpoints.

    Raises:
      CheckpointError: not a run directory, not a VAE run, or no usable checkpoint.
    """
    workdir = Path(workdir)
    cfg_path = workdir / "config.json"
    if not cfg_path.is_file():
        raise CheckpointError(f"{workdir} is not a run directory: {cfg_path} is missing")
    config = from_json(cfg_path.read_text())
    if config.model.name != "vae":
        raise CheckpointError(
            f"{workdir} holds a {config.model.name!r} run; expected model.name 'vae'"
        )
    config.lock()
    task = VAETask(config)
    ckpt = Checkpointer(workdir / "checkpoints", async_save=False)
    try:
        state, meta, step = ckpt.restore(abstract_like(jax.eval_shape(task.init_state)), step)
    finally:
        ckpt.close()
    task.load_meta(meta)
    return task, state, step


def _jitted(task: VAETask, name: str):
    """One jitted function per task and kind, reused across calls (compiled per shape)."""
    cache = task.__dict__.setdefault("_autoencode_fns", {})
    if name not in cache:
        if name == "encode":
            cache[name] = jax.jit(lambda enc, x: task.encode(enc, x)[0])
        else:
            cache[name] = jax.jit(task.decode)
    return cache[name]


def _pad_to_frames(task: VAETask, waves: np.ndarray) -> np.ndarray:
    waves = np.asarray(waves, np.float32)
    if waves.ndim != 2 or waves.shape[1] == 0:
        raise ValueError(f"expected waveforms [N, T] with T > 0, got shape {waves.shape}")
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
    fn = _jitted(task, "encode")
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
        raise ValueError(
            f"expected latents [N, L, {task.settings.latent_dim}], got shape {z.shape}"
        )
    fn = _jitted(task, "decode")
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
        raise ValueError(f"interpolate_files: n must be >= 2 (the two ends), got {n}")
    task, state, _ = load_vae_run(workdir, step)
    a, b = _read(task, a_wav), _read(task, b_wav)
    length = max(a.size, b.size)
    pair = np.stack([np.pad(a, (0, length - a.size)), np.pad(b, (0, length - b.size))])
    z_a, z_b = encode(task, state, pair)
    t = np.linspace(0.0, 1.0, n, dtype=np.float32)[:, None, None]
    clips = decode(task, state, (1 - t) * z_a + t * z_b)[:, :length]
    return write_wavs(clips, out_dir, task.config.data.sample_rate, prefix="interp_")


def sample_prior(
    workdir: str | Path,
    n: int,
    seconds: float,
    out_dir: str | Path,
    *,
    seed: int = 0,
    temperature: float = 1.0,
    step: int | None = None,
) -> list[Path]:
    """Decodes latent sequences drawn from the VAE prior N(0, temperature² I).

    Frames are drawn independently, so this shows what the decoder makes of the prior, not a
    model of latent dynamics (RAVE trains a separate autoregressive prior for that).

    Returns:
      Paths ``out_dir/prior_0000.wav`` …, each ``seconds`` long.
    """
    if n < 1 or seconds <= 0:
        raise ValueError(f"sample_prior: expected n >= 1 and seconds > 0, got {n}, {seconds}")
    task, state, _ = load_vae_run(workdir, step)
    sr = task.config.data.sample_rate
    length = int(round(seconds * sr))
    frames = -(-length // task.settings.compression)
    rng = np.random.default_rng(seed)
    z = temperature * rng.standard_normal((n, frames, task.settings.latent_dim))
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

    Args:
      split: dataset split of the run's ``data`` config.
      max_examples: evaluate only the first N clips.
      out_json: also write the dict there.

    Returns:
      ``{'step', 'split', 'num_examples', 'stft_distance', 'mel_distance', 'si_sdr_db'}``.
    """
    from wavegen.eval.metrics import mel_distance, multi_resolution_stft_distance, si_sdr

    task, state, step = load_vae_run(workdir, step)
    data = build_dataset(task.config.data, split=split, progress=False)
    x = np.asarray(data.waveforms[:max_examples], np.float32)
    if len(x) == 0:
        raise ValueError(f"evaluate_reconstruction: the {split!r} split of {workdir} is empty")
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
    if out_json is not None:
        Path(out_json).write_text(json.dumps(result, indent=2))
    return result
