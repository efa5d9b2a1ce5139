"""End-to-end GAN training on tiny shapes: CLI run, resume, data parallelism, faults."""

import json
import logging
import os
import signal
from pathlib import Path

import jax
import numpy as np
import pytest
import soundfile as sf
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from wavegen import cli
from wavegen.config import load_config
from wavegen.data import AudioDataset, build_dataset
from wavegen.train import build_task
from wavegen.train.checkpoint import CheckpointError
from wavegen.train.loop import TrainingDiverged, fit
from wavegen.train.parallel import make_mesh
from wavegen.train.runs import load_run

REPO = Path(__file__).resolve().parents[2]
TINY = str(REPO / "experiments" / "quickstart.py") + ":tiny"


def tiny(*overrides: str):
    return load_config(TINY, list(overrides))


def params_of(state) -> list[np.ndarray]:
    return [
        np.asarray(x) for x in jax.tree.leaves(jax.device_get({"g": state["g"], "d": state["d"]}))
    ]


def test_cli_train_then_generate(tmp_path):
    work, out = tmp_path / "run", tmp_path / "wavs"
    assert (
        cli.main(
            [
                "train",
                "--config",
                TINY,
                "--workdir",
                str(work),
                "--no-progress",
                "--config.train.num_steps=2",
            ]
        )
        == 0
    )
    assert (work / "config.json").is_file()
    assert (work / "checkpoints" / "2").is_dir()
    acc = EventAccumulator(str(work), size_guidance={"audio": 0, "scalars": 0, "images": 0})
    acc.Reload()
    tags = acc.Tags()
    assert "d/loss" in tags["scalars"] and "g/loss" in tags["scalars"]
    assert "d/gradient_penalty" in tags["scalars"]
    assert any(t.startswith("samples/") for t in tags["audio"])
    assert any(t.startswith("real/") for t in tags["audio"])
    assert any(t.startswith("samples_spectrogram/") for t in tags["images"])

    assert cli.main(["generate", "--workdir", str(work), "--num", "4", "--out", str(out)]) == 0
    wavs = sorted(out.glob("*.wav"))
    assert len(wavs) == 4
    for w in wavs:
        info = sf.info(w)
        assert (info.frames, info.samplerate, info.subtype) == (16384, 16000, "PCM_16")


def test_resume_equals_uninterrupted(tmp_path):
    full = fit(build_task(tiny("train.num_steps=4")), tmp_path / "a", progress=False)
    fit(build_task(tiny("train.num_steps=2")), tmp_path / "b", progress=False)
    resumed = fit(build_task(tiny("train.num_steps=4")), tmp_path / "b", progress=False)
    for x, y in zip(params_of(full), params_of(resumed), strict=True):
        np.testing.assert_array_equal(x, y)


def test_same_seed_same_parameters_other_seed_differs(tmp_path):
    a = fit(build_task(tiny("train.num_steps=2")), tmp_path / "a", progress=False)
    b = fit(build_task(tiny("train.num_steps=2")), tmp_path / "b", progress=False)
    c = fit(build_task(tiny("train.num_steps=2", "seed=1")), tmp_path / "c", progress=False)
    for x, y in zip(params_of(a), params_of(b), strict=True):
        np.testing.assert_array_equal(x, y)
    assert any(not np.array_equal(x, y) for x, y in zip(params_of(a), params_of(c), strict=True))


def test_eight_devices_equal_one_device_with_sgd(tmp_path):
    """Plain SGD (Adam would hide a gradient scale bug): the 8-way data-parallel run's parameters
    after a few steps equal the single-device run's to float tolerance."""
    assert jax.device_count() >= 8, "conftest sets 8 simulated CPU devices"
    overrides = ("train.optimizer=sgd", "train.learning_rate=0.05", "train.num_steps=3")
    one = fit(build_task(tiny(*overrides)), tmp_path / "one", mesh=make_mesh(1), progress=False)
    eight = fit(build_task(tiny(*overrides)), tmp_path / "eight", mesh=make_mesh(8), progress=False)
    init = params_of(build_task(tiny(*overrides)).init_state())
    moved = 0
    for x, y, x0 in zip(params_of(one), params_of(eight), init, strict=True):
        np.testing.assert_allclose(y, x, rtol=2e-4, atol=2e-6)
        moved += not np.allclose(x, x0)
    assert moved > len(init) // 2, "SGD should have changed most parameters"


