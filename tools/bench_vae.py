#!/usr/bin/env python3
"""Waveform-VAE speed benchmark: encode+decode real-time factor and one training step.

Measures, after compilation, medians over repeats of jitted calls on random audio (no data
needed):

- ``encode+decode``: posterior-mean reconstruction of a batch; real-time factor = seconds of
  audio processed per wall-clock second (> 1: faster than real time);
- ``train step``: one VAE-phase step (and, with ``--adversarial``, one adversarial step) at the
  config's batch size, as the trainer runs it;
- compile times and parameter counts.

    .venv/bin/python tools/bench_vae.py --config experiments/vae_notes.py:cpu
    .venv/bin/python tools/bench_vae.py --config experiments/vae_notes.py --adversarial \
        --json docs/bench_vae_full.json

Absolute times on a shared machine are noise; report them with the machine and load.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def timed(fn, reps: int) -> tuple[float, float]:
    """(first-call seconds, median seconds of ``reps`` later calls); fn must block."""
    t = time.perf_counter()
    fn()
    first = time.perf_counter() - t
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return first, statistics.median(times)


def count(tree) -> int:
    import jax

    return int(sum(math.prod(x.shape) for x in jax.tree.leaves(tree)))


def run(args) -> dict:
    import jax
    import jax.numpy as jnp
    import numpy as np

    from wavegen.config import load_config
    from wavegen.train.vae import VAETask

    overrides = list(args.override)
    if args.adversarial:
        overrides.append("train.adversarial_start=0")
    cfg = load_config(args.config, overrides)
    task = VAETask(cfg)
    state = jax.device_put(task.init_state())
    length, sr = cfg.data.length, cfg.data.sample_rate
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.uniform(-0.5, 0.5, (cfg.train.batch_size, length)), jnp.float32)
    out = {
        "config": args.config,
        "overrides": overrides,
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "load_avg_1min": os.getloadavg()[0],
            "device": str(jax.devices()[0]),
            "jax": jax.__version__,
        },
        "params": {k: count(state[k]) for k in ("enc", "dec", "disc") if k in state},
        "compression": task.settings.compression,
        "batch_size": cfg.train.batch_size,
        "clip_seconds": length / sr,
    }

    recon = jax.jit(lambda enc, dec, x: task.decode(dec, task.encode(enc, x)[0]))
    first, med = timed(lambda: recon(state["enc"], state["dec"], x).block_until_ready(), args.reps)
    audio_seconds = x.shape[0] * length / sr
    out["encode_decode"] = {
        "compile_and_first_s": first,
        "median_s": med,
        "real_time_factor": audio_seconds / med,
    }

    step = jax.jit(task.train_step, donate_argnums=0)
    batch = {"x": x}
    key = jax.random.key(0)
    holder = {"state": state}

    def one_step():
        holder["state"], metrics = step(holder["state"], batch, key)
        jax.block_until_ready(metrics)

    first, med = timed(one_step, args.reps)
    name = "train_step_adversarial" if args.adversarial else "train_step"
    out[name] = {
        "compile_and_first_s": first,
        "median_s": med,
        "examples_per_s": cfg.train.batch_size / med,
    }
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", default=str(REPO / "experiments" / "vae_notes.py") + ":cpu")
    p.add_argument("--override", action="append", default=[], help="KEY=VALUE (repeatable)")
    p.add_argument("--adversarial", action="store_true", help="time an adversarial step")
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--json", default=None, help="also write the results here")
    args = p.parse_args(argv)
    result = run(args)
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
