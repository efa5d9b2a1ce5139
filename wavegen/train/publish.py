"""Published generators: a run's sampling weights and resolved config, small enough to commit.

A training workdir holds full checkpoints (G, D, both optimiser states, the EMA): for a d=16
WaveGAN that is ~10x the generator alone. :func:`publish_generator` writes just what sampling
needs into a folder that ``wavegen generate --workdir FOLDER`` (and the ``wavegen vae``
commands) read like a run directory:

- ``config.json``: the run's resolved config;
- ``generator.npz``: the inference weights, one array per leaf named by its path; plain numeric
  arrays, read back with ``allow_pickle=False``. A GAN's are its sampling weights (the EMA
  when the run keeps one) named without a prefix (``project/kernel``, ``upconvs/0/kernel``
  ...); other families name the state entries they need (:func:`inference_state`): the VAE's
  ``enc/...`` and ``dec/...``, the latent prior's ``params/...``;
- ``meta.json``: the step, the source run, the state entries (``state_keys``; absent = a GAN's
  ``g``), the task's metadata (label names, SpecGAN's spectrogram moments), the weights'
  SHA-256 and parameter count;
- a latent prior also gets ``vae/``, the published VAE it decodes through, or (``--vae``) a
  path to an already published copy of it; its config's ``prior.vae_workdir`` is then relative
  to the prior's folder and is resolved against it when the folder is loaded.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import jax
import numpy as np

from wavegen.train.checkpoint import CheckpointError, leaf_name
from wavegen.train.schema import read_run_config

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


LEGACY_KEYS = ("g",)  # a GAN's weights, stored without a prefix (the format's first version)
VAE_FOLDER = "vae"


def inference_state(task, state) -> dict[str, Any] | None:
    """The state entries inference needs, from the task's ``inference_state`` method (GANs:
    ``{'g': sampling weights}``; the VAE: encoder and decoder; the latent prior: its network);
    None for a family without one (nothing to publish)."""
    method = getattr(task, "inference_state", None)
    return None if method is None else method(state)


def _weights(tree: dict[str, Any]) -> dict[str, np.ndarray]:
    if tuple(tree) == LEGACY_KEYS:
        return _named_leaves(tree["g"])
    return _named_leaves(tree)


def publish_generator(
    workdir: str | Path, out: str | Path, step: int | None = None, *, vae: str | Path | None = None
) -> Path:
    """Writes the inference weights of ``workdir``'s checkpoint ``step`` (default: latest) to
    ``out``: a GAN's generator, a VAE's encoder and decoder, a latent prior (with its VAE).

    A latent prior's VAE is copied into ``out/vae`` unless ``vae`` names a published folder of
    that same VAE (its weights are compared): then the prior's config points to it by a path
    relative to ``out``, so two committed folders do not hold the VAE twice.

    Returns:
      The output folder.

    Raises:
      CheckpointError: not a run directory, no such step, or a family without a generator.
    """
    from wavegen.train.runs import load_run

    workdir, out = Path(workdir), Path(out)
    task, state, step = load_run(workdir, step)
    tree = inference_state(task, state)
    if tree is None:
        raise CheckpointError(
            f"{workdir}: model.name={task.config.model.name!r} has no generator to publish"
        )
    weights = _weights(tree)
    out.mkdir(parents=True, exist_ok=True)
    config = task.config
    if config.model.name == "latent_prior":
        if vae is None:
            publish_generator(task.vae_workdir, out / VAE_FOLDER, task.vae[2])
            where = VAE_FOLDER
        else:
            _check_same_vae(Path(vae), task)
            where = os.path.relpath(Path(vae).resolve(), out.resolve())
        config = config.copy_and_resolve_references()
        with config.unlocked():
            config.prior.vae_workdir = where  # relative: resolved against the folder
            config.prior.vae_step = None
    tmp = out / (WEIGHTS_FILE + ".tmp.npz")
    np.savez(tmp, **weights)
    tmp.replace(out / WEIGHTS_FILE)
    (out / "config.json").write_text(json.dumps(config.to_dict(), indent=2, sort_keys=True))
    meta = {
        "step": int(step),
        "source": str(workdir),
        "state_keys": sorted(tree),
        "uses_ema": "g_ema" in state,
        "params": int(sum(a.size for a in weights.values())),
        "sha256": _sha256(out / WEIGHTS_FILE),
        "task": task.extra_meta(),
    }
    (out / META_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True))
    return out


def _check_same_vae(folder: Path, prior_task) -> None:
    """Raises CheckpointError unless ``folder`` is a published copy of the prior's VAE."""
    if not is_published(folder):
        raise CheckpointError(f"--vae {folder}: not a published folder (wavegen publish)")
    vae_task, vae_state, _ = prior_task.vae
    want = _weights(inference_state(vae_task, vae_state))
    with np.load(folder / WEIGHTS_FILE, allow_pickle=False) as npz:
        same = set(npz.files) == set(want) and all(np.array_equal(npz[k], want[k]) for k in want)
    if not same:
        raise CheckpointError(
            f"--vae {folder}: its weights are not those of the prior's VAE "
            f"({prior_task.vae_workdir})"
        )


def load_published(path: str | Path):
    """(task, state, step) of a published folder; ``state`` holds only the published entries
    (``{'g': weights}`` for a GAN, ``enc``/``dec`` for a VAE, ``params`` for a latent prior).

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
    config = read_run_config(path / "config.json")  # upgraded to the current schema
    if config.model.name == "latent_prior" and not Path(config.prior.vae_workdir).is_absolute():
        config.prior.vae_workdir = os.path.normpath(path / config.prior.vae_workdir)
    config.lock()
    task = build_task(config)
    keys = tuple(meta.get("state_keys", LEGACY_KEYS))
    abstract = jax.eval_shape(task.init_state)
    template = {k: abstract[k] for k in keys}
    if keys == LEGACY_KEYS:
        template = template["g"]
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
    tree = jax.tree_util.tree_unflatten(treedef, [jax.numpy.asarray(a) for a in leaves])
    return task, ({"g": tree} if keys == LEGACY_KEYS else tree), int(meta["step"])
