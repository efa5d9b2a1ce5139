"""SampleRNN training through the shared loop on tiny shapes: CLI train + generate, resume,
sampling through the task, crops, config checks."""

from pathlib import Path

import jax
import numpy as np
import pytest
import soundfile as sf
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from wavegen import cli
from wavegen.config import load_config
from wavegen.data import mulaw
from wavegen.train import build_task
from wavegen.train.loop import SampleRequest, fit
from wavegen.train.rnn import RNNConfigError, RNNTask, active_lengths

REPO = Path(__file__).resolve().parents[2]
TINY = str(REPO / "experiments" / "samplernn_fsdd.py") + ":tiny"


def tiny(*overrides: str):
    return load_config(TINY, list(overrides))


def params_of(state) -> list[np.ndarray]:
    return [np.asarray(x) for x in jax.tree.leaves(jax.device_get(state["params"]))]


def test_cli_train_then_generate(tmp_path):
    work, out = tmp_path / "run", tmp_path / "wavs"
    assert cli.main(["train", "--config", TINY, "--workdir", str(work), "--no-progress"]) == 0
    assert (work / "checkpoints" / "2").is_dir() and (work / "done.json").is_file()
    acc = EventAccumulator(str(work), size_guidance={"audio": 0, "scalars": 0, "images": 0})
    acc.Reload()
    tags = acc.Tags()
    for name in ("loss/nll", "loss/nll_speech", "loss/bits_per_sample", "heldout/nll"):
        assert name in tags["scalars"], name
    for prefix in ("samples/", "real/", "real_mulaw/"):
        assert any(t.startswith(prefix) for t in tags["audio"]), (prefix, tags["audio"])
    first = acc.Scalars("loss/nll")[0].value
    assert abs(first - np.log(256)) < 0.05  # the zero output layer starts at uniform

    assert cli.main(["generate", "--workdir", str(work), "--num", "3", "--out", str(out)]) == 0
    wavs = sorted(out.glob("*.wav"))
    assert len(wavs) == 3
    for w in wavs:
        info = sf.info(w)
        assert (info.frames, info.samplerate) == (256, 16000)
    # No latent space: --interpolate is a clear user error (exit status 2).
    assert (
        cli.main(
            ["generate", "--workdir", str(work), "--num", "2", "--out", str(out), "--interpolate"]
        )
        == 2
    )


def test_resume_equals_uninterrupted(tmp_path):
    full = fit(build_task(tiny("train.num_steps=4")), tmp_path / "a", progress=False)
    fit(build_task(tiny("train.num_steps=2")), tmp_path / "b", progress=False)
    resumed = fit(build_task(tiny("train.num_steps=4")), tmp_path / "b", progress=False)
    init = params_of(build_task(tiny()).init_state())
    moved = 0
    for x, y, x0 in zip(params_of(full), params_of(resumed), init, strict=True):
        np.testing.assert_array_equal(x, y)
        moved += not np.array_equal(x, x0)
    assert moved == len(init), "every parameter should have been updated"


def test_sample_audio_shapes_range_and_seed():
    task = build_task(tiny())
    state = task.init_state()
    # A random output layer, so that samples are not uniform noise of the initial model alone.
    state["params"]["out"]["kernel"] = (
        np.random.default_rng(0)
        .normal(0, 1, state["params"]["out"]["kernel"].shape)
        .astype(np.float32)
    )
    a = task.sample_audio(state, SampleRequest(3, seed=1, batch_size=2))
    assert a.shape == (3, 256) and a.dtype == np.float32
    assert np.all(np.abs(a) <= 1.0)
    np.testing.assert_array_equal(
        a, task.sample_audio(state, SampleRequest(3, seed=1, batch_size=2))
    )
    assert not np.array_equal(a, task.sample_audio(state, SampleRequest(3, seed=2, batch_size=2)))
    with pytest.raises(ValueError, match="unconditional"):
        task.sample_audio(state, SampleRequest(1, label=0))


def test_conditional_label_changes_the_output_for_the_same_seed():
    task = build_task(tiny("model.num_classes=12"))
    state = task.init_state()
    rng = np.random.default_rng(0)
    for name in ("out", "label_embed"):
        for k, v in state["params"][name].items():
            state["params"][name][k] = rng.normal(0, 1, v.shape).astype(np.float32)
    a = task.sample_audio(state, SampleRequest(2, seed=0, label=3))
    np.testing.assert_array_equal(a, task.sample_audio(state, SampleRequest(2, seed=0, label=3)))
    assert not np.array_equal(a, task.sample_audio(state, SampleRequest(2, seed=0, label=7)))
    with pytest.raises(ValueError, match="outside"):
        task.sample_audio(state, SampleRequest(1, label=12))


def test_conditional_training_runs(tmp_path):
    state = fit(build_task(tiny("model.num_classes=12")), tmp_path / "c", progress=False)
    assert all(np.all(np.isfinite(x)) for x in params_of(state))


def test_crops_stay_inside_the_audio_and_match_the_clip():
    task = RNNTask(tiny())  # seq_len 128, frame 4, data.length 256
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (4, 256)).astype(np.float32)
    x[0, 100:] = 0  # shorter than the crop: starts at 0, padding included
    x[1, 200:] = 0
    length = active_lengths(x)
    np.testing.assert_array_equal(length, [100, 200, 256, 256])
    for seed in range(5):
        crops, offset = jax.device_get(task.crop(x, length, jax.random.key(seed)))
        assert offset[0] == 0 and 0 <= offset[1] <= 200 - 128 and offset[2] <= 256 - 128
        codes = np.asarray(mulaw.encode(x))
        padded = np.concatenate([np.full((4, 4), mulaw.SILENCE), codes], 1)
        for b in range(4):
            np.testing.assert_array_equal(crops[b], padded[b, offset[b] : offset[b] + 4 + 128])


def test_bad_truncation_keys_are_named():
    with pytest.raises(RNNConfigError, match="train.tbptt_len"):
        RNNTask(tiny("train.tbptt_len=30"))
    with pytest.raises(RNNConfigError, match="train.seq_len"):
        RNNTask(tiny("train.seq_len=96"))
    with pytest.raises(RNNConfigError, match="train.seq_len"):
        RNNTask(tiny("train.seq_len=512", "train.tbptt_len=64"))
