"""The shared training loop in isolation: fit() and make_step_fn() on a dummy task with a known
update, so every number (state, logged means, checkpoints, skipped steps, keys) is computed here
independently in numpy and compared exactly.

The dummy is SGD with learning rate 1/2 on the quadratic 0.5·mean_i ||w - x_i||²: the gradient is
w - mean(x), so one step is w ← (w + mean(x)) / 2. The data are integers in [-8, 8] and batches
hold 8 examples, so mean(x) has at most 3 fractional bits and every step adds one: after up to 16
updates w is exact in float32 (4 integer + 3 + 16 fractional bits < 24), whatever the reduction
order across the 8 devices, and the numpy float64 simulation below must equal it bit for bit.
The batch order is the one BatchIterator documents: epoch e is
``np.random.default_rng((seed, e)).permutation(N)`` cut into N // B batches (remainder dropped).

The real-task tests (test_gan_training.py, test_checkpoint_faults.py) cover the GAN through the
loop (CLI, SIGTERM, config mismatch, NaN in real data, damaged checkpoints); these pin the loop's
own bookkeeping to exact expectations.
"""

from __future__ import annotations

import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from wavegen.data import AudioDataset, build_dataset
from wavegen.defaults import base_config
from wavegen.train.checkpoint import Checkpointer, abstract_like
from wavegen.train.loop import (
    SampleRequest,
    SampleRequestError,
    TrainingDiverged,
    fit,
    make_step_fn,
)

N, LENGTH, BATCH = 28, 4, 8  # 3 batches per epoch, 4 examples dropped each epoch
LR = 0.5
W0 = np.array([0.5, -1.0, 2.0, 0.0], np.float32)
SEED = 3  # the run's seed: batch order and step keys


def make_dataset(poison: int | None = None) -> AudioDataset:
    """N clips of LENGTH samples, multiples of 1/8 in [-1, 1]; ``poison`` gets label 1."""
    rng = np.random.default_rng(123)
    waves = (rng.integers(-8, 9, (N, LENGTH)) / 8).astype(np.float32)
    labels = np.zeros(N, np.int32)
    if poison is not None:
        labels[poison] = 1
    sources = [f"mem:{i}" for i in range(N)]
    return AudioDataset(waves, labels, ["clean", "poison"], 8000, sources, [])


def make_config(**train):
    cfg = base_config()
    cfg.seed = SEED
    cfg.data.seed = SEED  # equal: the expectation holds whichever one orders the batches
    cfg.data.length = LENGTH
    cfg.data.sample_rate = 8000
    cfg.train.update(
        batch_size=BATCH,
        num_steps=10,
        log_every=3,
        checkpoint_every=4,
        sample_every=5,
        keep_checkpoints=2,
        nan_policy="stop",
    )
    cfg.train.update(train)
    return cfg


class QuadraticTask:
    """SGD on 0.5·mean||w - x||² (see the module docstring); a batch holding the poison example
    makes the new w and the loss NaN. State: w [LENGTH], count (steps applied), u (a uniform
    drawn from the step key)."""

    num_heldout = 0  # no held-out set is built for it
    target = None  # built for no particular devices

    def __init__(self, config, batch_group: int = 1, crash_at: int | None = None):
        self.config = config
        self.batch_group = batch_group
        self.crash_at = crash_at
        self.summarized: list[tuple[int, np.ndarray, float]] = []
        self.reference_calls = 0
        self.loaded_meta: dict | None = None

    def data_arrays(self, dataset):
        return {
            "x": (np.asarray(dataset.waveforms) * 8).astype(np.float32),
            "poison": (dataset.labels == 1).astype(np.int32),
        }

    def init_state(self):
        return {"w": jnp.asarray(W0), "count": jnp.int32(0), "u": jnp.float32(0.0)}

    def train_step(self, state, batch, key):
        xs, poison = batch["x"], batch["poison"]
        if self.batch_group == 1:
            xs, poison = xs[None], poison[None]
        w = state["w"]
        loss = jnp.float32(0.0)
        for g in range(self.batch_group):
            loss = 0.5 * jnp.mean(jnp.sum((w - xs[g]) ** 2, axis=-1))  # at the w it updates
            w = w - LR * (w - jnp.mean(xs[g], axis=0))
        bad = jnp.any(poison > 0)
        w = jnp.where(bad, jnp.nan, w)
        loss = jnp.where(bad, jnp.nan, loss)
        new = {"w": w, "count": state["count"] + 1, "u": jax.random.uniform(key, ())}
        return new, {"train/loss": loss, "train/batch_sum": jnp.sum(xs)}

    def summarize(self, state, writer, step):
        self.summarized.append((step, np.array(state["w"]), float(state["u"])))
        if step == self.crash_at:
            raise RuntimeError(f"simulated crash at step {step}")

    def reference_summaries(self, dataset, writer):
        self.reference_calls += 1

    def extra_meta(self):
        return {"dummy": {"lr": LR}}

    def load_meta(self, meta):
        self.loaded_meta = meta

    def sample_audio(self, state, request):
        return np.zeros((request.num, LENGTH), np.float32)


