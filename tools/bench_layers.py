"""Benchmark every WaveGAN (and SpecGAN) conv layer: forward+backward GFLOP/s per implementation.

For each layer shape of the models at ``--dim`` (default 64, 16384 samples) and ``--batch``
(default 8) it times the layer's output together with its VJP of a fixed random cotangent
w.r.t. input, kernel and bias — i.e. forward + input-gradient + kernel-gradient, as a training
step runs it — for ``impl='auto'`` (what the models run: the matmul forms, and on one CPU
device the native kernels of wavegen/models/one_channel_conv.py for the two one-channel
layers), ``impl='matmul'`` (XLA only) and ``impl='lax'``, and reports GFLOP/s beside a plain
f32 matmul measured in the same run (the machine's practical peak), re-timed before every row
so that the changing load of a shared machine does not skew the percentages. FLOPs are
analytic (``wavegen/models/flops.py``), fwd+bwd = 3 × forward. Times are medians over at least
``--repeats`` calls and about a second of them, after two warm-up calls
(``block_until_ready``); the process keeps freed host memory as ``wavegen`` does
(wavegen/train/host_memory.py).

Usage:
  python tools/bench_layers.py [--dim 64] [--batch 8] [--repeats 5] [--impls auto,matmul,lax]
                               [--only G|D|post|spec] [--gp] [--json out.json]
This is a benchmark, not a test: nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from wavegen.defaults import base_config  # noqa: E402
from wavegen.models import specgan, wavegan  # noqa: E402
from wavegen.models.flops import ConvSpec  # noqa: E402
from wavegen.models.layers import conv1d, conv_transpose1d, upsample_conv1d  # noqa: E402
from wavegen.train.host_memory import retain_freed_memory  # noqa: E402

MAX_REPEATS = 500
LAYER_FNS = {"conv": conv1d, "transpose": conv_transpose1d, "upsample": upsample_conv1d}


def median_seconds(fn: Callable[[], object], repeats: int, min_total_s: float = 1.0) -> float:
    """Median wall time of ``fn()`` (which returns jax arrays) after two warm-up calls.

    At least ``repeats`` calls, and more for fast calls, so that the timed calls span about
    ``min_total_s``: a median of five 4 ms calls swung by 2x between runs on a shared VM.
    """
    for _ in range(2):  # compile, then let the thread pool and caches settle
        jax.block_until_ready(fn())
    start = time.perf_counter()
    jax.block_until_ready(fn())
    one_call = time.perf_counter() - start
    repeats = max(repeats, min(MAX_REPEATS, math.ceil(min_total_s / max(one_call, 1e-6))))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def matmul_gflops(repeats: int, m: int = 8192, k: int = 4096, n: int = 1024) -> float:
    """GFLOP/s of a plain f32 [m, k] @ [k, n] — the reference 'peak'."""
    a = jnp.asarray(np.random.default_rng(0).standard_normal((m, k)), jnp.float32)
    b = jnp.asarray(np.random.default_rng(1).standard_normal((k, n)), jnp.float32)
    f = jax.jit(jnp.matmul)
    return 2 * m * k * n / median_seconds(lambda: f(a, b), repeats) / 1e9


def _fwd_bwd_fn(apply: Callable, out_shape: tuple[int, ...]) -> Callable:
    """jit of (x, w, b) → (y, (dx, dw, db)): the layer's output and its VJP of a fixed cotangent.

    That is one layer's share of a training step: the output is materialised for the next
    layer, and the gradients w.r.t. input, kernel and bias come from the upstream gradient (a
    fixed random array). An earlier version timed ``grad(<y, P>)``; that needs no forward output,
    so XLA dropped the forward GEMM and 2 of the 3 counted GEMMs were timed.
    """
    cotangent = jnp.asarray(np.random.default_rng(2).standard_normal(out_shape), jnp.float32)

    def fwd_bwd(x: jax.Array, w: jax.Array, b: jax.Array) -> tuple[jax.Array, tuple]:
        y, vjp = jax.vjp(apply, x, w, b)
        return y, vjp(cotangent)

    return jax.jit(fwd_bwd)


def layer_fwd_bwd_1d(spec: ConvSpec, impl: str, batch: int) -> tuple[Callable, tuple]:
    """(jitted forward + backward of one 1-D layer, its random (x, w, b)); see _fwd_bwd_fn."""
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.standard_normal((batch, spec.in_len, spec.in_ch)), jnp.float32)
    w = jnp.asarray(rng.standard_normal((spec.kernel, spec.in_ch, spec.out_ch)) * 0.05, jnp.float32)
    b = jnp.zeros((spec.out_ch,), jnp.float32)
    layer = LAYER_FNS[spec.kind]
    f = _fwd_bwd_fn(
        lambda x, w, b: layer(x, w, b, spec.stride, impl=impl), (batch, spec.out_len, spec.out_ch)
    )
    return f, (x, w, b)


def bench_1d(spec: ConvSpec, impl: str, batch: int, repeats: int) -> float:
    """Seconds per forward+backward of one 1-D layer."""
    f, args = layer_fwd_bwd_1d(spec, impl, batch)
    return median_seconds(lambda: f(*args), repeats)


def bench_gp_1d(spec: ConvSpec, impl: str, batch: int, repeats: int) -> float:
    """Seconds per kernel-gradient of a WGAN-GP-style penalty ||d<tanh(layer(x)), P>/dx||².

    The gradient penalty differentiates D twice; this times that pattern for one layer, since
    second-order convs can take different (slower) XLA paths than first-order ones.
    """
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.standard_normal((batch, spec.in_len, spec.in_ch)), jnp.float32)
    w = jnp.asarray(rng.standard_normal((spec.kernel, spec.in_ch, spec.out_ch)) * 0.05, jnp.float32)
    b = jnp.zeros((spec.out_ch,), jnp.float32)
    proj = jnp.asarray(rng.standard_normal((batch, spec.out_len, spec.out_ch)), jnp.float32)
    layer = LAYER_FNS[spec.kind]

    def penalty(w: jax.Array, b: jax.Array, x: jax.Array) -> jax.Array:
        def critic(x: jax.Array) -> jax.Array:
            return jnp.sum(jnp.tanh(layer(x, w, b, spec.stride, impl=impl)) * proj)

        return jnp.sum(jax.grad(critic)(x) ** 2)

    f = jax.jit(jax.grad(penalty, argnums=(0, 1)))
    return median_seconds(lambda: f(w, b, x), repeats)


def bench_2d(spec: ConvSpec, batch: int, repeats: int) -> float:
    """Seconds per forward+backward of one SpecGAN layer, via the lax call nnx.Conv/ConvTranspose
    make with padding='SAME' (NHWC activations, HWIO kernels)."""
    dims = ("NHWC", "HWIO", "NHWC")
    strides = (spec.stride, spec.stride)
    if spec.kind == "transpose2d":

        def conv(x: jax.Array, w: jax.Array) -> jax.Array:
            return jax.lax.conv_transpose(x, w, strides, "SAME", dimension_numbers=dims)
    else:

        def conv(x: jax.Array, w: jax.Array) -> jax.Array:
            return jax.lax.conv_general_dilated(x, w, strides, "SAME", dimension_numbers=dims)

    rng = np.random.default_rng(0)
    side, k = spec.in_len, spec.kernel
    x = jnp.asarray(rng.standard_normal((batch, side, side, spec.in_ch)), jnp.float32)
    w = jnp.asarray(rng.standard_normal((k, k, spec.in_ch, spec.out_ch)) * 0.05, jnp.float32)
    b = jnp.zeros((spec.out_ch,), jnp.float32)
    out = spec.out_len
    f = _fwd_bwd_fn(lambda x, w, b: conv(x, w) + b, (batch, out, out, spec.out_ch))
    return median_seconds(lambda: f(x, w, b), repeats)


def layer_specs(dim: int, only: str | None) -> list[tuple[str, ConvSpec]]:
    """(group, spec) for every benchmarked layer shape."""
    cfg = base_config().model
    cfg.dim = dim
    groups = {
        "G": wavegan.generator_convs(cfg, 16384),
        "G-nearest": wavegan.generator_convs(_with(cfg, upsample="nearest"), 16384),
        "D": wavegan.discriminator_convs(cfg, 16384),
        "post": [ConvSpec("pp_filt", "conv", 16384, 1, 1, 512, 1)],
        "spec-G": specgan.generator_convs(cfg),
        "spec-D": specgan.discriminator_convs(cfg),
    }
    return [
        (g, s) for g, specs in groups.items() for s in specs if only is None or g.startswith(only)
    ]


def _with(cfg, **changes):
    cfg = cfg.copy_and_resolve_references()
    cfg.update(changes)
    return cfg


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--impls", default="auto,matmul,lax")
    parser.add_argument("--only", default=None, help="layer group prefix: G, D, post or spec")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows here")
    parser.add_argument(
        "--gp", action="store_true", help="also time the WGAN-GP double backward of 1-D layers"
    )
    args = parser.parse_args(argv)
    impls = args.impls.split(",")
    retained = retain_freed_memory()  # as `wavegen` runs

    first_peak = peak = matmul_gflops(args.repeats)
    print(
        f"backend={jax.default_backend()} devices={jax.devices()} jax={jax.__version__}"
        f" retain_freed_memory={retained}"
    )
    print(
        f"plain f32 matmul [8192,4096]@[4096,1024]: {peak:.1f} GFLOP/s; it is re-timed before"
        " every row (ref GF/s) and %peak is relative to that"
    )
    header = (
        f"{'group':<10}{'layer':<12}{'shape (T, Cin→Cout, k, s)':<28}{'GFLOP':>7}{'ref GF/s':>10}"
    )
    for impl in impls:
        header += f"{impl + ' ms':>12}{impl + ' GF/s':>12}{'%peak':>7}"
    if args.gp:
        header += "".join(f"{'gp ' + impl + ' ms':>14}" for impl in impls)
    print(header)
    rows = []
    for group, spec in layer_specs(args.dim, args.only):
        gflop = 3 * spec.flops * args.batch / 1e9
        shape = f"{spec.in_len}, {spec.in_ch}→{spec.out_ch}, {spec.kernel}, {spec.stride}"
        # The machine may be shared: a reference matmul timed right before each row keeps %peak
        # comparable across rows even when the background load changes during the run.
        peak = matmul_gflops(args.repeats)
        row = {"group": group, "layer": spec.name, "shape": shape, "gflop_fwd_bwd": gflop}
        row["matmul_gflops"] = peak
        line = f"{group:<10}{spec.name:<12}{shape:<28}{gflop:>7.2f}{peak:>10.1f}"
        for impl in impls:
            if spec.two_d and impl != "lax":
                line += f"{'-':>12}{'-':>12}{'-':>7}"
                continue
            sec = bench_2d(spec, args.batch, args.repeats) if spec.two_d else None
            if sec is None:
                sec = bench_1d(spec, impl, args.batch, args.repeats)
            rate = gflop / sec
            row[impl] = {"ms": 1e3 * sec, "gflops": rate, "fraction_of_matmul": rate / peak}
            line += f"{1e3 * sec:>12.1f}{rate:>12.1f}{100 * rate / peak:>6.0f}%"
        for impl in impls if args.gp else ():
            if spec.two_d:
                line += f"{'-':>14}"
                continue
            sec = bench_gp_1d(spec, impl, args.batch, args.repeats)
            row[impl]["gp_ms"] = 1e3 * sec
            line += f"{1e3 * sec:>14.1f}"
        print(line, flush=True)
        rows.append(row)
    if args.json:
        result = {
            "backend": jax.default_backend(),
            "jax": jax.__version__,
            "batch": args.batch,
            "dim": args.dim,
            "matmul_gflops_first": first_peak,
            "retain_freed_memory": retained,
            "layers": rows,
        }
        args.json.write_text(json.dumps(result, indent=2))
    # Re-measure the reference: a contended machine shows up as a drift between the two.
    print(f"plain f32 matmul again at the end: {matmul_gflops(args.repeats):.1f} GFLOP/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
