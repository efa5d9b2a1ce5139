#!/usr/bin/env python3
"""WaveGAN speed benchmark: our JAX trainer against the PyTorch reference, in one run.

Measures, after warm-up and compilation, medians over repeats: one critic (D) update, one
generator update, one paper iteration (``d_steps`` D + 1 G, as the trainer runs it: one jitted
call), generation throughput (audio-seconds per wall-second), compile time, peak memory, data
pipeline clips/s against what training consumes (``--data-source``/``--data-path``, default the
built-in synthetic set), the same-run matmul GFLOP/s, and the PyTorch reference
(``../shared/bench/torch_wavegan_ref.py``, same batch, d and threads) when torch is installed.
Ratios are what to report: absolute times on shared machines are noise.

    .venv/bin/python tools/bench.py --batch 8 --dim 64 --json docs/bench_b8.json
    .venv/bin/python tools/bench.py --batch 64 --dim 64 --layers

Prints a table; ``--json`` also writes every number with the machine and versions.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TORCH_REF = REPO.parent / "shared" / "bench" / "torch_wavegan_ref.py"


def timed(fn, reps: int, warmup: int = 1) -> tuple[float, float]:
    """(first-call seconds, median seconds of ``reps`` later calls); fn must block until done."""
    t = time.perf_counter()
    fn()
    first = time.perf_counter() - t
    for _ in range(warmup - 1):
        fn()
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return first, statistics.median(times)


def cpu_flags() -> list[str]:
    """The x86 vector flags of this CPU that matter for float32/bf16 speed (Linux only)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return []
    flags = next(
        (ln.split(":", 1)[1].split() for ln in text.splitlines() if ln.startswith("flags")), []
    )
    wanted = ("avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16")
    return [f for f in wanted if f in flags]


def matmul_gflops(reps: int) -> float:
    """Same-run practical peak: f32 [2048, 2048] @ [2048, 2048]."""
    import jax
    import jax.numpy as jnp

    a = jax.random.normal(jax.random.key(0), (2048, 2048), jnp.float32)
    f = jax.jit(lambda x: x @ x)
    _, t = timed(lambda: f(a).block_until_ready(), reps, warmup=2)
    return 2 * 2048**3 / t / 1e9


def bench_jax(args) -> dict:
    import jax
    import jax.numpy as jnp

    from wavegen.defaults import base_config
    from wavegen.models import describe
    from wavegen.train.gan import GANTask

    cfg = base_config()
    cfg.model.dim = args.dim
    cfg.data.length = args.length
    cfg.model.conv_impl = args.impl
    cfg.train.batch_size = args.batch
    cfg.train.d_steps = args.d_steps
    cfg.model.phase_shuffle = 2
    cfg.model.compute_dtype = args.dtype  # bf16 convs/matmuls; params and losses stay float32
    task = GANTask(cfg)
    state = jax.device_put(task.init_state())
    key = jax.random.key(0)
    b, t = args.batch, args.length
    real = jax.random.uniform(key, (b, t), minval=-1, maxval=1)
    reals = jnp.broadcast_to(real, (args.d_steps, b, t))
    out: dict = {"framework": "jax", "version": jax.__version__, "backend": jax.default_backend()}
    out["device"] = str(jax.devices()[0].device_kind)
    desc = describe(cfg)
    out["g_params"], out["d_params"] = desc["generator"]["params"], desc["discriminator"]["params"]

    d_fn = jax.jit(task.critic_update, donate_argnums=(1, 2))
    g_fn = jax.jit(task.generator_update, donate_argnums=(0, 1), static_argnums=3)
    step_fn = jax.jit(task.train_step, donate_argnums=0)
    gen_fn = jax.jit(task.generate)

    holder = {"d": state["d"], "d_opt": state["d_opt"], "g": state["g"], "g_opt": state["g_opt"]}

    def d_once():
        holder["d"], holder["d_opt"], m = d_fn(
            holder["g"], holder["d"], holder["d_opt"], real, None, key
        )
        jax.block_until_ready(m)

    def g_once():
        holder["g"], holder["g_opt"], m = g_fn(
            holder["g"], holder["g_opt"], holder["d"], b, None, key
        )
        jax.block_until_ready(m)

    out["d_compile_s"], out["d_step_s"] = timed(d_once, args.reps)
    out["g_compile_s"], out["g_step_s"] = timed(g_once, args.reps)
    # The full train state (step counter, EMA ...) with the networks the timed updates left.
    box = {"s": {**state, **holder}}

    def it_once():
        box["s"], m = step_fn(
            box["s"], {"x": reals, "label": jnp.zeros((args.d_steps, b), jnp.int32)}, key
        )
        jax.block_until_ready(m)

    out["iteration_compile_s"], out["iteration_s"] = timed(it_once, args.reps)
    z = jax.random.uniform(key, (b, cfg.model.latent_dim), minval=-1, maxval=1)
    _, gen_s = timed(lambda: gen_fn(box["s"]["g"], z, None).block_until_ready(), args.reps)
    out["generate_s"] = gen_s
    out["audio_seconds_per_second"] = b * t / args.sample_rate / gen_s
    # As `wavegen generate` / `eval run` sample: --gen-batches batches in one jitted lax.map
    # (GANTask.sample_audio), where the kernel rearrangements run once per call.
    zs = jax.random.uniform(key, (args.gen_batches, b, cfg.model.latent_dim), minval=-1, maxval=1)
    many = task.sample_batches_fn
    _, many_s = timed(lambda: many(box["s"]["g"], zs, None).block_until_ready(), args.reps)
    out["audio_seconds_per_second_batched"] = args.gen_batches * b * t / args.sample_rate / many_s
    out.update(bench_data(args, cfg, task, out["iteration_s"]))
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    stats = getattr(jax.devices()[0], "memory_stats", lambda: None)()
    if stats:
        out["peak_device_mb"] = stats.get("peak_bytes_in_use", 0) / 2**20
    return out