def batch_indices(position: int, seed: int = SEED) -> np.ndarray:
    """Example indices of global batch ``position`` of the stream (BatchIterator's documented
    order, written out)."""
    per_epoch = N // BATCH
    epoch, b = divmod(position, per_epoch)
    return np.random.default_rng((seed, epoch)).permutation(N)[b * BATCH : (b + 1) * BATCH]


def simulate(num_steps: int, *, group: int = 1, poison: int | None = None, skip: bool = False):
    """The run in float64 numpy: per step (1-based) the w after it, loss, batch sum, skipped."""
    x = make_dataset().waveforms.astype(np.float64) * 8
    w = W0.astype(np.float64)
    out = []
    for s in range(num_steps):
        new, loss, total, bad = w.copy(), 0.0, 0.0, False
        for g in range(group):
            idx = batch_indices(s * group + g)
            xb = x[idx]
            loss = 0.5 * np.mean(np.sum((new - xb) ** 2, axis=-1))
            new = new - LR * (new - xb.mean(axis=0))
            total += xb.sum()
            bad |= poison is not None and poison in idx
        if bad:
            loss = np.nan
        if not (bad and skip):
            w = np.full_like(new, np.nan) if bad else new
        out.append({"step": s + 1, "w": w.copy(), "loss": loss, "sum": total, "skipped": bad})
    return out


def expected_u(step: int, seed: int = SEED) -> float:
    """The uniform the task draws at 0-based ``step``: from fold_in(key(seed), step)."""
    return float(jax.random.uniform(jax.random.fold_in(jax.random.key(seed), step), ()))


def scalars(workdir: Path, tag: str) -> list[tuple[int, float]]:
    acc = EventAccumulator(str(workdir), size_guidance={"scalars": 0})
    acc.Reload()
    return [(e.step, e.value) for e in acc.Scalars(tag)]


def host(state) -> dict[str, np.ndarray]:
    return {k: np.asarray(v) for k, v in jax.device_get(state).items()}


def test_fit_runs_num_steps_to_the_numpy_state_and_logs_window_means(tmp_path):
    task = QuadraticTask(make_config())
    state = host(fit(task, tmp_path / "run", dataset=make_dataset(), progress=False))
    sim = simulate(10)

    np.testing.assert_array_equal(state["w"], sim[-1]["w"].astype(np.float32))
    assert state["w"].dtype == np.float32 and state["count"] == 10
    assert state["u"] == np.float32(expected_u(9))  # the last step's key: fold_in(key, 9)
    assert json.loads((tmp_path / "run" / "done.json").read_text()) == {
        "step": 10,
        "skipped_steps_total": 0,
    }
    # Summaries at every sample_every (5) and the final step, of the state after that step.
    assert [s for s, _, _ in task.summarized] == [5, 10]
    np.testing.assert_array_equal(task.summarized[0][1], sim[4]["w"].astype(np.float32))
    assert task.summarized[0][2] == np.float32(expected_u(4))
    assert task.reference_calls == 1

    # Scalars at every log_every (3), checkpoint_every (4) and the final step; each the mean of
    # the steps since the previous one.
    boundaries = [3, 4, 6, 8, 9, 10]
    loss = scalars(tmp_path / "run", "train/loss")
    total = scalars(tmp_path / "run", "train/batch_sum")
    assert [s for s, _ in loss] == [s for s, _ in total] == boundaries
    prev = 0
    for (step, got_loss), (_, got_sum) in zip(loss, total, strict=True):
        window = sim[prev:step]
        np.testing.assert_allclose(got_loss, np.mean([r["loss"] for r in window]), rtol=1e-5)
        np.testing.assert_allclose(got_sum, np.mean([r["sum"] for r in window]), rtol=1e-6)
        prev = step
    assert [v for _, v in scalars(tmp_path / "run", "train/skipped_steps")] == [0.0] * 6
    assert "nonfinite" not in EventAccumulator(str(tmp_path / "run")).Reload().Tags()["scalars"]


