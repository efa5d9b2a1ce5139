"""The training scaffold every model shares: state, step loop, checkpoints, summaries, signals.

A model family provides a *task* (see :class:`Task`): how to initialise its state, one pure train
step, and its audio summaries. Everything else — the data iterator on the mesh, jit with donated
state, resuming, async checkpoints, NaN policy, TensorBoard scalars, progress bar, SIGTERM — lives
here once, so WaveGAN, SpecGAN, the VAE and the RNN train the same way.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from tqdm.auto import tqdm

from wavegen.config import ConfigError
from wavegen.data import AudioDataError, AudioDataset, BatchIterator, build_dataset
from wavegen.errors import WavegenError
from wavegen.train import parallel
from wavegen.train.checkpoint import Checkpointer, abstract_like, write_config
from wavegen.train.summaries import SummaryWriter

log = logging.getLogger(__name__)
PyTree = Any


@dataclasses.dataclass(frozen=True)
class SampleRequest:
    """What :meth:`Task.sample_audio` generates: ``num`` clips from ``seed`` (the same seed gives
    the same clips), in batches of ``batch_size``; ``interpolate``: along a line between two
    latents; ``label``: one class of a conditional model (None: the family's default labels)."""

    num: int
    seed: int = 0
    interpolate: bool = False
    label: int | None = None
    batch_size: int = 64

    def fixed_labels(self, num_classes: int) -> np.ndarray | None:
        """[num] int32 filled with ``label``, or None when no label was asked.

        Raises:
          SampleRequestError: a label for an unconditional model (``num_classes`` 0) or
            outside [0, num_classes).
        """
        if self.label is None:
            return None
        if num_classes == 0:
            raise SampleRequestError(
                "--label given, but this model is unconditional (model.num_classes=0)"
            )
        if not 0 <= self.label < num_classes:
            raise SampleRequestError(f"--label {self.label} outside [0, {num_classes})")
        return np.full(self.num, self.label, np.int32)

    def cycled_labels(self, num_classes: int) -> np.ndarray | None:
        """[num] int32: ``label`` everywhere when asked, else 0, 1, …, C-1, 0, … (every class
        in turn); None for an unconditional model (``num_classes`` 0).

        Raises:
          SampleRequestError: as :meth:`fixed_labels`.
        """
        fixed = self.fixed_labels(num_classes)
        if fixed is not None or num_classes == 0:
            return fixed
        return (np.arange(self.num) % num_classes).astype(np.int32)


class SampleRequestError(WavegenError, ValueError):
    """A generation request the model cannot take (a label for an unconditional model, one out
    of range, interpolation without a latent space): the CLI prints it as one line."""


class TrainingDiverged(WavegenError, RuntimeError):
    """A loss became NaN/Inf under ``train.nan_policy='stop'``."""


class Task(Protocol):
    """What a model family gives the shared loop (the families' tasks build on
    :class:`wavegen.train.task.TaskBase`, which holds the attributes and common defaults)."""

    config: ml_collections.ConfigDict
    batch_group: int  # global batches consumed per train step (GAN: critic updates per G update)
    num_heldout: int  # held-out clips :meth:`set_heldout` wants (0: none are built)
    target: Any  # the wavegen.models.target.Target its layers were built for; None: any

    @staticmethod
    def default_config() -> ml_collections.ConfigDict:
        """The family's full config schema (``wavegen.defaults.family_config``): its experiments
        start from it, and ``wavegen.train.schema`` reads saved runs against it."""

    def data_arrays(self, dataset: AudioDataset) -> dict[str, np.ndarray]:
        """Per-example training arrays (leading axis N) built from the decoded dataset."""

    def init_state(self) -> PyTree:
        """The full training state (parameters, optimiser states) as a pytree of arrays."""

    def train_step(
        self, state: PyTree, batch: dict[str, jax.Array], key: jax.Array
    ) -> tuple[PyTree, dict[str, jax.Array]]:
        """One pure training step; metrics are scalars."""

    def set_heldout(self, heldout: AudioDataset) -> None:
        """Keeps the held-out clips of :func:`heldout_set` for the summaries: :func:`fit` builds
        them once, before the first summary (tasks never decode test splits themselves)."""

    def summarize(self, state: PyTree, writer: SummaryWriter, step: int) -> None:
        """Host-side summaries (audio, images, held-out scores) of the current state."""

    def reference_summaries(self, dataset: AudioDataset, writer: SummaryWriter) -> None:
        """Summaries of real data, written once at the start of a run."""

    def describe(self) -> dict:
        """``wavegen describe``: parameter counts (and FLOPs where known) of the networks."""

    def extra_meta(self) -> dict:
        """JSON-able task data saved with each checkpoint (e.g. spectrogram moments)."""

    def load_meta(self, meta: dict) -> None:
        """Restores what :meth:`extra_meta` saved (before generating from a checkpoint)."""

    def sample_audio(self, state: PyTree, request: SampleRequest) -> np.ndarray:
        """``request.num`` generated clips [num, T] float32 in [-1, 1] (generate, eval)."""


def check_dataset_labels(dataset: AudioDataset, num_classes: int) -> None:
    """A conditional model (``num_classes`` > 0) needs every clip labelled, with at most
    ``num_classes`` label names; an unconditional one takes any data.

    Raises:
      ConfigError: naming ``model.num_classes`` and the ``data.label`` setting to change.
    """
    if num_classes <= 0:
        return
    if (np.asarray(dataset.labels) < 0).any():
        raise ConfigError(
            f"model.num_classes={num_classes} needs labelled data; set data.label (e.g. "
            "'pattern', 'parent', 'metadata')"
        )
    if len(dataset.label_names) > num_classes:
        raise ConfigError(
            f"the data has {len(dataset.label_names)} labels but model.num_classes={num_classes}"
        )


def describe_state(task: Task) -> dict:
    """Parameter counts of ``task``'s networks, from its state built abstractly (nothing is
    allocated): ``{'model', 'params': {entry: count}, 'total_params', 'output_length',
    'sample_rate'}`` over the top-level state entries other than optimiser states (``*opt*``)
    and the step counter. The GAN task adds FLOPs (:func:`wavegen.models.describe`)."""
    cfg = task.config
    state = jax.eval_shape(task.init_state)
    params = {
        str(k): int(sum(math.prod(x.shape) for x in jax.tree.leaves(v)))
        for k, v in state.items()
        if "opt" not in str(k) and jax.tree.leaves(v) and str(k) != "step"
    }
    return {
        "model": cfg.model.name,
        "params": params,
        "total_params": sum(params.values()),
        "output_length": cfg.data.length,
        "sample_rate": cfg.data.sample_rate,
    }


def heldout_set(data: ml_collections.ConfigDict, num: int, fallback: AudioDataset) -> AudioDataset:
    """Up to ``num`` clips spread evenly over the test split of ``data`` (file order sorts
    clips by label, so the first ones would share one), or over ``fallback`` (the training set)
    when there is no test split or it is empty.

    Returns:
      An :class:`AudioDataset` of the chosen clips (waveforms [n, T] float32 in memory).
    """
    try:
        source = build_dataset(data, split="test", progress=False)
    except AudioDataError as e:
        log.warning("no held-out split (%s); the held-out summaries use training clips", e)
        source = fallback
    if len(source) == 0:
        source = fallback
    idx = np.unique(np.linspace(0, len(source) - 1, min(num, len(source))).round()).astype(int)
    return AudioDataset(
        waveforms=np.asarray(source.waveforms[idx], np.float32),
        labels=np.asarray(source.labels[idx], np.int32),
        label_names=list(source.label_names),
        sample_rate=source.sample_rate,
        sources=[source.sources[i] for i in idx],
        skipped=[],
    )


class Monitor(Protocol):
    """A quality/diversity measure of generated clips, computed every ``train.sample_every`` steps.

    The loop does not know what it measures (pitch, a classifier's histogram, ...): the CLI
    builds monitors from ``wavegen.eval`` and hands them to :func:`fit`, so training code does
    not import evaluation code.
    """

    def setup(self, dataset: AudioDataset) -> None:
        """Reads what it compares against (e.g. the training set's pitch histogram), once."""

    def __call__(self, clips: np.ndarray, labels: np.ndarray | None) -> dict[str, float]:
        """clips [M, T] float32 (labels [M] int or None) → scalars for TensorBoard."""


class PairMonitor(Protocol):
    """A fidelity measure of an autoencoder's reconstructions, marked by ``pairs = True``.

    The loop calls it with the task's ``monitor_reconstructions(state)`` (fixed held-out inputs
    and their reconstructions) instead of generated clips; tasks without that method skip it.
    """

    pairs: bool

    def setup(self, dataset: AudioDataset) -> None:
        """Reads what it needs from the training set (e.g. its sample rate), once."""

    def __call__(self, inputs: np.ndarray, reconstructions: np.ndarray) -> dict[str, float]:
        """inputs, reconstructions [N, T] float32 → scalars for TensorBoard."""


def _is_pair(monitor: Monitor | PairMonitor) -> bool:
    return bool(getattr(monitor, "pairs", False))


MONITOR_FILE = "monitor.jsonl"  # one JSON line per measurement: {"step": s, name: value, ...}


def _run_monitors(
    task: Task,
    monitors: Sequence[Monitor | PairMonitor],
    state: PyTree,
    writer: SummaryWriter,
    step: int,
) -> None:
    """Generates the task's monitor clips (or reconstructions) and writes every monitor's
    scalars (process 0)."""
    # Every process runs the networks (an SPMD computation); only the writer's process scores.
    clips = labels = pairs = None
    if any(not _is_pair(m) for m in monitors):
        clips, labels = task.monitor_samples(state)
    if any(_is_pair(m) for m in monitors):
        pairs = task.monitor_reconstructions(state)
    if not writer.enabled:
        return
    scalars: dict[str, float] = {}
    for monitor in monitors:
        values = monitor(*pairs) if _is_pair(monitor) else monitor(clips, labels)
        scalars.update({k: float(v) for k, v in values.items()})
    writer.scalars(step, scalars)
    with open(Path(writer.logdir) / MONITOR_FILE, "a") as f:
        f.write(json.dumps({"step": step, **scalars}) + "\n")
    log.info("step %d  %s", step, "  ".join(f"{k}={v:.4g}" for k, v in scalars.items()))


class StopRequested:
    """Turns SIGTERM/SIGINT into a flag the loop checks between steps (save, then exit 0)."""

    def __init__(self):
        self.signum: int | None = None
        self._old: dict[int, Any] = {}

    def __enter__(self) -> StopRequested:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        if self.signum is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl-C aborts without waiting
        self.signum = signum
        log.warning("received signal %d: saving a checkpoint and stopping", signum)

    def __exit__(self, *exc) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)

    def __bool__(self) -> bool:
        return self.signum is not None