def bench_data(args, cfg, task, iteration_s: float, num_batches: int = 20) -> dict:
    """Data pipeline throughput against what training consumes.

    Builds the training set as ``wavegen train`` does (``--data-source`` / ``--data-path``;
    default the built-in synthetic set), then times ``num_batches`` batches of the trainer's
    ``BatchIterator`` — shuffled gather of ``d_steps`` × batch clips, placement on the devices
    with the trainer's sharding — after one warm-up batch. Training consumes d_steps × batch real
    clips per iteration; the ratio says how much faster the pipeline is than the step.
    """
    import jax

    from wavegen.data import BatchIterator, build_dataset
    from wavegen.train import parallel

    cfg.data.source = args.data_source
    cfg.data.path = args.data_path
    t = time.perf_counter()
    dataset = build_dataset(cfg.data, split="train", progress=False)
    build_s = time.perf_counter() - t
    mesh = parallel.make_mesh()
    iterator = BatchIterator(
        task.data_arrays(dataset),
        args.batch,
        seed=0,
        group=task.batch_group,
        sharding=parallel.batch_sharding(mesh, task.batch_group),
        prefetch=cfg.data.prefetch,
    )
    jax.block_until_ready(next(iterator))
    t = time.perf_counter()
    for _ in range(num_batches):
        jax.block_until_ready(next(iterator))
    clips_per_s = num_batches * task.batch_group * args.batch / (time.perf_counter() - t)
    consumed = task.batch_group * args.batch / iteration_s
    return {
        "data_source": args.data_source,
        "data_clips": len(dataset),
        "data_build_s": build_s,
        "data_clips_per_second": clips_per_s,
        "train_clips_per_second": consumed,
        "data_headroom": clips_per_s / consumed,
    }


def bench_torch(args) -> dict | None:
    if importlib.util.find_spec("torch") is None:
        print("torch not installed: skipping the reference (pip install torch==2.13.0)")
        return None
    if not TORCH_REF.is_file():
        print(f"torch reference not found at {TORCH_REF}: skipping it")
        return None
    cmd = [
        sys.executable,
        str(TORCH_REF),
        "--batch",
        str(args.batch),
        "--dim",
        str(args.dim),
        "--threads",
        str(args.threads),
        "--reps",
        str(args.reps),
    ]
    res = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if res.returncode:
        print(f"torch reference failed:\n{res.stderr[-2000:]}")
        return None
    return json.loads(res.stdout.strip().splitlines()[-1])


