"""Checkpoints of a run: orbax CheckpointManager over ``WORKDIR/checkpoints``.

Each checkpoint holds two items: ``state`` (every array of the training state: parameters and
optimiser states of all networks) and ``meta`` (JSON: step, data-iterator position, seed, the
resolved config). orbax writes each step to a temporary directory and renames it when complete,
so a save killed half way never restores. No pickle is involved: arrays are tensorstore/zarr and
metadata is JSON.

Tampering and bit rot: tensorstore has no checksums, so a flipped byte in an array file would
restore silently as a wrong value. Every save therefore stores a per-array checksum (a
position-weighted sum of the raw bits, computed on device) in ``meta``; restore recomputes it and
raises :class:`CheckpointError` naming the arrays that differ. Checkpoints written before this
(no checksums in ``meta``) restore unchecked.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp

from wavegen.config import diff_configs
from wavegen.errors import WavegenError

log = logging.getLogger(__name__)


class CheckpointError(WavegenError, RuntimeError):
    """A checkpoint or workdir cannot be used; the message says which and why."""


# Keys that may change when a run is resumed: how long it runs and how often it reports.
RESUMABLE_KEYS = (
    "train.num_steps",
    "train.log_every",
    "train.sample_every",
    "train.checkpoint_every",
    "train.keep_checkpoints",
    "train.profile_steps",
    "data.prefetch",
)


def _current_schema(old: dict, path: Path) -> dict:
    """A workdir's existing config in its family's current schema (``wavegen.train.schema``),
    so a run written before a key was added or renamed resumes; as written if it cannot be
    read as one (the comparison then lists what differs)."""
    from wavegen.train.schema import RunConfigError, upgrade_config  # schema reads the registry

    try:
        return upgrade_config(old, str(path)).to_dict()
    except RunConfigError:
        return old


def write_config(workdir: Path, config_dict: dict) -> None:
    """Writes ``WORKDIR/config.json``, after checking it agrees with an existing one (resume).

    Only :data:`RESUMABLE_KEYS` may differ from the config the workdir was made with.

    Raises:
      CheckpointError: the workdir was made by a different config (lists the differing keys).
    """
    path = workdir / "config.json"
    if path.exists():
        try:
            old = json.loads(path.read_text())
        except json.JSONDecodeError as e:
            raise CheckpointError(f"{path} is not valid JSON ({e}); refusing to resume") from e
        old = _current_schema(old, path)
        diffs = [d for d in diff_configs(old, config_dict) if d.split(":")[0] not in RESUMABLE_KEYS]
        if diffs:
            raise CheckpointError(
                f"workdir {workdir} holds a run with a different config; use a new --workdir or "
                "the same config. Differences (existing != requested):\n  " + "\n  ".join(diffs)
            )
    if workdir.exists() and not workdir.is_dir():
        raise CheckpointError(f"workdir {workdir} exists and is not a directory")
    try:
        workdir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise CheckpointError(f"cannot create workdir {workdir}: {e.strerror or e}") from e
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(config_dict, indent=2, sort_keys=True))
    tmp.replace(path)


def _restore_step(manager: ocp.CheckpointManager, step: int, abstract_state: Any) -> Any:
    """The (state, meta) composite of ``step``: the state into ``abstract_state``'s shapes,
    dtypes and shardings, the meta as JSON."""
    return manager.restore(
        step,
        args=ocp.args.Composite(
            state=ocp.args.StandardRestore(abstract_state), meta=ocp.args.JsonRestore()
        ),
    )


class Checkpointer:
    """Saves and restores (state, meta) pairs by step; async saves, keeps the last ``keep``.

    Args:
      directory: where step folders go (created).
      keep: how many of the latest checkpoints to keep.
      async_save: write in a background thread (the step loop goes on meanwhile).
    """

    def __init__(self, directory: str | Path, *, keep: int = 3, async_save: bool = True):
        self.directory = Path(directory).absolute()
        options = ocp.CheckpointManagerOptions(
            max_to_keep=keep,
            create=True,
            enable_async_checkpointing=async_save,
            cleanup_tmp_directories=True,
        )
        try:
            self._manager = ocp.CheckpointManager(self.directory, options=options)
        except OSError as e:
            raise CheckpointError(f"cannot use checkpoint directory {self.directory}: {e}") from e

    def latest_step(self) -> int | None:
        return self._manager.latest_step()

    def all_steps(self) -> list[int]:
        return list(self._manager.all_steps())

    def save(self, step: int, state: Any, meta: dict) -> None:
        """Starts saving ``state`` (a pytree of arrays) and ``meta`` (JSON-able) at ``step``."""
        bad = _nonfinite_leaves(state)
        if bad:
            raise CheckpointError(
                f"refusing to save step {step}: non-finite values in {', '.join(bad[:5])}"
            )
        meta = dict(meta, **{CHECKSUMS: _checksums(state)})
        try:
            self._manager.save(
                step,
                args=ocp.args.Composite(
                    state=ocp.args.StandardSave(state), meta=ocp.args.JsonSave(meta)
                ),
            )
        except Exception as e:  # OSError (disk full, directory gone) or a failed earlier async save
            raise CheckpointError(
                f"saving checkpoint {step} to {self.directory} failed: {type(e).__name__}: {e}; "
                f"earlier checkpoints {self._steps_on_disk()} are untouched"
            ) from e

    def restore(self, abstract_state: Any, step: int | None = None) -> tuple[Any, dict, int]:
        """Restores (state, meta, step); ``abstract_state`` gives structure, shapes and shardings.

        Raises:
          CheckpointError: no checkpoint, or one whose arrays do not fit ``abstract_state``.
        """
        step = self.latest_step() if step is None else step
        if step is None:
            raise CheckpointError(f"no checkpoint in {self.directory}")
        if step not in self.all_steps():
            raise CheckpointError(
                f"no checkpoint for step {step} in {self.directory}; have {self.all_steps()}"
            )
        try:
            restored = _restore_step(self._manager, step, abstract_state)
        except Exception as e:  # orbax raises many types; name the checkpoint and the cause
            raise CheckpointError(
                f"checkpoint {self.directory / str(step)} does not match this model/config "
                f"(or is damaged): {type(e).__name__}: {str(e)[:500]}"
            ) from e
        where = self.directory / str(step)
        _check_shapes(abstract_state, restored["state"], where)
        meta = dict(restored["meta"])
        saved = meta.pop(CHECKSUMS, None)
        if saved is not None:
            now = _checksums(restored["state"])
            bad = [k for k in now if saved.get(k) != now[k]] + [k for k in saved if k not in now]
            if bad:
                raise CheckpointError(
                    f"checkpoint {where} is damaged or was modified: the checksums of "
                    f"{len(bad)} array(s) differ from those written at save time "
                    f"({', '.join(bad[:5])}); restore an earlier step with --step or delete it"
                )
        return restored["state"], meta, step

    def wait(self) -> None:
        """Blocks until any async save has finished.

        Raises:
          CheckpointError: the background save failed (disk full, directory deleted, ...).
        """
        try:
            self._manager.wait_until_finished()
        except Exception as e:
            raise CheckpointError(
                f"an async checkpoint save to {self.directory} failed: {type(e).__name__}: {e}; "
                f"complete checkpoints on disk: {self._steps_on_disk()}"
            ) from e

    def close(self) -> None:
        self.wait()
        self._manager.close()

    def _steps_on_disk(self) -> list[int]:
        try:
            return sorted(int(p.name) for p in self.directory.iterdir() if p.name.isdigit())
        except OSError:
            return []


@jax.jit
def _leaf_finite(tree: Any) -> list[jax.Array]:
    return [
        jnp.all(jnp.isfinite(x)) if jnp.issubdtype(x.dtype, jnp.inexact) else jnp.array(True)
        for x in jax.tree.leaves(tree)
    ]


CHECKSUMS = "state_checksums"


@jax.jit
def _leaf_checksums(tree: Any) -> list[jax.Array]:
    out = []
    for x in jax.tree.leaves(tree):
        if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
            x = jax.random.key_data(x)
        if x.dtype == jnp.bool_:
            u = x.astype(jnp.uint32)
        else:
            width = {1: jnp.uint8, 2: jnp.uint16, 4: jnp.uint32, 8: jnp.uint32}[x.dtype.itemsize]
            u = jax.lax.bitcast_convert_type(x, width).astype(jnp.uint32)
        u = u.reshape(-1)
        # Odd weights are invertible mod 2^32: any change of one word changes the sum; the
        # position weighting also catches values swapped between places.
        weights = jnp.arange(u.shape[0], dtype=jnp.uint32) * jnp.uint32(2) + jnp.uint32(1)
        out.append(jnp.sum(u * weights, dtype=jnp.uint32))
    return out


def _by_device_set(fn: Any, tree: Any) -> list[Any]:
    """``fn`` (a jitted function of a list of arrays → one scalar each) over every leaf of
    ``tree``, one call per set of devices the leaves live on (one jit cannot take arrays on
    different device sets, e.g. a mesh-sharded leaf and a single-device one), fetched to the
    host in leaf order."""
    leaves = jax.tree.leaves(tree)
    groups: dict[Any, list[int]] = {}
    for i, x in enumerate(leaves):
        sharding = getattr(x, "sharding", None)
        devices = None if sharding is None else frozenset(d.id for d in sharding.device_set)
        groups.setdefault(devices, []).append(i)
    out: list[Any] = [None] * len(leaves)
    for idx in groups.values():
        for i, v in zip(idx, jax.device_get(fn([leaves[i] for i in idx])), strict=True):
            out[i] = v
    return out


def _checksums(tree: Any) -> dict[str, int]:
    """{leaf path: uint32 checksum of its raw bits}; one small device→host transfer."""
    sums = _by_device_set(_leaf_checksums, tree)
    paths = [jax.tree_util.keystr(p) for p, _ in jax.tree_util.tree_leaves_with_path(tree)]
    return {p: int(v) for p, v in zip(paths, sums, strict=True)}


def _nonfinite_leaves(tree: Any) -> list[str]:
    """Paths of leaves holding NaN/Inf; one small device→host transfer, not the whole state."""
    flags = _by_device_set(_leaf_finite, tree)
    paths = [jax.tree_util.keystr(p) for p, _ in jax.tree_util.tree_leaves_with_path(tree)]
    return [p for p, ok in zip(paths, flags, strict=True) if not ok]


def _check_shapes(abstract: Any, restored: Any, where: Path) -> None:
    want = jax.tree_util.tree_leaves_with_path(abstract)
    got = jax.tree_util.tree_leaves(restored)
    if len(want) != len(got):
        raise CheckpointError(f"checkpoint {where} has {len(got)} arrays, expected {len(want)}")
    for (path, w), g in zip(want, got, strict=True):
        if tuple(w.shape) != tuple(np.shape(g)):
            raise CheckpointError(
                f"checkpoint {where}: {jax.tree_util.keystr(path)} has shape {np.shape(g)}, "
                f"expected {tuple(w.shape)}"
            )


_KEY_TOKEN = re.compile(r"\[(?:'((?:[^'\\]|\\.)*)'|\"([^\"]*)\"|(-?\d+))\]|\.(\w+)")


def leaf_name(keystr: str) -> str:
    """A leaf's path as ``'g/downconvs/0/kernel'``, whatever containers hold it.

    orbax writes every container as a dict or list with string keys, so a state read back in the
    structure it was saved in has ``['0']`` where the live state has ``[0]`` (an int dict key) and
    ``['mu']`` where it has ``.mu`` (an optax NamedTuple); both give the same name here.

    Args:
      keystr: ``jax.tree_util.keystr`` of the leaf's path, e.g. ``"['g_opt'][0].mu['b']"``.
    """
    return "/".join(
        next(t for t in m.groups() if t is not None) for m in _KEY_TOKEN.finditer(keystr)
    )


def leaf_names(tree: Any) -> list[str]:
    """:func:`leaf_name` of every leaf of ``tree``, in ``jax.tree.leaves`` order."""
    return [
        leaf_name(jax.tree_util.keystr(p)) for p, _ in jax.tree_util.tree_leaves_with_path(tree)
    ]


def read_saved_state(directory: str | Path, step: int | None = None) -> tuple[Any, dict, int]:
    """Reads another run's checkpoint as it was saved, without knowing its model or config.

    Opens ``directory`` read-only (nothing there is created, cleaned up or deleted, so the run
    that owns it may still be training), takes the structure, shapes and dtypes from orbax's
    metadata, restores every array onto this process's first device and checks the checksums
    written at save time.

    Args:
      directory: a ``WORKDIR/checkpoints`` folder.
      step: the step to read (default: the latest).

    Returns:
      (state, meta, step): state in orbax's saved structure (dicts with string keys, lists for
      tuples; match leaves with :func:`leaf_names`), the meta dict without checksums.

    Raises:
      CheckpointError: no such folder or step, or a damaged checkpoint.
    """
    directory = Path(directory).absolute()
    if not directory.is_dir():
        raise CheckpointError(f"no checkpoint directory {directory}")
    manager = ocp.CheckpointManager(
        directory,
        item_handlers={
            "state": ocp.StandardCheckpointHandler(),
            "meta": ocp.JsonCheckpointHandler(),
        },
        options=ocp.CheckpointManagerOptions(create=False, read_only=True),
    )
    try:
        steps = list(manager.all_steps())
        step = manager.latest_step() if step is None else step
        if step is None or step not in steps:
            have = f"it has {sorted(steps)}" if steps else "it has none"
            raise CheckpointError(f"no checkpoint for step {step} in {directory}; {have}")
        where = directory / str(step)
        device = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
        try:
            saved = manager.item_metadata(step)["state"]
            saved = getattr(saved, "tree", saved)
            abstract = jax.tree.map(
                lambda m: jax.ShapeDtypeStruct(tuple(m.shape), m.dtype, sharding=device), saved
            )
            restored = _restore_step(manager, step, abstract)
        except Exception as e:  # orbax raises many types; name the checkpoint and the cause
            raise CheckpointError(
                f"cannot read checkpoint {where}: {type(e).__name__}: {str(e)[:500]}"
            ) from e
    finally:
        manager.close()
    state, meta = restored["state"], dict(restored["meta"])
    saved_sums = meta.pop(CHECKSUMS, None)
    if saved_sums is not None:
        # Compare by leaf name: the saved keys are paths of the live state, not of this structure.
        want = {leaf_name(k): v for k, v in saved_sums.items()}
        now = {leaf_name(k): v for k, v in _checksums(state).items()}
        bad = sorted(k for k in set(want) | set(now) if want.get(k) != now.get(k))
        if bad:
            raise CheckpointError(
                f"checkpoint {where} is damaged or was modified: the checksums of {len(bad)} "
                f"array(s) differ from those written at save time ({', '.join(bad[:5])})"
            )
    return state, meta, step


def abstract_like(tree: Any) -> Any:
    """ShapeDtypeStructs (with shardings) of a pytree of arrays, for restoring into.

    Leaves without a sharding (e.g. from ``jax.eval_shape``) get this process's first device:
    left unset, orbax falls back to the sharding saved in the checkpoint, which names devices
    that need not exist here (a checkpoint written on 8 devices, read for generation on 1).
    """
    default = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])

    def struct(x: Any) -> jax.ShapeDtypeStruct:
        sharding = getattr(x, "sharding", None)
        if not isinstance(sharding, jax.sharding.Sharding):
            sharding = default
        return jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=sharding)

    return jax.tree.map(struct, tree)
