"""Checkpoint faults: tampered files, unwritable or vanished directories, no NaN saved, no pickle.

Complements test_gan_training.py (NaN in every example, SIGTERM, config mismatch): here the
damage is to the checkpoint files themselves and to the directories under a running job.
"""

import pickle
import re
import shutil
import time
from pathlib import Path

import jax
import numpy as np
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from wavegen import cli
from wavegen.config import load_config
from wavegen.data import AudioDataset, build_dataset
from wavegen.train import build_task
from wavegen.train.checkpoint import Checkpointer, CheckpointError
from wavegen.train.loop import TrainingDiverged, fit
from wavegen.train.runs import load_run

REPO = Path(__file__).resolve().parents[2]
TINY = str(REPO / "experiments" / "quickstart.py") + ":tiny"


def small_state():
    rng = np.random.default_rng(0)
    return {
        "w": rng.standard_normal((64, 256)).astype(np.float32),
        "b": rng.standard_normal(7).astype(np.float32),
        "count": np.arange(5, dtype=np.int32),
    }


def saved(tmp_path, steps=(1, 2)) -> Path:
    ckpt = Checkpointer(tmp_path / "ckpt", async_save=False)
    for s in steps:
        ckpt.save(s, {k: v + s for k, v in small_state().items()}, {"step": s})
    ckpt.close()
    return tmp_path / "ckpt"


def array_file(step_dir: Path) -> Path:
    """The largest tensorstore data file of a step: where the array bytes are."""
    files = [p for p in (step_dir / "state").rglob("*") if p.is_file() and "/d/" in str(p)]
    return max(files, key=lambda p: p.stat().st_size)


def tamper(step_dir: Path, how: str) -> None:
    if how == "flip_one_byte":
        f = array_file(step_dir)
        data = bytearray(f.read_bytes())
        data[len(data) // 2] ^= 0x01
        f.write_bytes(bytes(data))
    elif how == "truncate_array_file":
        f = array_file(step_dir)
        f.write_bytes(f.read_bytes()[: f.stat().st_size // 3])
    elif how == "delete_array_file":
        array_file(step_dir).unlink()
    elif how == "garbage_meta":
        (step_dir / "meta" / "metadata").write_text("{not json")
    elif how == "edited_checksums":
        import json

        meta = json.loads((step_dir / "meta" / "metadata").read_text())
        key = next(iter(meta["state_checksums"]))
        meta["state_checksums"][key] += 1
        (step_dir / "meta" / "metadata").write_text(json.dumps(meta))
    elif how == "delete_state_metadata":
        (step_dir / "state" / "_METADATA").unlink()
    else:
        raise AssertionError(how)


TAMPERS = [
    "flip_one_byte",
    "truncate_array_file",
    "delete_array_file",
    "garbage_meta",
    "edited_checksums",
    "delete_state_metadata",
]


@pytest.mark.parametrize("how", TAMPERS)
def test_tampered_checkpoint_is_a_clear_error_and_older_steps_still_restore(how, tmp_path):
    directory = saved(tmp_path)
    tamper(directory / "2", how)
    ckpt = Checkpointer(directory, async_save=False)
    abstract = jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype), small_state())
    with pytest.raises(CheckpointError, match=re.escape(str(directory / "2"))):
        ckpt.restore(abstract)
    state, meta, step = ckpt.restore(abstract, step=1)  # the earlier checkpoint is intact
    ckpt.close()
    assert step == 1 and meta == {"step": 1}
    for k, v in small_state().items():
        np.testing.assert_array_equal(state[k], v + 1)


def test_checksums_survive_a_round_trip_and_are_not_returned_as_meta(tmp_path):
    directory = saved(tmp_path, steps=(3,))
    ckpt = Checkpointer(directory, async_save=False)
    abstract = jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype), small_state())
    state, meta, _ = ckpt.restore(abstract)
    ckpt.close()
    assert meta == {"step": 3}
    np.testing.assert_array_equal(state["w"], small_state()["w"] + 3)


def test_nonfinite_state_is_never_saved(tmp_path):
    ckpt = Checkpointer(tmp_path / "ckpt", async_save=False)
    ckpt.save(1, small_state(), {})
    bad = small_state()
    bad["b"][3] = np.inf
    with pytest.raises(CheckpointError, match=r"refusing to save step 2.*\['b'\]"):
        ckpt.save(2, bad, {})
    assert ckpt.all_steps() == [1]
    ckpt.close()


def test_no_pickle_on_checkpoint_and_cache_load_paths(tmp_path, monkeypatch, make_tiny_folder):
    # Static: nothing in the package imports pickle or allows it in np.load.
    for path in (REPO / "wavegen").rglob("*.py"):
        text = path.read_text()
        assert not re.search(r"^\s*(import|from)\s+(c?pickle|cloudpickle|dill)\b", text, re.M), path
        assert "allow_pickle=True" not in text, path
    # Dynamic: restoring a checkpoint and loading a cache entry work with pickle disabled.
    directory = saved(tmp_path)

    def boom(*a, **k):
        raise AssertionError("pickle used on a load path")

    for name in ("load", "loads", "Unpickler"):
        monkeypatch.setattr(pickle, name, boom)
    ckpt = Checkpointer(directory, async_save=False)
    abstract = jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype), small_state())
    ckpt.restore(abstract)
    ckpt.close()
    cfg = make_tiny_folder(tmp_path)
    build_dataset(cfg, progress=False)
    assert build_dataset(cfg, progress=False).cache_path  # the second build is a cache load


