"""Restoring a trained run from its workdir, and applying a restored VAE to arrays.

:func:`load_run` is what ``wavegen generate``, evaluation, export, fine-tuning and the latent
prior (which encodes its data with a trained VAE) read a run with; a published folder
(``wavegen publish``) loads the same way. The VAE helpers work on posterior means, [N, L,
latent_dim] with one frame per ``compression`` samples; waveforms of any length are zero-padded
at the end to a whole number of latent frames.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jax
import numpy as np

from wavegen.errors import WavegenError
from wavegen.train import build_task
from wavegen.train.checkpoint import Checkpointer, CheckpointError, abstract_like
from wavegen.train.schema import read_run_config

PyTree = Any


class AutoencodeError(WavegenError):
    """A bad input to the autoencode functions (missing or malformed latents file, bad count)."""


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
    config = read_run_config(cfg_path)  # upgraded to the family's current schema
    config.lock()
    task = build_task(config)
    ckpt = Checkpointer(workdir / "checkpoints", async_save=False)
    try:
        state, meta, step = ckpt.restore(abstract_like(jax.eval_shape(task.init_state)), step)
    finally:
        ckpt.close()
    task.load_meta(meta)
    return task, state, step


def load_vae_run(workdir: str | Path, step: int | None = None) -> tuple[Any, PyTree, int]:
    """Restores (task, state, step) of a VAE run (:func:`load_run`).

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
    from wavegen.train.vae import VAETask  # lazy: a GAN run need not import the VAE code

    task, state, step = load_run(workdir, step)
    if not isinstance(task, VAETask):
        raise CheckpointError(f"{workdir} is not a VAE run (model.name 'vae')")
    return task, state, step


def _pad_to_frames(task: Any, waves: np.ndarray) -> np.ndarray:
    waves = np.asarray(waves, np.float32)
    if waves.ndim != 2 or waves.shape[1] == 0:
        raise AutoencodeError(f"expected waveforms [N, T] with T > 0, got shape {waves.shape}")
    pad = -waves.shape[1] % task.settings.compression
    return np.pad(waves, ((0, 0), (0, pad)))


def encode(task: Any, state: PyTree, waves: np.ndarray, batch_size: int = 16) -> np.ndarray:
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


def decode(task: Any, state: PyTree, latents: np.ndarray, batch_size: int = 16) -> np.ndarray:
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


def reconstruct(task: Any, state: PyTree, waves: np.ndarray) -> np.ndarray:
    """decode(encode(waves)) cropped to the input length: [N, T] → [N, T]."""
    length = np.shape(waves)[-1]
    return decode(task, state, encode(task, state, waves))[:, :length]