def bench_layers(args) -> list[dict] | None:
    """Per-layer forward+backward GFLOP/s of every WaveGAN layer (tools/bench_layers.py rows)."""
    import tempfile

    path = REPO / "tools" / "bench_layers.py"
    spec = importlib.util.spec_from_file_location("bench_layers", path)
    if spec is None or not path.is_file():
        return None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for group in ("G", "D", "post"):  # "G" also matches "G-nearest"
            out = Path(tmp) / f"{group}.json"
            argv = ["--dim", str(args.dim), "--batch", str(args.batch)]
            argv += ["--repeats", str(args.reps), "--impls", args.impl, "--only", group]
            mod.main([*argv, "--json", str(out)])
            for row in json.loads(out.read_text())["layers"]:
                rate = row[args.impl]
                rows.append(
                    {
                        "name": f"{row['group']} {row['layer']} ({row['shape']})",
                        "gflops": rate["gflops"],
                        "fraction_of_matmul": rate["fraction_of_matmul"],
                    }
                )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--length", type=int, default=16384)
    ap.add_argument("--d-steps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 2, help="torch threads")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--sample-rate", type=int, default=16000)
    ap.add_argument("--impl", default="auto", help="model.conv_impl: auto, matmul or lax")
    ap.add_argument(
        "--dtype",
        default="float32",
        choices=("float32", "bfloat16"),
        help="model.compute_dtype of the WaveGAN (the torch reference stays float32)",
    )
    ap.add_argument(
        "--gen-batches", type=int, default=8, help="batches per call for batched generation"
    )
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument(
        "--data-source", default="synthetic", help="data.source for the pipeline measurement"
    )
    ap.add_argument("--data-path", default="", help="data.path (file sources)")
    ap.add_argument("--layers", action="store_true", help="also per-layer GFLOP/s")
    ap.add_argument("--json", default=None, help="write all numbers to this JSON file")
    args = ap.parse_args()
    sys.path.insert(0, str(REPO))
    from wavegen.train.host_memory import allocator_environment, retain_freed_memory

    # As `wavegen` runs; the torch reference's process gets the same glibc settings.
    retained = retain_freed_memory()
    if retained:
        os.environ.update(allocator_environment())

    import jax

    result = {
        "command": " ".join(sys.argv),
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            # bf16 speed depends on these: AVX-512 BF16 has native bf16 dot products.
            "cpu_flags": cpu_flags(),
        },
        "retain_freed_memory": retained,
        "args": vars(args),
    }
    result["matmul_gflops"] = matmul_gflops(args.reps)
    ours = bench_jax(args)
    result["jax"] = ours
    theirs = None if args.no_torch else bench_torch(args)
    result["torch"] = theirs
    if args.layers:
        result["layers"] = bench_layers(args)

    rows = [
        ("d_step_s", "D step (s)"),
        ("g_step_s", "G step (s)"),
        ("iteration_s", f"iteration {args.d_steps}D+1G (s)"),
        ("audio_seconds_per_second", "generation (audio s / s)"),
    ]
    rows.append(("audio_seconds_per_second_batched", f"  {args.gen_batches} batches per call"))
    print(
        f"\nWaveGAN d={args.dim} batch={args.batch} length={args.length} on "
        f"{ours['backend']} ({ours['device']}), jax {jax.__version__}, {args.dtype} compute, "
        f"CPU flags {' '.join(result['machine']['cpu_flags']) or '?'}"
    )
    print(f"{'':28s}{'jax':>12s}{'torch':>12s}{'speed-up':>10s}")
    result["speedup_vs_torch"] = {}
    for key, name in rows:
        # torch's reference samples one batch per call: the batched row is compared with that.
        ref_key = key.removesuffix("_batched")
        ref = theirs.get(ref_key) if theirs else None
        if ref:
            better = ours[key] / ref if "per_second" in key else ref / ours[key]
            result["speedup_vs_torch"][key] = better
            print(f"{name:28s}{ours[key]:12.4g}{ref:12.4g}{better:9.2f}x")
        else:
            print(f"{name:28s}{ours[key]:12.4g}{'-':>12s}{'-':>10s}")
    print(
        f"compile: D {ours['d_compile_s']:.1f}s  G {ours['g_compile_s']:.1f}s  "
        f"iteration {ours['iteration_compile_s']:.1f}s;  peak RSS {ours['peak_rss_mb']:.0f} MB;"
        f"  matmul {result['matmul_gflops']:.1f} GFLOP/s"
    )
    print(
        f"data pipeline ({ours['data_source']}, {ours['data_clips']} clips, built in "
        f"{ours['data_build_s']:.1f}s): {ours['data_clips_per_second']:.0f} clips/s vs "
        f"{ours['train_clips_per_second']:.2f} clips/s consumed by training "
        f"({ours['data_headroom']:.0f}x headroom)"
    )
    if result.get("layers"):
        print(f"\n{'layer':40s}{'GFLOP/s':>10s}{'% matmul':>10s}")
        for row in result["layers"]:
            print(f"{row['name']:40s}{row['gflops']:10.1f}{row['fraction_of_matmul'] * 100:9.0f}%")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=2))
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