@pytest.fixture
def make_tiny_folder():
    import soundfile as sf

    from wavegen.defaults import data_config

    def make(root: Path):
        for i in range(2):
            (root / "audio").mkdir(exist_ok=True)
            sf.write(root / "audio" / f"{i}.wav", np.zeros(500, np.float32), 8000)
        cfg = data_config()
        cfg.update(source="folder", path=str(root / "audio"), cache_dir=str(root / "cache"))
        cfg.update(length=1024, sample_rate=8000, split="all")
        return cfg

    return make


# --- training runs ------------------------------------------------------------------------------


def tiny(*overrides: str):
    return load_config(TINY, list(overrides))


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("trained") / "run"
    fit(build_task(tiny("train.num_steps=2", "train.checkpoint_every=1")), work, progress=False)
    return work


def test_tampered_run_fails_clearly_in_load_run_and_cli(trained, tmp_path, capsys):
    work = tmp_path / "run"
    shutil.copytree(trained, work)
    tamper(work / "checkpoints" / "2", "flip_one_byte")
    with pytest.raises(CheckpointError, match="damaged or was modified"):
        load_run(work)
    _, _, step = load_run(work, step=1)
    assert step == 1
    rc = cli.main(["generate", "--workdir", str(work), "--num", "1", "--out", str(tmp_path / "o")])
    assert rc == 2 and "damaged or was modified" in capsys.readouterr().err


class Hook:
    """Delegates to a task and runs ``fn(step)`` after the summaries of each step."""

    def __init__(self, task, fn):
        self._task, self._fn = task, fn

    def __getattr__(self, name):
        return getattr(self._task, name)

    def summarize(self, state, writer, step):
        self._task.summarize(state, writer, step)
        self._fn(step)


def test_checkpoint_dir_deleted_mid_run_is_a_clear_error(tmp_path):
    work = tmp_path / "run"
    cfg = tiny("train.num_steps=4", "train.checkpoint_every=1", "train.sample_every=1")

    def delete(step):
        if step == 2:
            # The async save of step 2 may still be writing files into the tree: retry until the
            # directory is gone, as `rm -rf` run by a person (racing the writer) eventually does.
            for _ in range(200):
                shutil.rmtree(work / "checkpoints", ignore_errors=True)
                if not (work / "checkpoints").exists():
                    break
                time.sleep(0.05)

    try:
        fit(Hook(build_task(cfg), delete), work, progress=False)
    except CheckpointError as e:
        assert str(work / "checkpoints") in str(e)
    else:
        # orbax recreated the directory: then what it holds must be complete and restorable.
        _, _, step = load_run(work)
        assert step == 4


def test_unwritable_checkpoint_dir_is_a_clear_error_and_keeps_earlier_steps(tmp_path):
    work = tmp_path / "run"
    fit(build_task(tiny("train.num_steps=2")), work, progress=False)
    # The tests may run as root, which ignores permission bits: a regular file where the
    # checkpoint directory should be makes it unwritable for anyone.
    ckpts = work / "checkpoints"
    moved = tmp_path / "kept"
    shutil.move(ckpts, moved)
    ckpts.write_text("not a directory")
    with pytest.raises(CheckpointError, match="checkpoint"):
        fit(build_task(tiny("train.num_steps=4")), work, progress=False)
    ckpts.unlink()
    shutil.move(moved, ckpts)
    _, _, step = load_run(work)
    assert step == 2  # the earlier checkpoint is intact and still restores


def test_workdir_that_is_a_file_is_a_clear_error(tmp_path):
    work = tmp_path / "run"
    work.write_text("I am a file")
    with pytest.raises((CheckpointError, OSError), match=re.escape(str(work))):
        fit(build_task(tiny("train.num_steps=1")), work, progress=False)
    rc = cli.main(["train", "--config", TINY, "--workdir", str(work), "--no-progress"])
    assert rc == 2


def one_nan_example(cfg) -> tuple[AudioDataset, int]:
    clean = build_dataset(cfg.data, split="train", progress=False)
    waves = np.array(clean.waveforms)
    waves[5, 100] = np.nan
    ds = AudioDataset(waves, clean.labels, clean.label_names, clean.sample_rate, clean.sources, [])
    return ds, len(waves)


def test_nan_in_one_example_stop_names_its_step_skip_counts_it(tmp_path):
    """One NaN sample in one example: 'skip' skips exactly the steps whose batch holds it (one per
    epoch) and logs the count; 'stop' raises naming that same first step, and every checkpoint
    kept restores to finite values."""
    base = ("train.num_steps=6", "train.log_every=1", "train.checkpoint_every=1")
    cfg = tiny(*base, "train.nan_policy=skip")
    ds, n = one_nan_example(cfg)
    per_step = 8 * 2  # batch_size x d_steps of the tiny config
    epochs = 6 * per_step // n
    state = fit(build_task(cfg), tmp_path / "skip", dataset=ds, progress=False)
    acc = EventAccumulator(str(tmp_path / "skip"), size_guidance={"scalars": 0})
    acc.Reload()
    skipped = [e.step for e in acc.Scalars("train/skipped_steps") if e.value > 0]
    assert 1 <= len(skipped) <= epochs + 1, skipped
    assert all(np.isfinite(np.asarray(x)).all() for x in jax.tree.leaves(state))

    stop = tiny(*base)
    with pytest.raises(TrainingDiverged, match=rf"at step {skipped[0]} \(nan_policy='stop'\)"):
        fit(build_task(stop), tmp_path / "stop", dataset=ds, progress=False)
    ckpt = Checkpointer(tmp_path / "stop" / "checkpoints", async_save=False)
    kept = list(range(max(1, skipped[0] - 3), skipped[0]))  # keep_checkpoints=3
    assert ckpt.all_steps() == kept
    ckpt.close()
    for step in kept:
        _, restored, _ = load_run(tmp_path / "stop", step=step)
        assert all(np.isfinite(np.asarray(x)).all() for x in jax.tree.leaves(restored))