def test_checkpoints_every_n_steps_keep_the_newest_and_hold_the_run_meta(tmp_path):
    cfg = make_config(keep_checkpoints=2)
    fit(QuadraticTask(cfg), tmp_path / "run", dataset=make_dataset(), progress=False)
    sim = simulate(10)
    # Saved at 4, 8 and the final 10; keep_checkpoints=2 leaves the two newest.
    ckpt_dir = tmp_path / "run" / "checkpoints"
    assert sorted(int(p.name) for p in ckpt_dir.iterdir() if p.name.isdigit()) == [8, 10]
    ckpt = Checkpointer(ckpt_dir, async_save=False)
    assert ckpt.all_steps() == [8, 10] and ckpt.latest_step() == 10
    like = abstract_like(jax.tree.map(np.asarray, QuadraticTask(cfg).init_state()))
    for step in (8, 10):
        state, meta, got = ckpt.restore(like, step=step)
        assert got == step
        state = host(state)
        np.testing.assert_array_equal(state["w"], sim[step - 1]["w"].astype(np.float32))
        assert state["count"] == step and state["u"] == np.float32(expected_u(step - 1))
        # The iterator position after `step` batches of a 3-batch epoch.
        assert meta["data_iterator"] == {"epoch": step // 3, "batch": step % 3}
        assert meta["step"] == step and meta["seed"] == SEED
        assert meta["skipped_steps_total"] == 0 and meta["dummy"] == {"lr": LR}
        assert meta["config"] == json.loads(json.dumps(cfg.to_dict()))  # tuples as lists
    ckpt.close()
    assert json.loads((tmp_path / "run" / "config.json").read_text()) == json.loads(
        json.dumps(cfg.to_dict())
    )


def test_resume_after_a_crash_equals_the_uninterrupted_run_bit_for_bit(tmp_path):
    # checkpoint_every=4: the crash at step 6 leaves checkpoint 4, mid-epoch (epoch 1, batch 1).
    cfg = make_config(sample_every=1, log_every=1)
    full_task = QuadraticTask(cfg)
    full = host(fit(full_task, tmp_path / "full", dataset=make_dataset(), progress=False))

    crashing = QuadraticTask(cfg, crash_at=6)
    with pytest.raises(RuntimeError, match="simulated crash at step 6"):
        fit(crashing, tmp_path / "resumed", dataset=make_dataset(), progress=False)
    ckpt_dir = tmp_path / "resumed" / "checkpoints"
    assert sorted(int(p.name) for p in ckpt_dir.iterdir() if p.name.isdigit()) == [4]
    assert not (tmp_path / "resumed" / "done.json").exists()

    again = QuadraticTask(cfg)
    resumed = host(fit(again, tmp_path / "resumed", dataset=make_dataset(), progress=False))
    assert again.reference_calls == 0  # a resumed run does not write the real-data summaries
    assert [s for s, _, _ in again.summarized] == [5, 6, 7, 8, 9, 10]  # steps 5.. again
    for key in ("w", "count", "u"):
        assert resumed[key].dtype == full[key].dtype
        np.testing.assert_array_equal(resumed[key], full[key])
    # Every re-run step saw the same batch and key as the uninterrupted run.
    for (s, w, u), (s_full, w_full, u_full) in zip(
        again.summarized, full_task.summarized[4:], strict=True
    ):
        assert s == s_full and u == u_full
        np.testing.assert_array_equal(w, w_full)
    np.testing.assert_array_equal(full["w"], simulate(10)[-1]["w"].astype(np.float32))


def test_batch_group_consumes_that_many_batches_per_step(tmp_path):
    cfg = make_config(num_steps=5, checkpoint_every=5)
    state = host(
        fit(
            QuadraticTask(cfg, batch_group=2),
            tmp_path / "run",
            dataset=make_dataset(),
            progress=False,
        )
    )
    sim = simulate(5, group=2)  # 10 SGD updates on stream batches 0..9
    np.testing.assert_array_equal(state["w"], sim[-1]["w"].astype(np.float32))
    assert state["count"] == 5
    ckpt = Checkpointer(tmp_path / "run" / "checkpoints", async_save=False)
    like = abstract_like(jax.tree.map(np.asarray, QuadraticTask(cfg).init_state()))
    _, meta, _ = ckpt.restore(like)
    ckpt.close()
    assert meta["data_iterator"] == {"epoch": 3, "batch": 1}  # 10 batches of 3 per epoch
    got = dict(scalars(tmp_path / "run", "train/batch_sum"))
    np.testing.assert_allclose(got[3], np.mean([r["sum"] for r in sim[:3]]), rtol=1e-6)


class HeldoutQuadraticTask(QuadraticTask):
    """The quadratic task asking the loop for held-out clips; records when they arrive."""

    num_heldout = 5

    def __init__(self, config):
        super().__init__(config)
        self.heldout_calls: list[tuple[int, AudioDataset]] = []  # (summaries so far, clips)

    def set_heldout(self, heldout):
        self.heldout_calls.append((len(self.summarized), heldout))


def test_fit_builds_the_held_out_set_once_from_the_test_split_before_any_summary(tmp_path):
    # make_config's data is the built-in synthetic set at 4 samples: its test split has 52 clips
    # (file order sorts them by label); 5 clips spread over it are those at 0, 13, 26, 38, 51
    # (round(k * 51 / 4)), none of them a training clip.
    cfg = make_config(num_steps=10)
    task = HeldoutQuadraticTask(cfg)
    fit(task, tmp_path / "run", dataset=make_dataset(), progress=False)

    test = build_dataset(cfg.data, split="test", progress=False)
    assert len(test) == 52
    [(summaries_before, heldout)] = task.heldout_calls  # once, and before the first summary
    assert summaries_before == 0 and [s for s, _, _ in task.summarized] == [5, 10]
    picked = [0, 13, 26, 38, 51]
    assert heldout.sources == [test.sources[i] for i in picked]
    np.testing.assert_array_equal(heldout.waveforms, test.waveforms[picked])
    np.testing.assert_array_equal(heldout.labels, test.labels[picked])
    train_sources = set(build_dataset(cfg.data, split="train", progress=False).sources)
    assert not train_sources & set(heldout.sources)


POISON = 5


def test_nan_policy_skip_keeps_the_state_on_bad_steps_and_counts_them(tmp_path):
    cfg = make_config(num_steps=9, log_every=1, checkpoint_every=3, nan_policy="skip")
    sim = simulate(9, poison=POISON, skip=True)
    bad = [r["step"] for r in sim if r["skipped"]]
    assert 1 <= len(bad) < 9, bad  # the fixture has both kinds of step
    task = QuadraticTask(cfg)
    state = host(fit(task, tmp_path / "run", dataset=make_dataset(POISON), progress=False))

    np.testing.assert_array_equal(state["w"], sim[-1]["w"].astype(np.float32))
    assert np.isfinite(state["w"]).all()
    assert state["count"] == 9 - len(bad)  # a skipped step's count increment is dropped too
    skipped = scalars(tmp_path / "run", "train/skipped_steps")
    assert [s for s, v in skipped if v > 0] == bad and all(v in (0, 1) for _, v in skipped)
    total = scalars(tmp_path / "run", "train/skipped_steps_total")
    assert [v for _, v in total] == [sum(b <= s for b in bad) for s in range(1, 10)]
    done = json.loads((tmp_path / "run" / "done.json").read_text())
    assert done == {"step": 9, "skipped_steps_total": len(bad)}
    for (step, got), r in zip(scalars(tmp_path / "run", "train/loss"), sim, strict=True):
        assert step == r["step"]
        if not r["skipped"]:
            np.testing.assert_allclose(got, r["loss"], rtol=1e-5)
    ckpt = Checkpointer(tmp_path / "run" / "checkpoints", async_save=False)
    like = abstract_like(jax.tree.map(np.asarray, task.init_state()))
    _, meta, _ = ckpt.restore(like)
    ckpt.close()
    assert meta["skipped_steps_total"] == len(bad)


def test_nan_policy_stop_raises_at_the_first_bad_step_keeping_earlier_checkpoints(tmp_path):
    cfg = make_config(num_steps=9, log_every=1, checkpoint_every=1, keep_checkpoints=9)
    sim = simulate(9, poison=POISON)
    first = next(r["step"] for r in sim if r["skipped"])
    with pytest.raises(TrainingDiverged, match=rf"train/loss at step {first} \(nan_policy='stop'"):
        fit(QuadraticTask(cfg), tmp_path / "run", dataset=make_dataset(POISON), progress=False)
    ckpt = Checkpointer(tmp_path / "run" / "checkpoints", async_save=False)
    assert ckpt.all_steps() == list(range(1, first))
    assert not (tmp_path / "run" / "done.json").exists()
    ckpt.close()


class KeyTask:
    """train_step returns the raw bits of its key as metrics; a flag in the batch makes the
    step's metrics non-finite. State: a float counter."""

    config = None
    batch_group = 1

    def train_step(self, state, batch, key):
        bits = jax.random.key_data(key)
        loss = jnp.where(batch["bad"], jnp.nan, 1.0)
        new = {"n": state["n"] + 1.0}
        return new, {"k0": bits[0], "k1": bits[1], "loss": loss}


@pytest.mark.parametrize("step", [0, 1, 7, 123456])
def test_make_step_fn_key_is_fold_in_of_seed_and_step(step):
    fn = jax.jit(make_step_fn(KeyTask(), seed=11, nan_policy="stop"))
    state = {"n": jnp.float32(0.0)}
    _, metrics = fn(state, {"bad": jnp.bool_(False)}, jnp.int32(step))
    want = np.asarray(jax.random.key_data(jax.random.fold_in(jax.random.key(11), step)))
    assert (int(metrics["k0"]), int(metrics["k1"])) == (int(want[0]), int(want[1]))
    assert float(metrics["nonfinite"]) == 0.0
    # Another seed gives another key at the same step.
    _, other = jax.jit(make_step_fn(KeyTask(), seed=12, nan_policy="stop"))(
        state, {"bad": jnp.bool_(False)}, jnp.int32(step)
    )
    assert (int(other["k0"]), int(other["k1"])) != (int(want[0]), int(want[1]))


@pytest.mark.parametrize("policy, expected_n", [("skip", 0.0), ("stop", 1.0)])
def test_make_step_fn_nan_policy_on_one_step(policy, expected_n):
    fn = jax.jit(make_step_fn(KeyTask(), seed=0, nan_policy=policy))
    new, metrics = fn({"n": jnp.float32(0.0)}, {"bad": jnp.bool_(True)}, jnp.int32(0))
    assert float(new["n"]) == expected_n  # 'skip' keeps the old state; 'stop' leaves it to fit
    assert float(metrics["nonfinite"]) == 1.0
    good, metrics = fn({"n": jnp.float32(0.0)}, {"bad": jnp.bool_(False)}, jnp.int32(0))
    assert float(good["n"]) == 1.0 and float(metrics["nonfinite"]) == 0.0


def test_dataset_smaller_than_the_batch_is_refused(tmp_path):
    small = make_dataset()
    small = AudioDataset(
        small.waveforms[:6], small.labels[:6], small.label_names, 8000, small.sources[:6], []
    )
    task = QuadraticTask(make_config())
    with pytest.raises(ValueError, match=r"has 6 examples, fewer than train.batch_size=8"):
        fit(task, tmp_path / "run", dataset=small, progress=False)
    assert task.reference_calls == 0 and not (tmp_path / "run" / "checkpoints").exists()


def test_sample_request_labels_fixed_cycled_and_refused():
    np.testing.assert_array_equal(SampleRequest(num=5).cycled_labels(3), [0, 1, 2, 0, 1])
    np.testing.assert_array_equal(SampleRequest(num=3, label=2).cycled_labels(3), [2, 2, 2])
    np.testing.assert_array_equal(SampleRequest(num=2, label=1).fixed_labels(4), [1, 1])
    assert SampleRequest(num=4).fixed_labels(3) is None
    assert SampleRequest(num=4).cycled_labels(0) is None  # unconditional
    with pytest.raises(SampleRequestError, match="unconditional"):
        SampleRequest(num=2, label=0).cycled_labels(0)
    with pytest.raises(SampleRequestError, match=r"--label 3 outside \[0, 3\)"):
        SampleRequest(num=2, label=3).fixed_labels(3)
    with pytest.raises(SampleRequestError, match="outside"):
        SampleRequest(num=2, label=-1).cycled_labels(3)
