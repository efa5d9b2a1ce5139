"""Sweeps: an experiment file's ``get_sweep()`` expanded into named runs under one root.

``get_sweep(arg)`` (or ``get_sweep()``) returns a list of override dicts, e.g.
``product(("model.phase_shuffle", [0, 2]), ("seed", [0, 1]))``. Each point becomes a run named
after its values (``phase_shuffle=0,seed=1``) in ``ROOT/NAME`` with its resolved config; runs are
trained locally (sequentially or N processes at a time) or launched on a TPU pod with gcloud. A
finished run (``done.json`` at its final step) is skipped; an unfinished one resumes.
"""

from __future__ import annotations

import itertools
import json
import re
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wavegen.config import (
    ConfigError,
    apply_override,
    load_config,
    load_experiment_module,
    parse_override,
    split_spec,
)


def product(*axes: tuple[str, list[Any]]) -> list[dict[str, Any]]:
    """Cartesian product of ``(key, values)`` axes as a list of override dicts."""
    keys = [k for k, _ in axes]
    return [
        dict(zip(keys, combo, strict=True)) for combo in itertools.product(*(v for _, v in axes))
    ]


@dataclass(frozen=True)
class SweepRun:
    """One point of a sweep.

    Attributes:
      name: the point's readable name (:func:`run_name`), also its workdir's name.
      overrides: the point's own ``{key: value}`` (what the sweep varies).
      workdir: ``ROOT/NAME``.
      base_overrides: ``--config.KEY=VALUE`` overrides given for the whole sweep, applied to
        every point before its own.
    """

    name: str
    overrides: dict[str, Any]
    workdir: Path
    base_overrides: tuple[str, ...] = ()

    def override_args(self) -> list[str]:
        """The ``--config.KEY=VALUE`` arguments of this run: the sweep's, then the point's."""
        return [
            *self.base_overrides,
            *(f"--config.{k}={_literal(v)}" for k, v in self.overrides.items()),
        ]


def _literal(v: Any) -> str:
    return (
        repr(v) if isinstance(v, str) else json.dumps(v) if isinstance(v, (list, tuple)) else str(v)
    )


def run_name(point: dict[str, Any]) -> str:
    """Readable, filesystem-safe name: last key segment = value, comma separated."""
    parts = []
    for k, v in point.items():
        text = f"{k.split('.')[-1]}={v}"
        parts.append(re.sub(r"[^A-Za-z0-9=.+_-]", "_", text))
    return ",".join(parts) or "default"


def expand(spec: str, root: str | Path, overrides: list[str] | None = None) -> list[SweepRun]:
    """Expands ``FILE.py[:ARG]``'s ``get_sweep`` into runs under ``root``; validates each point.

    Args:
      spec: experiment file with ``get_sweep()`` and an optional ``:ARG``.
      root: folder holding one workdir per point.
      overrides: ``KEY=VALUE`` (or ``--config.KEY=VALUE``) overrides applied to every point
        before the point's own values.

    Raises:
      ConfigError: no ``get_sweep``, a point or override with an unknown key or a wrong type, an
        override of a key the sweep varies, or two points with the same name.
    """
    base = tuple("--config." + "=".join(map(str.strip, _key_text(o))) for o in overrides or [])
    base_keys = {parse_override(o)[0] for o in base}
    path, arg = split_spec(spec)
    module = load_experiment_module(path)
    if not hasattr(module, "get_sweep"):
        raise ConfigError(f"{path} defines no get_sweep()")
    try:
        points = module.get_sweep(arg)
    except TypeError:
        points = module.get_sweep()
    root = Path(root)
    runs, seen = [], set()
    for point in points:
        clash = sorted(base_keys & set(point))
        if clash:
            raise ConfigError(
                f"sweep {path}: --config.{clash[0]} is a key the sweep varies; it cannot be "
                "overridden for every point"
            )
        cfg = load_config(spec, list(base))
        with cfg.unlocked():
            for k, v in point.items():
                apply_override(cfg, k, v)
        name = run_name(point)
        if name in seen:
            raise ConfigError(f"sweep {path}: two points are both named {name!r}")
        seen.add(name)
        runs.append(SweepRun(name, dict(point), root / name, base))
    return runs


