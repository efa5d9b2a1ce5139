#!/usr/bin/env python3
"""Data-pipeline throughput: FSDD cache build (decode) and BatchIterator iteration.

Builds the FSDD cache from scratch in a temporary cache folder (decoded clips/s, every file
read, mono-mixed, resampled to --sample-rate, sliced to --length), reloads it (cache hit), then
times BatchIterator at --batch × --length: numpy batches, and global jax.Arrays sharded over
every local device. A paper-scale WaveGAN iteration takes 5 critic updates on real batches of 64
(320 clips); we budget 64 × 6 = 384 clips per iteration for headroom, and the "train it/s fed"
column divides throughput by that: how many training iterations per second this stage could feed.
Not a test: nothing is asserted, absolute numbers on a shared machine are noisy.

    .venv/bin/python tools/bench_data.py --data ../shared/data --json /tmp/bench_data.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
CLIPS_PER_TRAIN_ITERATION = 64 * 6  # 5 real critic batches of 64, plus one of headroom


def iterate(it, batches: int) -> float:
    """Seconds for ``batches`` batches after one warm-up batch; blocks on device arrays."""
    import jax

    jax.block_until_ready(next(it))
    t = time.perf_counter()
    for _ in range(batches):
        jax.block_until_ready(next(it))
    return time.perf_counter() - t


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default_data = os.environ.get("WAVEGEN_SHARED_DATA", str(REPO.parent / "shared" / "data"))
    p.add_argument("--data", default=default_data, help="shared data folder (holds fsdd/)")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--length", type=int, default=16384)
    p.add_argument("--sample-rate", type=int, default=16000, help="16000: includes resampling")
    p.add_argument("--batches", type=int, default=200, help="batches timed per iterator setting")
    p.add_argument("--json", default=None, help="also write the numbers here")
    args = p.parse_args()

    fsdd = Path(args.data) / "fsdd" / "recordings"
    if not fsdd.is_dir():
        print(f"bench_data: {fsdd} not found (use --data or WAVEGEN_SHARED_DATA)", file=sys.stderr)
        return 2

    import jax
    import numpy as np
    from jax.sharding import Mesh, NamedSharding, PartitionSpec

    from wavegen.data import BatchIterator, build_dataset
    from wavegen.defaults import data_config

    cfg = data_config()
    cfg.source, cfg.path = "fsdd", str(fsdd)
    cfg.sample_rate, cfg.length, cfg.normalize = args.sample_rate, args.length, "peak"
    rows: list[tuple[str, float, str]] = []
    with tempfile.TemporaryDirectory() as cache:
        cfg.cache_dir = cache
        t = time.perf_counter()
        ds = build_dataset(cfg, "all", progress=False)
        build_s = time.perf_counter() - t
        detail = f"{len(ds)} clips, {build_s:.1f} s"
        rows.append(("cache build (decode)", len(ds) / build_s, detail))
        t = time.perf_counter()
        ds = build_dataset(cfg, "all", progress=False)
        hit_s = time.perf_counter() - t
        rows.append(("cache hit (reload)", len(ds) / hit_s, f"{hit_s * 1e3:.0f} ms"))

        arrays = {"x": ds.waveforms, "label": ds.labels}
        mesh = Mesh(np.asarray(jax.local_devices()), ("data",))
        settings = [
            ("iterator numpy, prefetch 2", dict(prefetch=2)),
            ("iterator numpy, no prefetch", dict(prefetch=0)),
            (
                f"iterator sharded on {mesh.size} dev",
                dict(prefetch=2, sharding=NamedSharding(mesh, PartitionSpec("data"))),
            ),
        ]
        for name, kw in settings:
            with BatchIterator(arrays, args.batch, seed=0, **kw) as it:
                secs = iterate(it, args.batches)
            rows.append((name, args.batches * args.batch / secs, f"{args.batches / secs:.0f} b/s"))

    print(f"FSDD at {args.sample_rate} Hz, length {args.length}, batch {args.batch}")
    print(f"{'stage':34s} {'clips/s':>10s}  {'train it/s fed':>14s}  detail")
    for name, clips_per_s, detail in rows:
        fed = clips_per_s / CLIPS_PER_TRAIN_ITERATION
        print(f"{name:34s} {clips_per_s:10.0f}  {fed:14.1f}  {detail}")
    if args.json:
        out = {
            "machine": platform.platform(),
            "cpus": os.cpu_count(),
            "jax": jax.__version__,
            "args": vars(args),
            "clips_per_train_iteration": CLIPS_PER_TRAIN_ITERATION,
            "rows": [dict(stage=n, clips_per_s=c, detail=d) for n, c, d in rows],
        }
        Path(args.json).write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
