"""Generating audio from a trained run: restore a checkpoint's generator and write WAV files."""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import soundfile as sf

from wavegen.config import from_json
from wavegen.train import build_task
from wavegen.train.checkpoint import Checkpointer, CheckpointError, abstract_like


def load_run(workdir: str | Path, step: int | None = None):
    """Restores (task, state, step) from a workdir's config.json and checkpoints.

    A published-generator folder (``wavegen publish``, e.g. ``pretrained/NAME``) loads too: its
    state holds only the sampling weights, and ``step`` must be None or its own step.
    """
    from wavegen.train.publish import is_published, load_published

    workdir = Path(workdir)
    if is_published(workdir):
        task, state, saved_step = load_published(workdir)
        if step not in (None, saved_step):
            raise CheckpointError(f"{workdir} holds step {saved_step} only, not step {step}")
        return task, state, saved_step
    cfg_path = workdir / "config.json"
    if not cfg_path.is_file():
        raise CheckpointError(f"{workdir} is not a run directory: {cfg_path} is missing")
    config = from_json(cfg_path.read_text())
    config.lock()
    task = build_task(config)
    ckpt = Checkpointer(workdir / "checkpoints", async_save=False)
    try:
        state, meta, step = ckpt.restore(abstract_like(jax.eval_shape(task.init_state)), step)
    finally:
        ckpt.close()
    task.load_meta(meta)
    return task, state, step


def latents(num: int, latent_dim: int, seed: int, *, interpolate: bool = False) -> jax.Array:
    """[num, latent_dim] latents U(-1, 1); with ``interpolate`` a straight line between two."""
    key = jax.random.key(seed)
    if not interpolate:
        return jax.random.uniform(key, (num, latent_dim), minval=-1.0, maxval=1.0)
    ends = jax.random.uniform(key, (2, latent_dim), minval=-1.0, maxval=1.0)
    t = jnp.linspace(0.0, 1.0, num)[:, None]
    return ends[0] * (1 - t) + ends[1] * t


def generate_audio(
    task,
    state,
    num: int,
    *,
    seed: int = 0,
    interpolate: bool = False,
    label: int | None = None,
    batch_size: int = 64,
) -> np.ndarray:
    """Generates ``num`` clips [num, T] float32 in [-1, 1] with the task's ``sample_audio``.

    Every family samples its own way (GAN: G(z); VAE: decoder of prior draws; RNN: ancestral
    sampling); ``label`` selects a class of a conditional model (None: labels cycle 0, 1, ...).
    """
    if num < 1:
        raise ValueError(f"--num must be >= 1, got {num}")
    return task.sample_audio(
        state, num, seed=seed, interpolate=interpolate, label=label, batch_size=batch_size
    )


def write_wavs(
    clips: np.ndarray, out_dir: str | Path, sample_rate: int, prefix: str = ""
) -> list[Path]:
    """Writes clips [N, T] as 16-bit PCM WAVs ``out_dir/{prefix}{i:04d}.wav``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, clip in enumerate(np.asarray(clips)):
        path = out_dir / f"{prefix}{i:04d}.wav"
        sf.write(path, np.clip(clip, -1.0, 1.0), sample_rate, subtype="PCM_16")
        paths.append(path)
    return paths
