#!/usr/bin/env python3
"""Kill a tiny training run with SIGKILL at random moments, restart it each time, and check that
the final parameters equal an uninterrupted run's.

Each kill lands wherever the run happens to be: importing, building the data, compiling, inside a
step, or during an async checkpoint save (checkpoints are saved every step, so most kills hit
one). Every restart must resume from the last *complete* checkpoint; the resume path is
deterministic, so the survivor's final parameters must be bit-identical to the reference's.

    .venv/bin/python tools/fault_inject.py --kills 20 --steps 12 --json docs/fault_inject.json

Prints a report (kills, the step each restart resumed from, final equality) and exits 1 on any
mismatch.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
CONFIG = str(REPO / "experiments" / "quickstart.py") + ":tiny"


def train_cmd(workdir: Path, steps: int) -> list[str]:
    return [
        sys.executable, "-m", "wavegen.cli", "train", "--config", CONFIG, "--workdir", str(workdir),
        "--no-progress", f"--config.train.num_steps={steps}", "--config.train.checkpoint_every=1",
        "--config.train.log_every=1",
    ]  # fmt: skip


def latest_step(workdir: Path) -> int | None:
    ckpts = workdir / "checkpoints"
    steps = [int(p.name) for p in ckpts.iterdir() if p.name.isdigit()] if ckpts.is_dir() else []
    return max(steps) if steps else None


def final_params(workdir: Path) -> list[np.ndarray]:
    import jax

    from wavegen.train.generate import load_run

    _, state, _ = load_run(workdir)
    params = jax.device_get({"g": state["g"], "d": state["d"]})
    return [np.asarray(x) for x in jax.tree.leaves(params)]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--min-delay", type=float, default=1.0)
    ap.add_argument("--max-delay", type=float, default=12.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    root = Path(tempfile.mkdtemp(prefix="wavegen-faults-"))
    ref, victim = root / "reference", root / "victim"

    t0 = time.time()
    subprocess.run(train_cmd(ref, args.steps), env=env, check=True, capture_output=True)
    events = []
    for i in range(args.kills):
        if (victim / "done.json").exists():
            break
        before = latest_step(victim)
        proc = subprocess.Popen(train_cmd(victim, args.steps), env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        delay = rng.uniform(args.min_delay, args.max_delay)
        try:
            proc.wait(timeout=delay)
            outcome = f"finished before the kill (exit {proc.returncode})"
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            outcome = "killed"
        events.append({"kill": i, "delay_s": round(delay, 2), "resumed_from": before,
                       "latest_after": latest_step(victim), "outcome": outcome})
        print(f"[{i:2d}] after {delay:5.2f}s: {outcome}; checkpoints {before} -> "
              f"{latest_step(victim)}", flush=True)
    final = subprocess.run(train_cmd(victim, args.steps), env=env, capture_output=True, text=True)
    if final.returncode:
        print(final.stdout[-2000:], final.stderr[-2000:])
        return 1
    a, b = final_params(ref), final_params(victim)
    equal = len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    kills = sum(e["outcome"] == "killed" for e in events)
    report = {"command": " ".join(sys.argv), "steps": args.steps, "kills": kills,
              "restarts": len(events) + 1, "events": events,
              "final_parameters_bit_identical": equal, "wall_s": round(time.time() - t0, 1)}
    print(f"\n{kills} SIGKILLs, {len(events) + 1} restarts; final parameters "
          f"{'bit-identical to' if equal else 'DIFFER from'} the uninterrupted run")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    return 0 if equal else 1


if __name__ == "__main__":
    sys.exit(main())
