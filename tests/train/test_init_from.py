"""Fine-tuning from another run (``train.init_from``): copied values, mismatch errors, resume."""

import os
import shutil
import signal
from pathlib import Path

import jax
import numpy as np
import pytest

from wavegen.config import ConfigError, load_config
from wavegen.train import build_task, loop
from wavegen.train.checkpoint import CheckpointError
from wavegen.train.loop import fit
from wavegen.train.runs import load_run

REPO = Path(__file__).resolve().parents[2]
TINY = str(REPO / "experiments" / "quickstart.py") + ":tiny"


def tiny(*overrides: str):
    return load_config(TINY, ["train.num_steps=2", *overrides])


def leaves(tree) -> list[np.ndarray]:
    return [np.asarray(x) for x in jax.tree.leaves(jax.device_get(tree))]


def assert_trees_equal(a, b) -> None:
    la, lb = leaves(a), leaves(b)
    assert len(la) == len(lb) > 0
    for x, y in zip(la, lb, strict=True):
        np.testing.assert_array_equal(x, y)


class StopAt:
    """Delegates to a task and sends itself SIGTERM after step N's summaries (the loop then
    saves a checkpoint and returns)."""

    def __init__(self, task, step: int):
        self._task, self._step = task, step

    def __getattr__(self, name):
        return getattr(self._task, name)

    def summarize(self, state, writer, step):
        self._task.summarize(state, writer, step)
        if step == self._step:
            os.kill(os.getpid(), signal.SIGTERM)


class StoppedBeforeTheFirstStep(loop.StopRequested):
    """As if SIGTERM arrived before step 1: the loop saves the state it starts from as step 0."""

    def __enter__(self):
        super().__enter__()
        self.signum = signal.SIGTERM
        return self


def initial_state(workdir: Path, monkeypatch, *overrides: str):
    """The state a run starts from, as the loop holds it before its first step (read back)."""
    with monkeypatch.context() as m:
        m.setattr(loop, "StopRequested", StoppedBeforeTheFirstStep)
        fit(build_task(tiny(*overrides)), workdir, progress=False)
    _, state, step = load_run(workdir, 0)
    assert step == 0
    return state


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    """A tiny WaveGAN trained 2 steps (checkpoint 2) with Adam: moved weights, non-zero moments."""
    work = tmp_path_factory.mktemp("source") / "run"
    fit(build_task(tiny()), work, progress=False)
    return work


def test_new_run_starts_from_the_source_parameters_with_fresh_optimizer(
    source, tmp_path, monkeypatch
):
    _, src, _ = load_run(source)
    fresh = build_task(tiny()).init_state()
    # The source really moved away from the initialisation, or equality would prove nothing.
    moved = zip(leaves(src["g"]), leaves(fresh["g"]), strict=True)
    assert any(not np.array_equal(x, y) for x, y in moved)

    start = initial_state(tmp_path / "ft", monkeypatch, f"train.init_from={source}")
    assert_trees_equal(start["g"], src["g"])
    assert_trees_equal(start["d"], src["d"])
    for opt in ("g_opt", "d_opt"):  # Adam's moments and count start again from zero
        assert all(not np.any(x) for x in leaves(start[opt]))


def test_init_optimizer_copies_the_optimizer_state(source, tmp_path, monkeypatch):
    _, src, _ = load_run(source)
    start = initial_state(
        tmp_path / "ft", monkeypatch, f"train.init_from={source}:2", "train.init_optimizer=True"
    )
    for key in ("g", "d", "g_opt", "d_opt"):
        assert_trees_equal(start[key], src[key])
    assert any(np.any(x) for x in leaves(start["g_opt"]))  # moments were non-zero


def test_mismatched_shape_names_the_parameter_and_writes_nothing(source, tmp_path):
    work = tmp_path / "ft"
    with pytest.raises(ConfigError) as e:
        fit(build_task(tiny("model.dim=8", f"train.init_from={source}")), work, progress=False)
    msg = str(e.value)
    assert "train.init_from" in msg
    # G's first dense layer: [latent 100, 16·dim·16] in the source (dim 4), dim 8 here.
    assert "g/project/kernel: source ((100, 1024), 'float32') != this run ((100, 2048)" in msg
    assert not (work / "config.json").exists()  # a corrected command is not refused later


def test_entries_of_another_family_are_listed(source, tmp_path):
    rnn = load_config(
        str(REPO / "experiments" / "samplernn_fsdd.py") + ":tiny", [f"train.init_from={source}"]
    )
    with pytest.raises(
        ConfigError, match=r"only in the source: d, g(.|\n)*only in this run: params"
    ):
        fit(build_task(rnn), tmp_path / "ft", progress=False)


