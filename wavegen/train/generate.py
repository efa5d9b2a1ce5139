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
    """Restores (task, state, step) from a workdir's config.json and checkpoints."""
    workdir = Path(workdir)
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
    """Generates ``num`` clips [num, T] float32 in [-1, 1] from the restored generator."""
    cfg = task.config
    z = latents(num, cfg.model.latent_dim, seed, interpolate=interpolate)
    labels = None
    if cfg.model.num_classes > 0:
        if label is None:
            labels = jnp.arange(num, dtype=jnp.int32) % cfg.model.num_classes
        else:
            if not 0 <= label < cfg.model.num_classes:
                raise ValueError(f"label {label} outside [0, {cfg.model.num_classes})")
            labels = jnp.full((num,), label, jnp.int32)
    elif label is not None:
        raise ValueError("--label given, but this model is unconditional (model.num_classes=0)")
    sample = jax.jit(task.generate)
    out = []
    for i in range(0, num, batch_size):
        lab = None if labels is None else labels[i : i + batch_size]
        out.append(np.asarray(jax.device_get(sample(state["g"], z[i : i + batch_size], lab))))
    return task.to_audio(np.concatenate(out))


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