def test_step_function_compiles_once(tmp_path, caplog):
    caplog.set_level(logging.WARNING)
    with jax.log_compiles(True):
        fit(build_task(tiny("train.num_steps=4")), tmp_path / "run", progress=False)
    compiles = [r for r in caplog.records if r.getMessage().startswith("Compiling jit(step_fn)")]
    assert len(compiles) == 1, [r.getMessage() for r in compiles]


def test_nan_in_batch_stops_with_step_and_keeps_good_checkpoint(tmp_path):
    cfg = tiny("train.num_steps=6")
    clean = build_dataset(cfg.data, split="train", progress=False)
    waves = np.array(clean.waveforms)
    waves[:] = np.nan
    bad = AudioDataset(
        waveforms=waves,
        labels=clean.labels,
        label_names=clean.label_names,
        sample_rate=clean.sample_rate,
        sources=clean.sources,
        skipped=[],
    )
    with pytest.raises(TrainingDiverged, match="step 1"):
        fit(build_task(cfg), tmp_path / "run", dataset=bad, progress=False)
    assert not (tmp_path / "run" / "checkpoints" / "2").exists()


def test_nan_skip_policy_counts_and_keeps_state_finite(tmp_path):
    cfg = tiny("train.num_steps=2", "train.nan_policy=skip")
    clean = build_dataset(cfg.data, split="train", progress=False)
    waves = np.full_like(np.asarray(clean.waveforms), np.nan)
    bad = AudioDataset(waves, clean.labels, clean.label_names, clean.sample_rate, clean.sources, [])
    task = build_task(cfg)
    state = fit(task, tmp_path / "run", dataset=bad, progress=False)
    init = params_of(task.init_state())
    for x, x0 in zip(params_of(state), init, strict=True):
        np.testing.assert_array_equal(x, x0)  # every step skipped: nothing changed, no NaN
    acc = EventAccumulator(str(tmp_path / "run"))
    acc.Reload()
    assert acc.Scalars("train/skipped_steps")[-1].value == 2
    assert acc.Scalars("train/skipped_steps_total")[-1].value == 2  # the run's running total
    assert json.loads((tmp_path / "run" / "done.json").read_text())["skipped_steps_total"] == 2


def test_workdir_with_other_config_is_refused(tmp_path):
    fit(build_task(tiny("train.num_steps=2")), tmp_path / "run", progress=False)
    with pytest.raises(CheckpointError, match="model.dim"):
        fit(build_task(tiny("train.num_steps=2", "model.dim=8")), tmp_path / "run", progress=False)
    # Through the CLI: one clear line, exit status 2.
    rc = cli.main(
        [
            "train",
            "--config",
            TINY,
            "--workdir",
            str(tmp_path / "run"),
            "--config.model.dim=8",
            "--no-progress",
        ]
    )
    assert rc == 2


def test_sigterm_saves_checkpoint_and_resume_matches(tmp_path):
    class StopAtStep2:
        """Delegates to the GAN task and sends itself SIGTERM right after step 2's summaries."""

        def __init__(self, task):
            self._task = task

        def __getattr__(self, name):
            return getattr(self._task, name)

        def summarize(self, state, writer, step):
            self._task.summarize(state, writer, step)
            if step == 2:
                os.kill(os.getpid(), signal.SIGTERM)

    cfg = tiny("train.num_steps=4", "train.checkpoint_every=100")
    fit(StopAtStep2(build_task(cfg)), tmp_path / "b", progress=False)
    assert sorted(
        int(p.name) for p in (tmp_path / "b" / "checkpoints").iterdir() if p.name.isdigit()
    ) == [2]
    resumed = fit(build_task(cfg), tmp_path / "b", progress=False)
    full = fit(build_task(cfg), tmp_path / "a", progress=False)
    for x, y in zip(params_of(full), params_of(resumed), strict=True):
        np.testing.assert_array_equal(x, y)


def test_load_run_restores_the_saved_generator(tmp_path):
    state = fit(build_task(tiny("train.num_steps=2")), tmp_path / "run", progress=False)
    _, restored, step = load_run(tmp_path / "run")
    assert step == 2
    for x, y in zip(jax.tree.leaves(state["g"]), jax.tree.leaves(restored["g"]), strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
