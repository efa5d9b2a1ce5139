"""AOT compilation of the train step and the sampler for a TPU topology (`wavegen compile`).

Tooling over :func:`wavegen.train.loop.make_step_fn`: it builds the task for the topology's
devices (:class:`wavegen.models.target.Target`), jit-lowers the step with the shardings
:func:`wavegen.train.loop.fit` uses (state replicated, the batch split over a 1-D 'data' mesh),
feeding abstract ``jax.ShapeDtypeStruct`` inputs, and compiles it with libtpu on this host — no
TPU needed (``pip install -e .[aot]``; as MaxText's ``train_compile.py``). XLA's memory and cost
analyses of the compiled per-device program then say whether a run fits in HBM and roughly how
long it takes before a slice is paid for.
"""

from __future__ import annotations

import dataclasses
import math
import os
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from wavegen.data.dataset import AudioDataset
from wavegen.errors import WavegenError
from wavegen.models.target import Target
from wavegen.train import build_task, parallel
from wavegen.train.loop import make_step_fn
from wavegen.train.networks import task_networks

GiB = 1 << 30


class CompileError(WavegenError, RuntimeError):
    """The step cannot be compiled or run on the topology (unknown name, does not fit, ...)."""


@dataclasses.dataclass(frozen=True)
class Chip:
    """Published per-chip peaks. ``peak_flops`` is bf16 on the MXU; float32 matmuls at JAX's
    default precision on TPU are one bf16 pass, so they run at that rate too (the float32
    rows of docs/scaling.md are estimated so; HIGHEST precision would be ~6x slower)."""

    name: str
    hbm_bytes: int
    peak_flops: float  # bf16 FLOP/s per chip
    hbm_bandwidth: float  # bytes/s per chip


# Sources, per chip (Cloud TPU system architecture pages, read 2025):
# v4:  https://cloud.google.com/tpu/docs/v4  — 275 TFLOP/s bf16, 32 GiB HBM2, 1200 GB/s.
# v5e: https://cloud.google.com/tpu/docs/v5e — 197 TFLOP/s bf16, 16 GiB HBM2, 819 GB/s.
# v5p: https://cloud.google.com/tpu/docs/v5p — 459 TFLOP/s bf16, 95 GiB HBM2e, 2765 GB/s.
CHIPS = {
    "v4": Chip("TPU v4", 32 * GiB, 275e12, 1200e9),
    "v5e": Chip("TPU v5e", 16 * GiB, 197e12, 819e9),
    "v5p": Chip("TPU v5p", 95 * GiB, 459e12, 2765e9),
}


@dataclasses.dataclass(frozen=True)
class Topology:
    """Arguments of ``jax.experimental.topologies.get_topology_desc`` for one slice, as
    MaxText's ``accelerator_to_spec_map.py`` gives them (topology name, chip config, chips per
    host)."""

    chip: str
    topology_name: str
    chip_config_name: str
    chips_per_host_bounds: tuple[int, int, int]


TOPOLOGIES = {
    "v4:2x2x1": Topology("v4", "v4:2x2x1", "megacore", (2, 2, 1)),  # v4-8, 1 host
    "v4:2x2x2": Topology("v4", "v4:2x2x2", "megacore", (2, 2, 1)),  # v4-16, 2 hosts
    "v4:2x2x4": Topology("v4", "v4:2x2x4", "megacore", (2, 2, 1)),  # v4-32, 4 hosts
    "v5e:2x2": Topology("v5e", "v5e:2x2", "default", (2, 2, 1)),  # v5e-4, 1 host
    "v5e:2x4": Topology("v5e", "v5e:2x4", "default", (2, 4, 1)),  # v5e-8, 1 host of 8 chips
    "v5e:4x4": Topology("v5e", "v5e:4x4", "default", (2, 2, 1)),  # v5e-16, 4 hosts
    "v5p:2x2x1": Topology("v5p", "v5:2x2x1", "megacore", (2, 2, 1)),  # v5p-8, 1 host
    "v5p:2x2x2": Topology("v5p", "v5:2x2x2", "megacore", (2, 2, 1)),  # v5p-16, 2 hosts
}
# Cloud TPU's accelerator-type names (v4 and v5p count TensorCores: 2 per chip).
ALIASES = {
    "v4-8": "v4:2x2x1",
    "v4-16": "v4:2x2x2",
    "v4-32": "v4:2x2x4",
    "v5e-4": "v5e:2x2",
    "v5e-8": "v5e:2x4",
    "v5e-16": "v5e:4x4",
    "v5p-8": "v5p:2x2x1",
    "v5p-16": "v5p:2x2x2",
}


