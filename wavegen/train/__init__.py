"""Trainers: one shared loop (:mod:`wavegen.train.loop`) and a task per model family.

A family registers its task class here by ``model.name``; the loop, checkpoints, ``wavegen
generate`` and the evaluation code only use the :class:`wavegen.train.loop.Task` protocol
(``init_state``, ``train_step``, ``summarize``, ``sample_audio`` ...), so a new family needs no
other wiring. A task class's ``default_config()`` is its family's config schema
(:mod:`wavegen.defaults`); :mod:`wavegen.train.schema` reads saved run configs against it.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import ml_collections

# model.name -> "module:TaskClass" (imported lazily: a GAN run need not import the VAE code).
TASKS = {
    "wavegan": "wavegen.train.gan:GANTask",
    "specgan": "wavegen.train.gan:GANTask",
    "vae": "wavegen.train.vae:VAETask",
    "samplernn": "wavegen.train.rnn:RNNTask",
    "latent_prior": "wavegen.train.prior:PriorTask",
}


def task_class(name: str) -> type:
    """The task class registered for ``model.name`` (its ``default_config()`` is the family's
    config schema).

    Raises:
      ConfigError: ``name`` names no registered family.
    """
    from wavegen.config import ConfigError

    if name not in TASKS:
        raise ConfigError(f"model.name must be one of {sorted(TASKS)}, got {name!r}")
    module, cls = TASKS[name].split(":")
    return getattr(importlib.import_module(module), cls)


def build_task(config: ml_collections.ConfigDict, *, target=None):
    """The task object for ``config.model.name`` (see :class:`wavegen.train.loop.Task`).

    Args:
      config: the full resolved config.
      target: a :class:`wavegen.models.target.Target`, the devices the task's functions will be
        compiled for (e.g. ``Target.from_mesh(mesh)``); every layer the task builds keeps it.
        None: this process's default backend and all its devices, the target of
        :func:`wavegen.train.loop.fit`'s default mesh. Kept as ``task.target``.

    Raises:
      ConfigError: ``model.name`` names no registered family.
    """
    from wavegen.models.target import use_target

    cls = task_class(config.model.name)
    # The tasks build their networks in their constructors: the scope reaches every layer
    # without each family threading the target through its own code.
    with use_target(target) as chosen:
        task = cls(config)
    task.target = chosen
    return task


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str | Path, **kwargs):
    """Builds the task for ``config`` and trains it in ``workdir`` (resuming if possible)."""
    from wavegen.train.loop import fit

    return fit(build_task(config), workdir, **kwargs)


__all__ = ["TASKS", "build_task", "task_class", "train_and_evaluate"]
