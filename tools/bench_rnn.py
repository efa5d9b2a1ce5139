#!/usr/bin/env python3
"""Sample-level RNN speed: sampling rate and real-time factor beside WaveGAN, and a train step.

Measures, after compilation, medians over repeats of jitted calls (random weights and random
audio; no data needed):

- ``samplernn sampling``: ancestral sampling of ``--batch`` clips of ``data.length`` samples
  (one jitted ``lax.scan``); samples/s = generated samples (all clips) per wall second;
  real-time factor = seconds of audio per wall second (> 1: faster than real time);
- ``wavegan generation``: G(z) of the same batch with the WaveGAN config ``--gan-config``
  (its own clip length), the same two numbers;
- ``samplernn train step``: one step at the config's batch (``seq_len / tbptt_len`` updates),
  with training samples/s.

    .venv/bin/python tools/bench_rnn.py                       # experiments/samplernn_fsdd.py
    .venv/bin/python tools/bench_rnn.py --batch 1 --json docs/bench_rnn_b1.json

Prints a table; ``--json`` also writes every number with the machine. Absolute times on a
shared machine are noise; compare rows of one run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def cpu_seconds() -> float:
    """User + system CPU seconds of this process (all threads) so far."""
    t = os.times()
    return t.user + t.system


def timed(fn, reps: int) -> tuple[float, float, float]:
    """(first-call seconds, median wall seconds, median CPU seconds of ``reps`` later calls).

    The CPU seconds (all threads) do not grow when other processes share the cores, so on a busy
    machine they bound the idle wall time: between cpu / cores and cpu. fn must block.
    """
    t = time.perf_counter()
    fn()
    first = time.perf_counter() - t
    times, cpus = [], []
    for _ in range(reps):
        t, c = time.perf_counter(), cpu_seconds()
        fn()
        times.append(time.perf_counter() - t)
        cpus.append(cpu_seconds() - c)
    return first, statistics.median(times), statistics.median(cpus)


def run(args) -> dict:
    import jax
    import jax.numpy as jnp
    import numpy as np

    from wavegen.config import load_config
    from wavegen.train.gan import GANTask
    from wavegen.train.rnn import RNNTask

    cfg = load_config(args.config, list(args.override))
    task = RNNTask(cfg)
    state = jax.device_put(task.init_state())
    batch, length, sr = args.batch or cfg.train.batch_size, cfg.data.length, cfg.data.sample_rate
    out: dict = {
        "config": args.config,
        "overrides": list(args.override),
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "load_avg_1min": os.getloadavg()[0],
            "device": str(jax.devices()[0]),
            "jax": jax.__version__,
        },
        "params": int(sum(x.size for x in jax.tree.leaves(state["params"]))),
        "batch": batch,
    }
    labels = np.zeros(batch, np.int32) if task.conditional else None
    key = jax.random.key(0)

    def sample():
        task.generate_codes(state["params"], key, batch, length, labels).block_until_ready()

    first, med, cpu = timed(sample, args.reps)
    out["samplernn_sampling"] = {
        "clip_samples": length,
        "compile_and_first_s": first,
        "median_s": med,
        "median_cpu_s": cpu,
        "samples_per_s": batch * length / med,
        "real_time_factor": batch * length / sr / med,
    }

    gan_cfg = load_config(args.gan_config)
    gan = GANTask(gan_cfg)
    g_params = jax.device_put(gan.init_state()["g"])
    z = jax.random.uniform(key, (batch, gan_cfg.model.latent_dim), minval=-1, maxval=1)
    g_labels = jnp.zeros(batch, jnp.int32) if gan.conditional else None
    gen = jax.jit(gan.generate)
    first, med, cpu = timed(lambda: gen(g_params, z, g_labels).block_until_ready(), args.reps)
    g_len, g_sr = gan_cfg.data.length, gan_cfg.data.sample_rate
    out["wavegan_generation"] = {
        "config": args.gan_config,
        "clip_samples": g_len,
        "compile_and_first_s": first,
        "median_s": med,
        "median_cpu_s": cpu,
        "samples_per_s": batch * g_len / med,
        "real_time_factor": batch * g_len / g_sr / med,
    }

    if not args.no_train:
        b = cfg.train.batch_size
        rng = np.random.default_rng(0)
        x = rng.uniform(-0.5, 0.5, (b, length)).astype(np.float32)
        train_batch = {
            "x": jnp.asarray(x),
            "length": jnp.full((b,), length, jnp.int32),
            "label": jnp.zeros((b,), jnp.int32),
        }
        step = jax.jit(task.train_step, donate_argnums=0)
        holder = {"state": jax.device_put(task.init_state())}

        def one_step():
            holder["state"], metrics = step(holder["state"], train_batch, key)
            jax.block_until_ready(metrics)

        first, med, cpu = timed(one_step, args.reps)
        out["samplernn_train_step"] = {
            "batch_size": b,
            "seq_len": task.seq_len,
            "updates_per_step": task.seq_len // task.tbptt_len,
            "compile_and_first_s": first,
            "median_s": med,
            "median_cpu_s": cpu,
            "train_samples_per_s": b * task.seq_len / med,
        }
    return out


def table(result: dict) -> str:
    rows = [("what", "median s", "CPU s", "samples/s", "real-time factor")]
    for name in ("samplernn_sampling", "wavegan_generation"):
        r = result[name]
        rows.append(
            (
                f"{name.replace('_', ' ')} (B={result['batch']}, T={r['clip_samples']})",
                f"{r['median_s']:.3f}",
                f"{r['median_cpu_s']:.3f}",
                f"{r['samples_per_s']:,.0f}",
                f"{r['real_time_factor']:.2f}",
            )
        )
    if "samplernn_train_step" in result:
        r = result["samplernn_train_step"]
        rows.append(
            (
                f"samplernn train step (B={r['batch_size']}, {r['updates_per_step']} updates)",
                f"{r['median_s']:.3f}",
                f"{r['median_cpu_s']:.3f}",
                f"{r['train_samples_per_s']:,.0f}",
                "",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", default=str(REPO / "experiments" / "samplernn_fsdd.py"))
    p.add_argument("--gan-config", default=str(REPO / "experiments" / "wavegan_fsdd.py"))
    p.add_argument("--override", action="append", default=[], help="KEY=VALUE (repeatable)")
    p.add_argument("--batch", type=int, default=0, help="sampling batch (0: train.batch_size)")
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--no-train", action="store_true", help="skip the train-step timing")
    p.add_argument("--json", default=None, help="also write the results here")
    args = p.parse_args(argv)
    result = run(args)
    print(table(result))
    print(
        f"(machine load, 1 min: {result['machine']['load_avg_1min']:.2f}; params "
        f"{result['params']:,})"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