def resolve_topology(name: str) -> Topology:
    """The :class:`Topology` of a name in :data:`TOPOLOGIES` or :data:`ALIASES`."""
    key = ALIASES.get(name, name)
    if key not in TOPOLOGIES:
        known = ", ".join(sorted(TOPOLOGIES) + sorted(ALIASES))
        raise CompileError(f"unknown topology {name!r}; known: {known}")
    return TOPOLOGIES[key]


def topology_devices(topo: Topology) -> list:
    """The slice's devices (abstract TPU devices of this host's libtpu; nothing runs on them)."""
    try:
        from jax.experimental import topologies
    except ImportError as err:  # pragma: no cover - part of jax
        raise CompileError(f"jax.experimental.topologies unavailable: {err}") from err
    # libtpu takes a machine-wide lock on load, meant for processes that own the chips; an
    # AOT compile owns none, so two compiles (or a test beside one) may load it together.
    os.environ.setdefault("ALLOW_MULTIPLE_LIBTPU_LOAD", "1")
    try:
        desc = topologies.get_topology_desc(
            platform="tpu",
            topology_name=topo.topology_name,
            chip_config_name=topo.chip_config_name,
            chips_per_host_bounds=topo.chips_per_host_bounds,
            num_slices=1,
            wrap=(False, False, False),
        )
    except Exception as err:
        raise CompileError(
            f"could not describe topology {topo.topology_name} ({type(err).__name__}: {err}); "
            "is the TPU runtime installed? pip install -e .[aot]"
        ) from err
    return list(desc.devices)


def _abstract(tree: Any, sharding: NamedSharding) -> Any:
    return jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=sharding), tree)


def abstract_batch(task: Any, config: ml_collections.ConfigDict, mesh: Mesh) -> dict:
    """The global batch the loop feeds the step, as sharded ShapeDtypeStructs.

    Per-example shapes come from the task's own ``data_arrays`` on ``batch_size`` silent
    clips, so every family's preprocessing (SpecGAN's spectrogram features, μ-law codes) is the
    one training uses.
    """
    b, group = config.train.batch_size, task.batch_group
    num_classes = max(int(config.model.get("num_classes", 0)), 1)
    fake = AudioDataset(
        waveforms=np.zeros((b, config.data.length), np.float32),
        labels=np.arange(b, dtype=np.int32) % num_classes,
        label_names=[str(i) for i in range(num_classes)],
        sample_rate=config.data.sample_rate,
        sources=[f"aot:{i}" for i in range(b)],
        skipped=[],
    )
    arrays = task.data_arrays(fake)
    lead = (b,) if group == 1 else (group, b)
    sharding = parallel.batch_sharding(mesh, group)
    return {
        k: jax.ShapeDtypeStruct(lead + v.shape[1:], v.dtype, sharding=sharding)
        for k, v in arrays.items()
    }


def host_batch_shards(mesh: Mesh, global_batch: int, group: int) -> dict[int, list[int]]:
    """Per process, the global-batch rows its devices hold under the loop's batch sharding."""
    lead = (global_batch,) if group == 1 else (group, global_batch)
    axis = len(lead) - 1
    rows: dict[int, set[int]] = {}
    index_map = parallel.batch_sharding(mesh, group).devices_indices_map(lead)
    for device, index in index_map.items():
        r = range(global_batch)[index[axis]]
        rows.setdefault(device.process_index, set()).update(r)
    return {p: sorted(v) for p, v in sorted(rows.items())}


def check_host_shards(mesh: Mesh, global_batch: int, group: int) -> dict:
    """Checks that each host's devices hold exactly the rows BatchIterator gives that host
    (the contiguous slice [p·B/P, (p+1)·B/P), wavegen/data/batching.py); returns a summary."""
    hosts = len({d.process_index for d in mesh.devices.flat})
    for count, what in ((hosts, "hosts"), (mesh.devices.size, "devices")):
        if global_batch % count:
            raise CompileError(
                f"train.batch_size={global_batch} is not divisible by the topology's {count} {what}"
            )
    shards = host_batch_shards(mesh, global_batch, group)
    local = global_batch // hosts
    for p, rows in shards.items():
        expected = list(range(p * local, (p + 1) * local))
        if rows != expected:
            raise CompileError(
                f"host {p}'s devices hold batch rows {rows[:4]}..., but the data pipeline gives "
                f"it rows {expected[0]}..{expected[-1]}"
            )
    return {"hosts": hosts, "per_host_batch": local, "matches_pipeline": True}