def test_unknown_step_and_missing_run_are_clear_errors(source, tmp_path):
    with pytest.raises(CheckpointError, match=r"no checkpoint for step 7 .*it has \[2\]"):
        fit(build_task(tiny(f"train.init_from={source}:7")), tmp_path / "a", progress=False)
    with pytest.raises(ConfigError, match="holds no run"):
        fit(build_task(tiny(f"train.init_from={tmp_path}/nope")), tmp_path / "b", progress=False)


def test_resumed_fine_tuning_equals_uninterrupted_and_ignores_the_source(source, tmp_path):
    src = tmp_path / "src"
    shutil.copytree(source, src)
    overrides = (f"train.init_from={src}", "train.sample_every=1")
    full = fit(build_task(tiny(*overrides)), tmp_path / "a", progress=False)
    fit(StopAt(build_task(tiny(*overrides)), 1), tmp_path / "b", progress=False)
    assert (tmp_path / "b" / "checkpoints" / "1").is_dir()
    shutil.rmtree(src)  # resuming reads the run's own checkpoint, never the source again
    resumed = fit(build_task(tiny(*overrides)), tmp_path / "b", progress=False)
    for key in ("g", "d", "g_opt", "d_opt"):
        assert_trees_equal(full[key], resumed[key])


VAE_TINY = str(REPO / "experiments" / "vae_notes.py") + ":tiny"


def test_vae_phase_two_fine_tunes_from_a_phase_one_run(tmp_path, monkeypatch):
    """RAVE's workflow: a phase-1 VAE (no discriminator) continued adversarially in a new run.
    Encoder and decoder are the source's, the discriminator (only in the new run) and the
    optimisers start fresh, and the new run trains."""
    phase1 = ["train.adversarial_start=-1", "train.num_steps=2"]
    src_dir = tmp_path / "src"
    fit(build_task(load_config(VAE_TINY, phase1)), src_dir, progress=False)
    _, src, _ = load_run(src_dir)
    phase2 = ["train.adversarial_start=0", "train.num_steps=2", f"train.init_from={src_dir}"]
    fresh = build_task(load_config(VAE_TINY, phase2)).init_state()
    with monkeypatch.context() as m:
        m.setattr(loop, "StopRequested", StoppedBeforeTheFirstStep)
        fit(build_task(load_config(VAE_TINY, phase2)), tmp_path / "ft0", progress=False)
    _, start, _ = load_run(tmp_path / "ft0", 0)
    assert_trees_equal(start["enc"], src["enc"])
    assert_trees_equal(start["dec"], src["dec"])
    assert_trees_equal(start["disc"], fresh["disc"])
    assert all(not np.any(x) for x in leaves(start["dec_opt"]))
    final = fit(build_task(load_config(VAE_TINY, phase2)), tmp_path / "ft", progress=False)
    moved = zip(leaves(final["disc"]), leaves(fresh["disc"]), strict=True)
    assert any(not np.array_equal(x, y) for x, y in moved)  # phase 2 ran: D was updated
    assert int(start["step"]) == 0 and int(src["step"]) == 2  # the counter is the new run's


RNN_TINY = str(REPO / "experiments" / "samplernn_fsdd.py") + ":tiny"


def test_samplernn_fine_tunes_from_a_run_and_resumes_bit_identically(tmp_path, monkeypatch):
    """SampleRNN: the new run starts from the source's parameters with a fresh optimiser, and
    a fine-tuning run stopped after step 1 and resumed equals the uninterrupted one."""
    src_dir = tmp_path / "src"
    fit(build_task(load_config(RNN_TINY)), src_dir, progress=False)
    _, src, _ = load_run(src_dir)
    fresh = build_task(load_config(RNN_TINY)).init_state()
    moved = zip(leaves(src["params"]), leaves(fresh["params"]), strict=True)
    assert any(not np.array_equal(x, y) for x, y in moved)  # the source did train
    overrides = [f"train.init_from={src_dir}", "train.sample_every=1"]
    with monkeypatch.context() as m:
        m.setattr(loop, "StopRequested", StoppedBeforeTheFirstStep)
        fit(build_task(load_config(RNN_TINY, overrides)), tmp_path / "ft0", progress=False)
    _, start, _ = load_run(tmp_path / "ft0", 0)
    assert_trees_equal(start["params"], src["params"])
    assert all(not np.any(x) for x in leaves(start["opt"]))
    full = fit(build_task(load_config(RNN_TINY, overrides)), tmp_path / "a", progress=False)
    fit(StopAt(build_task(load_config(RNN_TINY, overrides)), 1), tmp_path / "b", progress=False)
    assert (tmp_path / "b" / "checkpoints" / "1").is_dir()
    resumed = fit(build_task(load_config(RNN_TINY, overrides)), tmp_path / "b", progress=False)
    for key in ("params", "opt"):
        assert_trees_equal(full[key], resumed[key])
