#!/usr/bin/env python3
"""Per-op profile of a WaveGAN training step: where the time of one jitted call goes.

Runs one of the trainer's jitted functions (critic update, generator update, the paper iteration
of 5 D + 1 G, or generation) under ``jax.profiler``, sums the runtime of every HLO instruction
over ``--reps`` calls, and prints

- the groups: matmul (fusions holding a dot, with their GFLOP/s), convolution, data movement
  (fusions of only copy / transpose / pad / slice / concatenate / reverse / broadcast), reduction,
  elementwise, other;
- the top instructions with their output shape, FLOPs, rate and the wavegen source lines that
  made them (from the HLO's stack-frame metadata), so a slow op can be traced to a layer.

Times are per-thunk wall times summed over threads: XLA:CPU may run independent thunks
concurrently, so the op total can exceed the wall time of the call (both are printed).

    .venv/bin/python tools/profile_step.py --what iteration --batch 64 --dim 64 --top 25

This is a measurement tool, not a test; nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import collections
import json
import math
import re
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

MOVEMENT = {
    "parameter", "constant", "bitcast", "copy", "transpose", "pad", "slice", "concatenate",
    "reverse", "broadcast", "reshape", "dynamic-slice", "dynamic-update-slice", "tuple",
    "get-tuple-element", "iota",
}  # fmt: skip
CONTAINERS = {"while", "conditional", "call", "async-start", "async-done"}

_COMP = re.compile(r"^(ENTRY )?%?([\w.\-]+) \(.*\) -> .* \{$")
_INSTR = re.compile(
    r"^\s*(?:ROOT )?%([\w.\-]+) = (\([^=]*?\)|[\w]+\[[\d,]*\](?:\{[^}]*\})?|\w+\[\]) "
    r"([\w\-]+)\((.*)$"
)
_SHAPE = re.compile(r"\w+\[([\d,]*)\]")


@dataclass
class Instr:
    name: str
    shape: str
    opcode: str
    rest: str
    computation: str


@dataclass
class Module:
    instrs: dict[str, Instr] = field(default_factory=dict)
    comps: dict[str, list[Instr]] = field(default_factory=dict)
    frames: dict[int, tuple[str, int]] = field(default_factory=dict)  # id → (location, parent)
    entry: str = ""


def dims(shape: str) -> list[int]:
    m = _SHAPE.match(shape)
    return [int(d) for d in m.group(1).split(",") if d] if m else []


def parse_hlo(text: str) -> Module:
    """Instructions by name, computations, and the stack-frame table of compiled HLO text."""
    mod = Module()
    tables: dict[str, dict[int, str]] = collections.defaultdict(dict)
    section, comp = None, None
    for line in text.splitlines():
        if line in ("FileNames", "FunctionNames", "FileLocations", "StackFrames"):
            section = line
            continue
        if section and re.match(r"^\d+ ", line):
            idx, value = line.split(" ", 1)
            tables[section][int(idx)] = value
            continue
        section = None if not line.strip() else section
        if m := _COMP.match(line):
            comp = m.group(2)
            mod.comps[comp] = []
            mod.entry = comp if m.group(1) else mod.entry
        elif (m := _INSTR.match(line)) and comp is not None:
            ins = Instr(m.group(1), m.group(2), m.group(3), m.group(4), comp)
            mod.instrs[ins.name] = ins
            mod.comps[comp].append(ins)
    files = {i: v.strip('"') for i, v in tables["FileNames"].items()}
    funcs = {i: v.strip('"') for i, v in tables["FunctionNames"].items()}
    locs = {}
    for i, v in tables["FileLocations"].items():
        kv = dict(re.findall(r"(\w+)=(\d+)", v))
        fname = Path(files.get(int(kv.get("file_name_id", 0)), "?")).name
        locs[i] = (
            f"{fname}:{kv.get('line', '?')} {funcs.get(int(kv.get('function_name_id', 0)), '')}"
        )
    for i, v in tables["StackFrames"].items():
        kv = dict(re.findall(r"(\w+)=(\d+)", v))
        # parent_frame_id counts from 1 with 0 = none, while frames are printed from 1: the
        # parent of frame i is frame parent_frame_id - 1 (checked against jax's own tables).
        parent = int(kv["parent_frame_id"]) - 1
        mod.frames[i] = (locs.get(int(kv["file_location_id"]), "?"), parent)
    return mod


def source(mod: Module, ins: Instr, depth: int = 3) -> str:
    """The innermost ``depth`` wavegen frames that produced ``ins`` (or its fusion's root/dot)."""
    cands = [ins] + [i for i in mod.comps.get(_called(ins) or "", [])][::-1]
    dot = next((i for i in cands if i.opcode in ("dot", "convolution")), None)
    for cand in ([dot] if dot else []) + cands:
        m = re.search(r"stack_frame_id=(\d+)", cand.rest)
        if not m:
            continue
        # The innermost frame, then the first frame of each new file up the call chain
        # (layers.py:195 _polyphase ← wavegan.py:120 __call__ ← gan.py:88 critic_loss).
        out, files, fid, seen = [], set(), int(m.group(1)), set()
        while fid in mod.frames and fid not in seen and len(out) < depth:
            seen.add(fid)
            loc, parent = mod.frames[fid]
            fname = loc.split(":")[0]
            if fname not in files and fname not in ("api.py", "profile_step.py"):
                out.append(loc)
                files.add(fname)
            fid = parent
        return " ← ".join(out)
    return ""


def _called(ins: Instr) -> str | None:
    m = re.search(r"calls=%([\w.\-]+)", ins.rest)
    return m.group(1) if m else None


def dot_flops(mod: Module, ins: Instr) -> float:
    """2 · |output| · |contracted| of a dot instruction."""
    operands = re.findall(r"%([\w.\-]+)", ins.rest.split(")", 1)[0])
    m = re.search(r"lhs_contracting_dims=\{([\d,]*)\}", ins.rest)
    if not operands or not m or operands[0] not in mod.instrs:
        return 0.0
    lhs = dims(mod.instrs[operands[0]].shape)
    contracted = math.prod(lhs[int(d)] for d in m.group(1).split(",") if d)
    return 2.0 * math.prod(dims(ins.shape)) * contracted


def native_conv_flops(mod: Module, ins: Instr) -> float:
    """2 · |y| · K of a wavegen one-channel conv custom call (wavegen/models/one_channel_conv.py):
    y [B, N, C] is the output of conv, the first operand of transpose, the second of kernel_grad;
    K is the first dim of the [K, C] taps (an operand, or kernel_grad's output)."""
    m = re.search(r'custom_call_target="(WavegenOneChannelConv\w*)"', ins.rest)
    operands = re.findall(r"%([\w.\-]+)", ins.rest.split(")", 1)[0])
    if not m or len(operands) < 2 or not all(o in mod.instrs for o in operands[:2]):
        return 0.0
    a, b = (dims(mod.instrs[o].shape) for o in operands[:2])
    out = dims(ins.shape)
    y, taps = {
        "WavegenOneChannelConv": (out, b[0]),
        "WavegenOneChannelConvTranspose": (a, b[0]),
        "WavegenOneChannelConvKernelGrad": (b, out[0]),
    }[m.group(1)]
    return 2.0 * math.prod(y) * taps


def classify(mod: Module, ins: Instr) -> tuple[str, float]:
    """(group, FLOPs) of a top-level (thunk) instruction."""
    if ins.opcode == "custom-call" and "WavegenOneChannelConv" in ins.rest:
        return "native conv", native_conv_flops(mod, ins)
    body = mod.comps.get(_called(ins) or "", [ins])
    ops = {i.opcode for i in body}
    flops = sum(dot_flops(mod, i) for i in body if i.opcode == "dot")
    if "dot" in ops:
        return "matmul", flops
    if "convolution" in ops:
        return "convolution", 0.0
    if ops <= MOVEMENT:
        return "data movement", 0.0
    if ops & {"reduce", "reduce-window", "select-and-scatter"}:
        return "reduction", 0.0
    if ops & {"scatter", "gather", "sort", "rng-bit-generator", "custom-call"}:
        return "other", 0.0
    return "elementwise", 0.0


def op_times(trace_dir: Path, module_name: str) -> dict[str, tuple[float, int]]:
    """hlo_op → (total seconds, count) for thunks of ``module_name`` in the newest trace."""
    from jax.profiler import ProfileData

    path = sorted(trace_dir.rglob("*.xplane.pb"), key=lambda p: p.stat().st_mtime)[-1]
    totals: dict[str, list] = collections.defaultdict(lambda: [0.0, 0])
    for plane in ProfileData.from_file(str(path)).planes:
        for line in plane.lines:
            for ev in line.events:
                stats = dict((k, v) for k, v in ev.stats)
                if stats.get("hlo_module") != module_name or "hlo_op" not in stats:
                    continue
                t = totals[stats["hlo_op"]]
                t[0] += ev.duration_ns * 1e-9
                t[1] += 1
    return {k: (v[0], v[1]) for k, v in totals.items()}


def build_layer(args):
    """One conv layer's output + VJP (``--what layer --layer G/upconv_0``), exactly as
    tools/bench_layers.py times it: forward + input, kernel and bias gradients."""
    sys.path.insert(0, str(REPO / "tools"))
    from bench_layers import layer_fwd_bwd_1d, layer_specs

    group, name = args.layer.split("/")
    spec = next(s for g, s in layer_specs(args.dim, group) if g == group and s.name == name)
    return layer_fwd_bwd_1d(spec, args.impl, args.batch)


def build(args):
    """(jitted function, its arguments) for ``args.what``."""
    import jax
    import jax.numpy as jnp

    if args.what == "layer":
        return build_layer(args)
    from wavegen.defaults import base_config
    from wavegen.train.gan import GANTask

    cfg = base_config()
    cfg.model.dim = args.dim
    cfg.data.length = args.length
    cfg.model.conv_impl = args.impl
    cfg.model.phase_shuffle = 2
    cfg.train.batch_size = args.batch
    task = GANTask(cfg)
    s = jax.device_put(task.init_state())
    key = jax.random.key(0)
    b, t, n_d = args.batch, args.length, cfg.train.d_steps
    real = jax.random.uniform(key, (b, t), minval=-1, maxval=1)
    if args.what == "d":
        return jax.jit(task.critic_update), (s["g"], s["d"], s["d_opt"], real, None, key)
    if args.what == "g":
        fn = jax.jit(lambda g, g_opt, d, key: task.generator_update(g, g_opt, d, b, None, key))
        return fn, (s["g"], s["g_opt"], s["d"], key)
    if args.what == "iteration":
        batch = {
            "x": jnp.broadcast_to(real, (n_d, b, t)),
            "label": jnp.zeros((n_d, b), jnp.int32),
        }
        return jax.jit(task.train_step), (s, batch, key)
    z = jax.random.uniform(key, (b, cfg.model.latent_dim), minval=-1, maxval=1)
    return jax.jit(task.generate), (s["g"], z, None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--what", choices=("d", "g", "iteration", "generate", "layer"), default="iteration"
    )
    parser.add_argument("--layer", default="D/downconv_0", help="GROUP/NAME for --what layer")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--length", type=int, default=16384)
    parser.add_argument("--impl", default="auto")
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--top", type=int, default=20)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    from wavegen.train.host_memory import retain_freed_memory

    retain_freed_memory()  # as `wavegen` runs

    import jax

    fn, fargs = build(args)
    compiled = fn.lower(*fargs).compile()
    text = compiled.as_text()
    module_name = re.search(r"HloModule ([\w.\-]+)", text).group(1)
    mod = parse_hlo(text)
    jax.block_until_ready(compiled(*fargs))  # warm-up: thread pools, first-touch of buffers
    with tempfile.TemporaryDirectory() as tmp:
        jax.profiler.start_trace(tmp)
        start = time.perf_counter()
        for _ in range(args.reps):
            jax.block_until_ready(compiled(*fargs))
        wall = (time.perf_counter() - start) / args.reps
        jax.profiler.stop_trace()
        times = op_times(Path(tmp), module_name)

    rows, groups = [], collections.defaultdict(lambda: [0.0, 0.0])
    for name, (sec, count) in times.items():
        ins = mod.instrs.get(name)
        if ins is None or ins.opcode in CONTAINERS:
            continue  # a while/call thunk's time is its body's, counted op by op
        group, flops = classify(mod, ins)
        sec /= args.reps
        flops *= count / args.reps
        groups[group][0] += sec
        groups[group][1] += flops
        rows.append(
            {
                "op": name,
                "group": group,
                "seconds": sec,
                "calls": count // args.reps,
                "gflop": flops / 1e9,
                "shape": ins.shape.split("{")[0],
                "source": source(mod, ins),
            }
        )
    rows.sort(key=lambda r: -r["seconds"])
    total = sum(g[0] for g in groups.values())
    print(
        f"{args.what} batch={args.batch} d={args.dim} length={args.length} "
        f"backend={jax.default_backend()} jax={jax.__version__}"
    )
    print(f"wall per call {wall:.3f} s; op time per call {total:.3f} s ({len(rows)} ops)")
    print(f"{'group':<15}{'s/call':>9}{'share':>8}{'GFLOP':>9}{'GFLOP/s':>9}")
    for g, (sec, flops) in sorted(groups.items(), key=lambda kv: -kv[1][0]):
        rate = f"{flops / 1e9 / sec:9.1f}" if flops else f"{'-':>9}"
        print(f"{g:<15}{sec:>9.3f}{100 * sec / total:>7.1f}%{flops / 1e9:>9.2f}{rate}")
    print(f"\ntop {args.top} ops")
    print(f"{'op':<22}{'group':<14}{'ms':>8}{'n':>4}{'GF/s':>7}  {'shape':<24}source")
    for r in rows[: args.top]:
        rate = f"{r['gflop'] / r['seconds']:7.0f}" if r["gflop"] else f"{'':>7}"
        print(
            f"{r['op'][:21]:<22}{r['group']:<14}{1e3 * r['seconds']:>8.1f}{r['calls']:>4}{rate}  "
            f"{r['shape'][:23]:<24}{r['source']}"
        )
    if args.json:
        summary = {g: {"seconds": v[0], "gflop": v[1] / 1e9} for g, v in groups.items()}
        out = {"args": vars(args) | {"json": str(args.json)}, "wall_s": wall, "groups": summary}
        args.json.write_text(json.dumps(out | {"ops": rows}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