def _cost(compiled: Any) -> dict[str, float]:
    cost = compiled.cost_analysis()
    if isinstance(cost, list | tuple):  # older jax: one dict per program
        cost = cost[0] if cost else {}
    return {
        "flops": float(cost.get("flops", 0.0)),
        "bytes_accessed": float(cost.get("bytes accessed", 0.0)),
    }


def _memory(compiled: Any) -> dict[str, int]:
    m = compiled.memory_analysis()
    out = {
        "argument_bytes": int(m.argument_size_in_bytes),
        "output_bytes": int(m.output_size_in_bytes),
        "alias_bytes": int(m.alias_size_in_bytes),
        "temp_bytes": int(m.temp_size_in_bytes),
        "generated_code_bytes": int(m.generated_code_size_in_bytes),
    }
    # Donated state aliases its outputs: those bytes are live once, not twice.
    out["total_bytes"] = (
        out["argument_bytes"]
        + out["output_bytes"]
        - out["alias_bytes"]
        + out["temp_bytes"]
        + out["generated_code_bytes"]
    )
    return out


def roofline(flops: float, bytes_accessed: float, chip: Chip) -> dict[str, float]:
    """Lower bound on one program's time per device: max(FLOPs / peak, bytes / bandwidth)."""
    compute_s, memory_s = flops / chip.peak_flops, bytes_accessed / chip.hbm_bandwidth
    return {
        "arithmetic_intensity": flops / bytes_accessed if bytes_accessed else math.inf,
        "ridge_point": chip.peak_flops / chip.hbm_bandwidth,
        "compute_ms": compute_s * 1e3,
        "memory_ms": memory_s * 1e3,
        "roofline_ms": max(compute_s, memory_s) * 1e3,
        "bound": "compute" if compute_s >= memory_s else "memory",
    }


def _program_report(compiled: Any, chip: Chip, hbm: int) -> dict:
    report = {"memory": _memory(compiled), "cost": _cost(compiled)}
    report["memory"]["hbm_bytes"] = hbm
    report["memory"]["fits"] = report["memory"]["total_bytes"] <= hbm
    report["roofline"] = roofline(report["cost"]["flops"], report["cost"]["bytes_accessed"], chip)
    return report


def _sampler(task: Any, config: ml_collections.ConfigDict, state: Any, mesh: Mesh):
    """(jitted sampler, abstract args) for one global batch of samples: the task's generator
    (:mod:`wavegen.train.networks`), its weights replicated and its batch inputs sharded."""
    b = config.train.batch_size
    rep, batch = parallel.replicated(mesh), parallel.batch_sharding(mesh)
    try:
        generator = task_networks(task, state, b)[0]
    except NotImplementedError as err:
        raise CompileError(f"no sampler: {err}") from err

    def place(x: jax.ShapeDtypeStruct) -> jax.ShapeDtypeStruct:
        sharding = batch if x.ndim and x.shape[0] == b else rep
        return jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=sharding)

    args = (_abstract(generator.params, rep), *(place(x) for x in generator.inputs))
    return jax.jit(generator.fn), args