def make_step_fn(task: Task, seed: int, nan_policy: str) -> Callable:
    """Wraps the task's step: per-step key from (seed, step) and the NaN/Inf policy.

    Under 'skip' a step whose metrics are not finite leaves the state unchanged (decided on
    device, no host sync); under 'stop' the loop raises at the next log/checkpoint boundary.
    """
    base_key = jax.random.key(seed)

    def step_fn(state, batch, step):
        key = jax.random.fold_in(base_key, step)
        new_state, metrics = task.train_step(state, batch, key)
        finite = jnp.all(jnp.stack([jnp.all(jnp.isfinite(v)) for v in metrics.values()]))
        if nan_policy == "skip":
            new_state = jax.tree.map(lambda n, o: jnp.where(finite, n, o), new_state, state)
        metrics = dict(metrics, nonfinite=(~finite).astype(jnp.float32))
        return new_state, metrics

    return step_fn


def fit(
    task: Task,
    workdir: str | Path,
    *,
    mesh: jax.sharding.Mesh | None = None,
    dataset: AudioDataset | None = None,
    progress: bool = True,
    monitors: Sequence[Monitor | PairMonitor] = (),
) -> PyTree:
    """Trains ``task`` in ``workdir``, resuming from its latest checkpoint; returns the state.

    Args:
      task: the model family's task (holds the resolved config).
      workdir: run directory: config.json, checkpoints/, events for TensorBoard.
      mesh: data mesh (default: every device).
      dataset: decoded training data (default: built from ``config.data``).
      progress: show a progress bar.
      monitors: quality/diversity measures run every ``train.sample_every`` steps on the
        task's ``monitor_samples``, and (:class:`PairMonitor`) fidelity measures on its
        ``monitor_reconstructions``; a task without the method a monitor needs skips it.

    Raises:
      TrainingDiverged: a loss became NaN/Inf with nan_policy 'stop' (the last good checkpoint
        stays in the workdir).
    """
    config = task.config
    tc = config.train
    workdir = Path(workdir)
    profile = profile_window(tc)
    initial = None  # entries of the state taken from train.init_from (fresh runs only)
    if tc.init_from and not _has_checkpoint(workdir):
        from wavegen.train.init_from import initial_entries

        # Before anything is written: a mismatch must not leave a workdir behind that the
        # corrected command would then be refused by as "made by a different config".
        initial = initial_entries(
            jax.eval_shape(task.init_state),
            tc.init_from,
            init_optimizer=bool(tc.init_optimizer),
        )
    write_config(workdir, config.to_dict())
    mesh = mesh or parallel.make_mesh()
    parallel.check_batch_size(tc.batch_size, mesh)
    _check_target(task, mesh)
    is_main = jax.process_index() == 0

    if dataset is None:
        dataset = build_dataset(config.data, split="train", progress=progress and is_main)
    if len(dataset) < tc.batch_size:
        raise ValueError(
            f"the training set has {len(dataset)} examples, fewer than train.batch_size="
            f"{tc.batch_size}"
        )
    arrays = task.data_arrays(dataset)
    num_heldout = int(task.num_heldout)
    if num_heldout > 0:  # the eval stage's data, built once before the first summary
        task.set_heldout(heldout_set(config.data, num_heldout, dataset))
    # Only some families can sample cheaply, only autoencoders reconstruct.
    monitors = [
        m
        for m in monitors
        if hasattr(task, "monitor_reconstructions" if _is_pair(m) else "monitor_samples")
    ]
    if is_main:
        for monitor in monitors:
            monitor.setup(dataset)
    iterator = BatchIterator(
        arrays,
        tc.batch_size,
        seed=config.seed,
        group=task.batch_group,
        sharding=parallel.batch_sharding(mesh, task.batch_group),
        prefetch=config.data.prefetch,
    )
    state_sharding = parallel.replicated(mesh)
    # Host copies first: the step donates its state, and device_put may alias the task's own
    # arrays (even with may_alias=False on jax 0.10), which donation would then delete.
    state = jax.device_put(jax.tree.map(np.array, task.init_state()), state_sharding)
    ckpt = Checkpointer(workdir / "checkpoints", keep=tc.keep_checkpoints)
    writer = SummaryWriter(workdir, enabled=is_main)

    start = 0
    skipped_total = 0  # steps skipped under nan_policy='skip', over the whole run
    if ckpt.latest_step() is not None:
        state, meta, start = ckpt.restore(abstract_like(state))
        iterator.restore(meta["data_iterator"])
        skipped_total = int(meta.get("skipped_steps_total", 0))
        log.info("resumed from step %d in %s", start, ckpt.directory)
    else:
        if initial is not None:
            host = jax.tree.map(np.array, task.init_state())
            state = jax.device_put(dict(host, **initial), state_sharding)
        task.reference_summaries(dataset, writer)

    step_fn = jax.jit(
        make_step_fn(task, config.seed, tc.nan_policy),
        donate_argnums=0,
        out_shardings=(state_sharding, None),
    )

    def meta(step: int) -> dict:
        return dict(
            step=step,
            seed=config.seed,
            data_iterator=iterator.state(),
            skipped_steps_total=skipped_total,
            config=config.to_dict(),
            **task.extra_meta(),
        )

    pending: list[tuple[int, dict]] = []  # (step, on-device metrics) not yet fetched
    bar = tqdm(total=tc.num_steps, initial=start, disable=not (progress and is_main), unit="it")
    last_log_time, last_log_step = time.perf_counter(), start
    step = start
    profiling = False
    try:
        with StopRequested() as stop:
            while step < tc.num_steps:
                if stop:
                    break
                batch = next(iterator)
                if profile and not profiling and profile[0] <= step + 1 <= profile[1]:
                    jax.block_until_ready(state)  # earlier steps' work stays out of the trace
                    jax.profiler.start_trace(str(workdir))  # → WORKDIR/plugins/profile/<run>/
                    profiling = True
                state, metrics = step_fn(state, batch, jnp.asarray(step, jnp.int32))
                step += 1
                if profiling and step >= profile[1]:
                    jax.block_until_ready(state)
                    jax.profiler.stop_trace()
                    profiling = False
                    log.info("profile of steps %d..%d written to %s", *profile, workdir)
                pending.append((step, metrics))
                bar.update(1)
                final = step == tc.num_steps
                do_ckpt = final or step % tc.checkpoint_every == 0
                if final or do_ckpt or step % tc.log_every == 0:
                    now = time.perf_counter()
                    rate = (step - last_log_step) / max(now - last_log_time, 1e-9)
                    last_log_time, last_log_step = now, step
                    scalars = _fetch_and_check(pending, tc.nan_policy, ckpt)
                    pending.clear()
                    skipped_total += int(scalars.get("train/skipped_steps", 0))
                    scalars["train/skipped_steps_total"] = float(skipped_total)
                    scalars["perf/steps_per_second"] = rate
                    scalars["perf/examples_per_second"] = rate * tc.batch_size * task.batch_group
                    writer.scalars(step, scalars)
                    losses = {k: v for k, v in scalars.items() if "loss" in k}
                    bar.set_postfix({k.split("/")[-1]: f"{v:.3g}" for k, v in losses.items()})
                    if bar.disable and is_main:  # no bar (--no-progress, logs): one line instead
                        log.info(
                            "step %d/%d  %s  %.3g steps/s",
                            step,
                            tc.num_steps,
                            "  ".join(f"{k}={v:.4g}" for k, v in losses.items()),
                            rate,
                        )
                if final or step % tc.sample_every == 0:
                    task.summarize(state, writer, step)
                    if monitors:
                        _run_monitors(task, monitors, state, writer, step)
                if do_ckpt:
                    ckpt.save(step, state, meta(step))
                writer.flush()
            if stop:
                tail = _fetch_and_check(pending, tc.nan_policy, ckpt)
                skipped_total += int(tail.get("train/skipped_steps", 0))
                pending.clear()
                if ckpt.latest_step() != step:
                    ckpt.save(step, state, meta(step))
                log.warning("stopped by signal at step %d; checkpoint saved", step)
            elif is_main:
                ckpt.wait()  # done.json only once the final checkpoint is complete
                done = {"step": step, "skipped_steps_total": skipped_total}
                (workdir / "done.json").write_text(json.dumps(done))
    finally:
        if profiling:  # stopped (signal, error) inside the window: keep what was traced
            jax.profiler.stop_trace()
        bar.close()
        iterator.close()
        writer.close()
        try:
            ckpt.close()
        except Exception:
            # A failed background save surfaces here; never let it mask the exception that is
            # already propagating (e.g. TrainingDiverged), but do raise it on a clean exit.
            if sys.exc_info()[1] is None:
                raise
            log.exception("checkpoint close failed while handling another error")
    return state