def _key_text(item: str) -> tuple[str, str]:
    """``'--config.a.b=1'`` / ``'a.b=1'`` → ``('a.b', '1')``, the value's text unparsed."""
    parse_override(item)  # raises ConfigError unless it is KEY=VALUE
    for prefix in ("--config.", "config."):
        if item.startswith(prefix):
            item = item[len(prefix) :]
    key, value = item.split("=", 1)
    return key, value


def is_finished(run: SweepRun, num_steps: int) -> bool:
    done = run.workdir / "done.json"
    if not done.is_file():
        return False
    try:
        return json.loads(done.read_text()).get("step", -1) >= num_steps
    except json.JSONDecodeError:
        return False


def train_command(spec: str, run: SweepRun, extra: list[str] | None = None) -> list[str]:
    """The ``wavegen train`` command line of one run (the sweep's overrides, then the point's)."""
    return [
        "wavegen", "train", "--config", spec, "--workdir", str(run.workdir), "--no-progress",
        *run.override_args(), *(extra or []),
    ]  # fmt: skip


def tpu_commands(
    spec: str,
    runs: list[SweepRun],
    *,
    tpu: str,
    zone: str,
    project: str | None = None,
    repo_dir: str = "~/wavegen",
) -> list[list[str]]:
    """gcloud commands that run each point on every worker of a TPU pod slice, one after another.

    Every worker runs the same ``wavegen train`` with ``train.distributed=True`` from the
    checkout's venv (``repo_dir/.venv``, as README "Running on a TPU pod" installs it); JAX finds
    the coordinator itself on TPU VMs. ``runs``' workdirs must be on a filesystem every worker
    shares (orbax writes checkpoints collectively).
    """
    out = []
    for run in runs:
        train = train_command(spec, run, ["--config.train.distributed=True"])
        train[0] = ".venv/bin/wavegen"
        remote = f"cd {repo_dir} && " + " ".join(shlex.quote(a) for a in train)
        cmd = ["gcloud", "compute", "tpus", "tpu-vm", "ssh", tpu, f"--zone={zone}"]
        if project:
            cmd.append(f"--project={project}")
        cmd += ["--worker=all", f"--command={remote}"]
        out.append(cmd)
    return out


def write_manifest(spec: str, runs: list[SweepRun], root: Path) -> None:
    """Writes ``ROOT/sweep.json``: the spec, the sweep-wide overrides and every run's own."""
    root.mkdir(parents=True, exist_ok=True)
    manifest = {
        "config": spec,
        "overrides": list(runs[0].base_overrides) if runs else [],
        "runs": [
            {"name": r.name, "overrides": r.overrides, "workdir": str(r.workdir)} for r in runs
        ],
    }
    (root / "sweep.json").write_text(json.dumps(manifest, indent=2))


def run_local(spec: str, runs: list[SweepRun], *, parallel: int = 1, log=print) -> dict[str, str]:
    """Trains each unfinished run in its own ``wavegen train`` process, ``parallel`` at a time.

    Returns:
      ``{name: 'skipped' | 'ok' | 'failed (exit N)'}``.
    """
    status: dict[str, str] = {}
    todo = []
    for run in runs:
        num_steps = _num_steps(spec, run)
        if is_finished(run, num_steps):
            status[run.name] = "skipped"
            log(f"[sweep] {run.name}: finished earlier, skipped")
        else:
            todo.append(run)
    running: list[tuple[SweepRun, subprocess.Popen]] = []
    exe = [sys.executable, "-m", "wavegen"]  # wavegen/__main__.py (wavegen.cli is a package)
    while todo or running:
        while todo and len(running) < parallel:
            run = todo.pop(0)
            run.workdir.mkdir(parents=True, exist_ok=True)
            cmd = exe + train_command(spec, run)[1:]
            log(f"[sweep] {run.name}: {' '.join(shlex.quote(c) for c in cmd)}")
            logf = open(run.workdir / "train.log", "ab")  # noqa: SIM115 - closed when it ends
            running.append((run, subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT)))
        for run, proc in list(running):
            if proc.poll() is not None:
                running.remove((run, proc))
                status[run.name] = (
                    "ok" if proc.returncode == 0 else f"failed (exit {proc.returncode})"
                )
                log(f"[sweep] {run.name}: {status[run.name]} (log: {run.workdir / 'train.log'})")
        time.sleep(0.2)
    return status


def _num_steps(spec: str, run: SweepRun) -> int:
    cfg = load_config(spec, [a[len("--config.") :] for a in run.override_args()])
    return cfg.train.num_steps