def compile_for_topology(
    config: ml_collections.ConfigDict,
    topology: str,
    *,
    hbm_bytes: int | None = None,
    sampler: bool = True,
    config_name: str = "",
) -> dict:
    """AOT-compiles the train step (and the sampler) of ``config`` for ``topology``.

    Args:
      config: the full resolved config; ``train.batch_size`` is the global batch.
      topology: a name of :data:`TOPOLOGIES` or :data:`ALIASES` (e.g. 'v4:2x2x1', 'v4-8').
      hbm_bytes: HBM per chip to check against (default: the chip's published size).
      sampler: also compile one global batch of samples.
      config_name: what the report calls the config (e.g. 'experiments/quickstart.py:tiny').

    Returns:
      A JSON-able report: per device memory (arguments, outputs, temporaries, generated code,
      against HBM), FLOPs and bytes accessed per step, arithmetic intensity, a roofline step
      time, the projected wall time of ``train.num_steps``, the multi-host batch check.

    Raises:
      CompileError: unknown topology, no TPU runtime, batch not divisible, or the step does
        not fit in HBM (the report is attached as ``err.report``).
    """
    topo = resolve_topology(topology)
    chip = CHIPS[topo.chip]
    hbm = chip.hbm_bytes if hbm_bytes is None else int(hbm_bytes)
    devices = topology_devices(topo)
    mesh = Mesh(np.asarray(devices), (parallel.DATA_AXIS,))
    tc = config.train
    check_host_shards(mesh, tc.batch_size, 1)  # divisibility, before the task is built
    task = build_task(config, target=Target.from_mesh(mesh))
    hosts = check_host_shards(mesh, tc.batch_size, task.batch_group)
    abstract_state = jax.eval_shape(task.init_state)
    state_sharding = parallel.replicated(mesh)
    state = _abstract(abstract_state, state_sharding)
    batch = abstract_batch(task, config, mesh)
    step = jax.ShapeDtypeStruct((), jnp.int32, sharding=NamedSharding(mesh, PartitionSpec()))
    step_fn = jax.jit(
        make_step_fn(task, config.seed, tc.nan_policy),
        donate_argnums=0,
        out_shardings=(state_sharding, None),
    )
    lowered = step_fn.lower(state, batch, step)
    if "Wavegen" in lowered.as_text():  # the CPU kernels must never reach a TPU program
        raise CompileError("the lowered step still calls wavegen's CPU kernels")
    train = _program_report(lowered.compile(), chip, hbm)
    train["projected_hours"] = train["roofline"]["roofline_ms"] * tc.num_steps / 3.6e6
    report = {
        "config": config_name or config.model.name,
        "model": config.model.name,
        "topology": topo.topology_name,
        "chip": chip.name,
        "devices": len(devices),
        "hosts": hosts,
        "global_batch": tc.batch_size,
        "batch_group": task.batch_group,
        "num_steps": tc.num_steps,
        "train_step": train,
    }
    if sampler:
        fn, args = _sampler(task, config, abstract_state, mesh)
        report["sampler"] = _program_report(fn.lower(*args).compile(), chip, hbm)
    if not train["memory"]["fits"]:
        err = CompileError(
            f"the train step needs {train['memory']['total_bytes'] / GiB:.2f} GiB per device, "
            f"more than the {hbm / GiB:.2f} GiB HBM of a {chip.name} ({topology})"
        )
        err.report = report
        raise err
    return report


def format_report(report: dict) -> str:
    """A short human-readable summary of :func:`compile_for_topology`'s report."""
    lines = [
        f"{report['model']} on {report['topology']} ({report['devices']} x {report['chip']}, "
        f"{report['hosts']['hosts']} host(s), {report['hosts']['per_host_batch']} examples "
        f"per host of the global batch {report['global_batch']})"
    ]
    for name in ("train_step", "sampler"):
        if name not in report:
            continue
        r = report[name]
        m, c, f = r["memory"], r["cost"], r["roofline"]
        lines.append(
            f"  {name}: per device args {m['argument_bytes'] / GiB:.3f} GiB, out "
            f"{m['output_bytes'] / GiB:.3f}, temp {m['temp_bytes'] / GiB:.3f}, code "
            f"{m['generated_code_bytes'] / 2**20:.1f} MiB; total {m['total_bytes'] / GiB:.3f} of "
            f"{m['hbm_bytes'] / GiB:.0f} GiB HBM"
        )
        lines.append(
            f"    {c['flops'] / 1e12:.4f} TFLOP, {c['bytes_accessed'] / 1e9:.3f} GB accessed, "
            f"intensity {f['arithmetic_intensity']:.1f} FLOP/B (ridge {f['ridge_point']:.0f}); "
            f"roofline {f['roofline_ms']:.3f} ms ({f['bound']}-bound)"
        )
    if "projected_hours" in report["train_step"]:
        lines.append(
            f"  {report['num_steps']} steps: >= {report['train_step']['projected_hours']:.2f} h "
            "at the roofline"
        )
    return "\n".join(lines)


__all__ = [
    "ALIASES",
    "CHIPS",
    "TOPOLOGIES",
    "Chip",
    "CompileError",
    "Topology",
    "check_host_shards",
    "compile_for_topology",
    "format_report",
    "roofline",
]