def _check_target(task: Task, mesh: jax.sharding.Mesh) -> None:
    """The task's layers chose their formulation for ``task.target`` (wavegen.train.build_task);
    a mesh of another platform cannot run it (e.g. CPU custom calls on a TPU), one of another
    size runs it slower (custom calls gather a sharded batch). A task without one (None) passes."""
    from wavegen.models.target import Target

    built_for = task.target
    if built_for is None:
        return
    mesh_target = Target.from_mesh(mesh)
    if built_for.platform != mesh_target.platform:
        raise ValueError(
            f"the task was built for {built_for} but the mesh is {mesh_target}: build it with "
            "build_task(config, target=Target.from_mesh(mesh))"
        )
    if built_for != mesh_target:
        log.warning("task built for %s, trained on a mesh of %s", built_for, mesh_target)


def profile_window(tc: ml_collections.ConfigDict) -> tuple[int, int] | None:
    """``train.profile_steps`` as (a, b), steps numbered from 1; None when empty or absent.

    Raises:
      ConfigError: not two ints with 0 < a <= b <= train.num_steps.
    """
    value = tc.profile_steps
    if value is None or (isinstance(value, (tuple, list)) and len(value) == 0):
        return None
    ok = (
        isinstance(value, (tuple, list))
        and len(value) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
        and 0 < value[0] <= value[1] <= tc.num_steps
    )
    if not ok:
        raise ConfigError(
            f"config key 'train.profile_steps' must be [a, b] with 0 < a <= b <= train.num_steps"
            f"={tc.num_steps}, got {value!r}"
        )
    return int(value[0]), int(value[1])


