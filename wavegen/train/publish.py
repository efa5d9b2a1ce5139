"""Published generators: a run's sampling weights and resolved config, small enough to commit.

A training workdir holds full checkpoints (G, D, both optimiser states, the EMA): for a d=16
WaveGAN that is ~10x the generator alone. :func:`publish_generator` writes just what sampling
needs into a folder that ``wavegen generate --workdir FOLDER`` reads like a run directory:

- ``config.json``: the run's resolved config;
- ``generator.npz``: the sampling weights (the EMA when the run keeps one), one array per leaf
  named by its path (``project/kernel``, ``upconvs/0/kernel`` ...); plain numeric arrays, read
  back with ``allow_pickle=False``;
- ``meta.json``: the step, the source run, the task's metadata (label names, SpecGAN's
  spectrogram moments), the weights' SHA-256 and parameter count.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import jax
import numpy as np

from wavegen.config import from_json
from wavegen.train.checkpoint import CheckpointError, leaf_name

WEIGHTS_FILE = "generator.npz"
META_FILE = "meta.json"


def is_published(path: str | Path) -> bool:
    """Whether ``path`` is a published-generator folder (not a training workdir)."""
    return (Path(path) / WEIGHTS_FILE).is_file()


def _named_leaves(tree: Any) -> dict[str, np.ndarray]:
    """{leaf path: array} of a pytree, names as :func:`wavegen.train.checkpoint.leaf_name`."""
    return {
        leaf_name(jax.tree_util.keystr(p)): np.asarray(x)
        for p, x in jax.tree_util.tree_leaves_with_path(jax.device_get(tree))
    }


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def publish_generator(workdir: str | Path, out: str | Path, step: int | None = None) -> Path:
    """Writes the generator of ``workdir``'s checkpoint ``step`` (default: latest) to ``out``.

    Only tasks with a ``sampling_params(state)`` method (the GANs) can be published.

    Returns:
      The output folder.

    Raises:
      CheckpointError: not a run directory, no such step, or a family without a generator.
    """
    from wavegen.train.generate import load_run

    workdir, out = Path(workdir), Path(out)
    task, state, step = load_run(workdir, step)
    if not hasattr(task, "sampling_params"):
        raise CheckpointError(
            f"{workdir}: model.name={task.config.model.name!r} has no generator to publish"
        )
    weights = _named_leaves(task.sampling_params(state))
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / (WEIGHTS_FILE + ".tmp.npz")
    np.savez(tmp, **weights)
    tmp.replace(out / WEIGHTS_FILE)
    (out / "config.json").write_text(json.dumps(task.config.to_dict(), indent=2, sort_keys=True))
    meta = {
        "step": int(step),
        "source": str(workdir),
        "uses_ema": "g_ema" in state,
        "params": int(sum(a.size for a in weights.values())),
        "sha256": _sha256(out / WEIGHTS_FILE),
        "task": task.extra_meta(),
    }
    (out / META_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True))
    return out


def load_published(path: str | Path):
    """(task, state, step) of a published folder; ``state`` holds only ``{'g': weights}``.

    Raises:
      CheckpointError: a file is missing, the weights' checksum or names/shapes do not match
        the generator its config builds.
    """
    from wavegen.train import build_task

    path = Path(path)
    for name in ("config.json", META_FILE, WEIGHTS_FILE):
        if not (path / name).is_file():
            raise CheckpointError(f"{path} is not a published generator: {name} is missing")
    meta = json.loads((path / META_FILE).read_text())
    if _sha256(path / WEIGHTS_FILE) != meta.get("sha256"):
        raise CheckpointError(f"{path / WEIGHTS_FILE}: checksum differs from {META_FILE}'s")
    config = from_json((path / "config.json").read_text())
    config.lock()
    task = build_task(config)
    template = jax.eval_shape(task.init_state)["g"]
    with np.load(path / WEIGHTS_FILE, allow_pickle=False) as npz:
        saved = {k: npz[k] for k in npz.files}
    flat, treedef = jax.tree_util.tree_flatten_with_path(template)
    leaves, problems = [], []
    for p, abstract in flat:
        name = leaf_name(jax.tree_util.keystr(p))
        arr = saved.pop(name, None)
        if arr is None:
            problems.append(f"missing {name}")
        elif arr.shape != abstract.shape or arr.dtype != abstract.dtype:
            problems.append(
                f"{name}: saved {arr.shape} {arr.dtype}, model {abstract.shape} {abstract.dtype}"
            )
        leaves.append(arr)
    problems += [f"unexpected {k}" for k in sorted(saved)]
    if problems:
        raise CheckpointError(
            f"{path / WEIGHTS_FILE} does not fit its config: " + "; ".join(problems)
        )
    task.load_meta(meta.get("task", {}))
    g = jax.tree_util.tree_unflatten(treedef, [jax.numpy.asarray(a) for a in leaves])
    return task, {"g": g}, int(meta["step"])
