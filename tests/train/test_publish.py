"""Published generators: what `wavegen publish` writes reads back as the run's own sampler."""

import json

import jax
import numpy as np
import pytest

from tests.train.test_gan_training import TINY
from wavegen import cli
from wavegen.inference.generate import generate_audio
from wavegen.train.checkpoint import CheckpointError
from wavegen.train.publish import WEIGHTS_FILE, load_published, publish_generator
from wavegen.train.runs import load_run


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    work = tmp_path_factory.mktemp("run")
    args = ["train", "--config", TINY, "--workdir", str(work), "--no-progress"]
    args += [
        "--config.train.num_steps=2",
        "--config.train.ema_decay=0.9",
        "--config.data.length=4096",
    ]
    assert cli.main(args) == 0
    return work


def test_published_generator_samples_what_the_run_samples(run_dir, tmp_path):
    out = publish_generator(run_dir, tmp_path / "pub")
    task, state, step = load_run(run_dir)
    ptask, pstate, pstep = load_run(out)
    assert pstep == step == 2 and set(pstate) == {"g"}
    want = generate_audio(task, state, 5, seed=3)  # the run's EMA weights
    np.testing.assert_array_equal(generate_audio(ptask, pstate, 5, seed=3), want)
    meta = json.loads((out / "meta.json").read_text())
    assert meta["uses_ema"] and meta["step"] == 2
    assert meta["params"] == sum(np.asarray(x).size for x in jax.tree.leaves(state["g_ema"]))


def test_cli_publish_then_generate(run_dir, tmp_path):
    out, wavs = tmp_path / "pub", tmp_path / "wavs"
    assert cli.main(["publish", "--workdir", str(run_dir), "--out", str(out)]) == 0
    assert cli.main(["generate", "--workdir", str(out), "--num", "3", "--out", str(wavs)]) == 0
    assert len(list(wavs.glob("*.wav"))) == 3


def test_tampered_or_mismatched_weights_are_refused(run_dir, tmp_path):
    out = publish_generator(run_dir, tmp_path / "pub")
    with np.load(out / WEIGHTS_FILE) as npz:
        arrays = {k: npz[k] for k in npz.files}
    name = sorted(arrays)[0]
    arrays[name] = arrays[name] + 1.0
    np.savez(out / WEIGHTS_FILE, **arrays)
    with pytest.raises(CheckpointError, match="checksum"):
        load_published(out)
    # A config whose generator has other shapes: named in the error.
    out2 = publish_generator(run_dir, tmp_path / "pub2")
    cfg = json.loads((out2 / "config.json").read_text())
    cfg["model"]["dim"] = 8
    (out2 / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match="project/kernel"):
        load_published(out2)
    out3 = publish_generator(run_dir, tmp_path / "pub3")
    with pytest.raises(CheckpointError, match="step 2 only"):
        load_run(out3, step=1)
