"""Trainers: one shared loop (:mod:`wavegen.train.loop`) and a task per model family."""

from __future__ import annotations

from pathlib import Path

import ml_collections

TASKS = {"wavegan": "gan", "specgan": "gan"}


def build_task(config: ml_collections.ConfigDict):
    """The task object for ``config.model.name`` (see :class:`wavegen.train.loop.Task`)."""
    name = config.model.name
    if name not in TASKS:
        raise ValueError(f"model.name must be one of {sorted(TASKS)}, got {name!r}")
    from wavegen.models import validate_model_config

    validate_model_config(config)
    if TASKS[name] == "gan":
        from wavegen.train.gan import GANTask

        return GANTask(config)
    raise AssertionError(name)


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str | Path, **kwargs):
    """Builds the task for ``config`` and trains it in ``workdir`` (resuming if possible)."""
    from wavegen.train.loop import fit

    return fit(build_task(config), workdir, **kwargs)


__all__ = ["TASKS", "build_task", "train_and_evaluate"]
