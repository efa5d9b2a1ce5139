"""Fine-tuning: start a new run from another run's checkpoint (``train.init_from``).

``train.init_from=WORKDIR[:STEP]`` copies the source run's state at STEP (default: its latest
checkpoint) into the new run's freshly initialised state, entry by entry over the state's
top-level keys (GAN ``g``, ``d``, ``g_ema``...; VAE ``enc``, ``dec``, ``disc``; RNN ``params``).
Optimiser states (a top-level key ``opt`` or ending in ``_opt``) stay fresh unless
``train.init_optimizer=True``, in which case they are copied as well; the step counter
(``step``) always restarts at 0, as the new run's loop does. Every copied entry must
have the same leaf names and shapes (and dtypes) in both runs; anything that differs is one
:class:`~wavegen.config.ConfigError` listing all of it. An entry only the new run has (a VAE's
discriminator when phase 2 is fine-tuned from a phase-1 run) keeps its fresh initialisation, as
long as the runs share at least one entry; an entry only the source has is an error. The loop
applies this only when the new workdir has no checkpoint of its own, so a resumed fine-tuning
run resumes its own state.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import jax
import numpy as np

from wavegen.config import ConfigError
from wavegen.train.checkpoint import leaf_name, read_saved_state

log = logging.getLogger(__name__)
PyTree = Any
STEP_ENTRY = "step"  # the state's step counter: never copied
MAX_LISTED = 20  # mismatches named per category in the error (the count is always given)


def is_optimizer_entry(key: str) -> bool:
    """Top-level state entries that hold optimiser state (GAN/VAE ``*_opt``, RNN ``opt``)."""
    return key == "opt" or key.endswith("_opt")


def parse_init_from(spec: str) -> tuple[Path, int | None]:
    """``'runs/a:2000'`` → ``(Path('runs/a'), 2000)``; ``'runs/a'`` → ``(Path('runs/a'), None)``.

    A trailing ``:DIGITS`` is a step unless the whole text names an existing path.

    Raises:
      ConfigError: empty workdir part, or a workdir that holds no run.
    """
    path, step = spec, None
    head, sep, tail = spec.rpartition(":")
    if sep and tail.isdigit() and not Path(spec).exists():
        path, step = head, int(tail)
    if not path:
        raise ConfigError(f"config key 'train.init_from' must be WORKDIR[:STEP], got {spec!r}")
    workdir = Path(path).expanduser()
    if not (workdir / "checkpoints").is_dir():
        raise ConfigError(
            f"config key 'train.init_from': {workdir} holds no run (no checkpoints/ folder)"
        )
    return workdir, step


def _listed(items: list[str]) -> str:
    more = f"\n    ... and {len(items) - MAX_LISTED} more" if len(items) > MAX_LISTED else ""
    return "".join(f"\n    {x}" for x in items[:MAX_LISTED]) + more


def initial_entries(target: dict[str, PyTree], spec: str, *, init_optimizer: bool = False):
    """The entries of the new run's initial state that come from the source run.

    Args:
      target: the new run's state as a dict of top-level entries; its leaves may be arrays or
        ``jax.ShapeDtypeStruct`` (only ``.shape`` and ``.dtype`` are read), e.g.
        ``jax.eval_shape(task.init_state)``.
      spec: ``train.init_from``, ``WORKDIR[:STEP]``.
      init_optimizer: also copy the optimiser entries (see :func:`is_optimizer_entry`).

    Returns:
      ``{top-level key: subtree}`` for every copied entry, each with ``target[key]``'s structure
      and shapes and host numpy leaves holding the source's values; the caller keeps its own
      (fresh) values for the entries not returned.

    Raises:
      ConfigError: the two states do not match (lists entries present in only one of them, leaf
        names missing on either side and shape/dtype differences), or the spec names no run.
      CheckpointError: the source checkpoint is missing or damaged.
    """
    workdir, step = parse_init_from(spec)
    source, _, step = read_saved_state(workdir / "checkpoints", step)
    src = {
        leaf_name(jax.tree_util.keystr(p)): x
        for p, x in jax.tree_util.tree_leaves_with_path(source)
    }
    names = {
        leaf_name(jax.tree_util.keystr(p)): x
        for p, x in jax.tree_util.tree_leaves_with_path(target)
    }

    def entry(name: str) -> str:
        return name.split("/", 1)[0]

    def copied(key: str) -> bool:
        # The step counter is the new run's own (it drives schedules such as the VAE's KL
        # warm-up and phase switch), so it restarts from 0 like the loop's step does.
        return key != STEP_ENTRY and (init_optimizer or not is_optimizer_entry(key))

    src_entries = {entry(n) for n in src}
    problems = []
    only_src = sorted(k for k in src_entries - set(target) if copied(k))
    only_dst = sorted(k for k in set(target) - src_entries if copied(k))
    keys = sorted(k for k in src_entries & set(target) if copied(k))
    if only_src:
        problems.append(f"state entries only in the source: {', '.join(only_src)}")
    if only_dst and not keys:
        problems.append(f"state entries only in this run: {', '.join(only_dst)}")
    elif only_dst:
        # A network the source never had (the discriminator of a VAE's phase 2 fine-tuned
        # from a phase-1 run, RAVE's workflow; an EMA added to a GAN) starts from its fresh
        # initialisation; the shared networks are still checked name by name below.
        log.info("train.init_from: %s not in the source, kept fresh", ", ".join(only_dst))
    wanted = {n: x for n, x in names.items() if entry(n) in keys}
    have = {n: x for n, x in src.items() if entry(n) in keys}
    missing = sorted(set(wanted) - set(have))
    extra = sorted(set(have) - set(wanted))
    if missing:
        problems.append(
            f"{len(missing)} parameter(s) of this run not in the source:{_listed(missing)}"
        )
    if extra:
        problems.append(f"{len(extra)} parameter(s) of the source not in this run:{_listed(extra)}")
    differ = []
    for n in sorted(set(wanted) & set(have)):
        theirs = (tuple(have[n].shape), str(have[n].dtype))
        ours = (tuple(wanted[n].shape), str(wanted[n].dtype))
        if theirs != ours:
            differ.append(f"{n}: source {theirs} != this run {ours}")
    if differ:
        problems.append(f"{len(differ)} parameter(s) with other shapes/dtypes:{_listed(differ)}")
    if problems:
        raise ConfigError(
            f"config key 'train.init_from': checkpoint {workdir / 'checkpoints' / str(step)} does "
            "not fit this run (names and shapes must match; optimiser states are only compared "
            "with train.init_optimizer=True):\n  " + "\n  ".join(problems)
        )
    host = jax.device_get(have)  # one transfer of the copied arrays
    out = {}
    for key in keys:
        paths_leaves, treedef = jax.tree_util.tree_flatten_with_path(target[key])
        leaves = [
            np.asarray(host[leaf_name(f"[{key!r}]" + jax.tree_util.keystr(p))])
            for p, _ in paths_leaves
        ]
        out[key] = jax.tree_util.tree_unflatten(treedef, leaves)
    fresh = sorted(set(target) - set(keys))
    log.info(
        "initialised %s from %s step %d%s",
        ", ".join(keys),
        workdir,
        step,
        f" (fresh: {', '.join(fresh)})" if fresh else "",
    )
    return out
