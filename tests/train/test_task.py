"""TaskBase: the state and protocol defaults every family's task shares."""

from __future__ import annotations

import json

import jax.numpy as jnp
import numpy as np
import pytest

from wavegen.data import AudioDataset
from wavegen.defaults import base_config
from wavegen.errors import ConfigError
from wavegen.train import TASKS, task_class
from wavegen.train.task import TaskBase


class TinyTask(TaskBase):
    """A task whose state is a [3, 4] weight, its optimiser's copy and a step counter."""

    def init_state(self):
        w = jnp.zeros((3, 4), jnp.float32)
        return {"params": {"w": w, "b": jnp.zeros(4)}, "opt": {"mu": w}, "step": jnp.int32(0)}


class Float32Task(TinyTask):
    mixed_precision = False


def config(compute_dtype="float32"):
    cfg = base_config()
    cfg.model.compute_dtype = compute_dtype
    return cfg


def test_every_registered_family_builds_on_task_base():
    for name in TASKS:
        assert issubclass(task_class(name), TaskBase), name


def test_defaults_the_loop_reads():
    task = TinyTask(config(), batch_group=3, num_heldout=7)
    assert (task.batch_group, task.num_heldout, task.target, task.heldout) == (3, 7, None, None)
    assert TinyTask(config()).batch_group == 1 and TinyTask(config()).num_heldout == 0


def test_compute_dtype_follows_the_config_unless_the_family_has_none():
    assert TinyTask(config("bfloat16")).dtype == jnp.bfloat16
    assert TinyTask(config()).dtype == jnp.float32
    assert Float32Task(config("bfloat16")).dtype == jnp.float32
    with pytest.raises(ConfigError, match="model.compute_dtype"):
        TinyTask(config("float16"))


def test_label_names_survive_the_checkpoint_meta_as_json():
    saved = TinyTask(config())
    saved.label_names = ["zero", "one", "two"]
    restored = TinyTask(config())
    restored.load_meta(json.loads(json.dumps(saved.extra_meta())))
    assert restored.label_names == ["zero", "one", "two"]
    restored.load_meta({})  # a checkpoint written before labels were saved
    assert restored.label_names == []


def test_set_heldout_keeps_the_clips_and_describe_counts_parameters():
    task = TinyTask(config())
    clips = AudioDataset(np.ones((2, 4), np.float32), np.zeros(2, np.int32), ["a"], 8000,
                         ["mem:0", "mem:1"], [])  # fmt: skip
    task.set_heldout(clips)
    assert task.heldout is clips
    info = task.describe()
    # Optimiser states and the step counter are not parameters: 3 * 4 + 4.
    assert info["params"] == {"params": 16} and info["total_params"] == 16
    assert info["model"] == "wavegan" and info["sample_rate"] == config().data.sample_rate