def _has_checkpoint(workdir: Path) -> bool:
    """Whether ``WORKDIR/checkpoints`` holds a finished step (orbax names those by the step)."""
    try:
        return any(p.name.isdigit() for p in (workdir / "checkpoints").iterdir())
    except OSError:
        return False


def _fetch_and_check(
    pending: list[tuple[int, dict]], nan_policy: str, ckpt: Checkpointer
) -> dict[str, float]:
    """Fetches metrics of the pending steps (one transfer), checks NaN/Inf, returns their means."""
    if not pending:
        return {}
    steps = [s for s, _ in pending]
    values = jax.device_get([m for _, m in pending])
    bad = [s for s, m in zip(steps, values, strict=True) if m["nonfinite"] > 0]
    out = {k: float(np.mean([m[k] for m in values])) for k in values[0] if k != "nonfinite"}
    if bad and nan_policy == "stop":
        names = [k for k, v in values[steps.index(bad[0])].items() if not np.isfinite(v)]
        ckpt.wait()
        raise TrainingDiverged(
            f"non-finite {', '.join(names) or 'metrics'} at step {bad[0]} (nan_policy='stop'); "
            f"the last good checkpoint is step {ckpt.latest_step()} in {ckpt.directory}"
        )
    out["train/skipped_steps"] = float(len(bad))
    return out
