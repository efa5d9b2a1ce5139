"""``wavegen export``: a run's generator as a self-contained ``jax.export`` artifact.

Written to ``OUT``:

- ``generator.jax``: the bytes of ``jax.export.export(jax.jit(fn), platforms=...)(*args)
  .serialize()``, with the sampling weights (the EMA when the run keeps one) closed over as
  constants. GAN: latents [B, latent_dim] float32 (and labels [B] int32 for a conditional
  model) → audio [B, T] (SpecGAN: the normalised log-magnitude spectrogram [B, 128, 128], as
  its Griffin-Lim inversion is host numpy, not JAX). VAE: latents [B, L, latent_dim] → audio
  [B, L · compression] (the decoder, unclipped, as ``wavegen vae decode``).
- ``encoder.jax`` (VAE only): audio [B, data.length] → posterior-mean latents [B, L, latent_dim].
- ``generator.json``: the call signature (``inputs`` in call order, ``output``), the sample
  rate, the model name, the data source, the platforms and the step.
- ``generator.onnx`` (and ``encoder.onnx``) with ``onnx=True``, through jax2onnx.

Loading needs only jax::

    exp = jax.export.deserialize(bytearray(open("OUT/generator.jax", "rb").read()))
    audio = exp.call(latents)            # conditional: exp.call(latents, labels)

Two choices, made here once for every family:

- **A fixed batch** (``batch``, recorded in the JSON). A symbolic batch
  (``jax.export.symbolic_shape("b")``) does not trace through WaveGAN's generator: its
  transposed convs pick their formulation from B·T at trace time (``_phases_cheaper`` in
  :mod:`wavegen.models.layers`), and ``16*b <= 64`` has no answer for every b. The VAE's decoder
  does export with a symbolic batch, but one rule for all artifacts keeps their JSON alike.
- **The formulation.** Artifacts must run in a process without wavegen, which has no handlers
  for the native CPU kernels' FFI targets (and ``jax.export`` refuses them: they carry no
  compatibility guarantee). So ``conv_impl='auto'`` becomes ``'matmul'`` (the same
  arithmetic, XLA only), and the networks are built for :func:`export_target`: a single CPU
  device for a CPU-only export (the FFT long filter), else the first non-CPU platform, whose
  XLA forms lower on every platform.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import jax
import ml_collections
import numpy as np

from wavegen.errors import WavegenError
from wavegen.models.target import Target
from wavegen.train.networks import Network, task_networks

PyTree = Any

# jax.export's platform names (it lowers for each; the artifact runs on any of them).
PLATFORMS = ("cpu", "cuda", "rocm", "tpu")
META_FILE = "generator.json"
# A substring of every native kernel's custom-call target (wavegen/models/one_channel_conv.cc).
NATIVE_CALL_PREFIX = "Wavegen"


class ExportError(WavegenError):
    """A bad ``wavegen export`` request: unknown platform, bad batch, a family or run it cannot
    export, or a missing optional converter."""


@dataclasses.dataclass(frozen=True)
class Exportable:
    """One function to serialise: ``fn(*inputs)`` with its weights closed over.

    Attributes:
      name: the file stem ('generator', 'encoder').
      fn: the pure function of the inputs.
      inputs: abstract arguments in call order.
      input_names: one name per input, for the JSON and ONNX.
      output_kind: what the output is, in words (for the JSON).
      meta: the network's extra JSON (latent law, labels, post-processing).
    """

    name: str
    fn: Callable[..., jax.Array]
    inputs: tuple[jax.ShapeDtypeStruct, ...]
    input_names: tuple[str, ...]
    output_kind: str
    meta: dict = dataclasses.field(default_factory=dict)


def parse_platforms(platforms: str | Sequence[str]) -> tuple[str, ...]:
    """``"cpu,tpu"`` (or a sequence) → ('cpu', 'tpu'): lower-cased, de-duplicated, in order.

    Raises:
      ExportError: none given, or a name outside :data:`PLATFORMS`.
    """
    items = platforms.split(",") if isinstance(platforms, str) else list(platforms)
    names = [str(p).strip().lower() for p in items if str(p).strip()]
    if not names:
        raise ExportError(f"--platforms: no platform given; expected some of {list(PLATFORMS)}")
    unknown = [p for p in names if p not in PLATFORMS]
    if unknown:
        raise ExportError(
            f"--platforms: unknown platform(s) {unknown}; expected a comma-separated list of "
            f"{list(PLATFORMS)}"
        )
    return tuple(dict.fromkeys(names))


def export_target(platforms: Sequence[str]) -> Target:
    """The target the exported networks are built for (see the module docstring).

    Args:
      platforms: names from :data:`PLATFORMS`.

    Returns:
      ``Target('cpu', 1)`` when only the CPU is asked for, else ``Target(p, 1)`` for the first
      non-CPU platform p: its layer forms are plain XLA, which every platform lowers.
    """
    others = [p for p in platforms if p != "cpu"]
    return Target(others[0] if others else "cpu", 1)


def export_config(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """A copy of a run's config whose layers use no native kernels ('auto' → 'matmul')."""
    cfg = config.copy_and_resolve_references()
    # 'matmul' is what 'auto' runs everywhere except the native one-channel layers on one CPU
    # device (wavegen.models.layers.resolve_impl); 'lax' is kept, it is pure XLA already.
    if "conv_impl" in cfg.model and cfg.model.conv_impl == "auto":
        cfg.model.conv_impl = "matmul"
    return cfg


def _host(tree: PyTree) -> PyTree:
    """Arrays as numpy: closed over by the exported function, they become its constants (a
    restored array may be replicated over a mesh, which an export must not depend on)."""
    return jax.tree.map(lambda a: np.asarray(jax.device_get(a)), tree)


def _networks(task, state: PyTree, batch: int) -> list[Network]:
    """The task's networks (:mod:`wavegen.train.networks`), or ExportError saying why not."""
    try:
        items = task_networks(task, state, batch)
    except NotImplementedError as e:
        raise ExportError(f"nothing to export: {e}") from e
    except KeyError as e:  # a published state that lacks a network's weights
        raise ExportError(f"the {task.config.model.name} state has no {e} weights") from e
    for item in items:
        if item.not_portable:
            raise ExportError(
                f"model.name={task.config.model.name!r}: its {item.name} cannot be exported "
                f"({item.not_portable})"
            )
    return items


def exportables(task, state: PyTree, batch: int) -> list[Exportable]:
    """The functions of a task to serialise, its generator first, weights closed over.

    Args:
      task: a task built with :func:`export_config` for :func:`export_target`.
      state: its restored state (a published generator's ``{'g': weights}`` for a GAN).
      batch: the fixed batch size B of every input.

    Raises:
      ExportError: the family has no exportable networks.
    """

    def bind(fn: Callable[..., jax.Array], params: PyTree) -> Callable[..., jax.Array]:
        def bound(*inputs: jax.Array) -> jax.Array:
            return fn(params, *inputs)

        return bound

    return [
        Exportable(
            n.name, bind(n.fn, _host(n.params)), n.inputs, n.input_names, n.output_kind, n.meta
        )
        for n in _networks(task, state, batch)
    ]


def export_function(item: Exportable, platforms: Sequence[str]) -> jax.export.Exported:
    """``jax.export`` of ``item.fn`` for ``platforms``.

    Raises:
      ExportError: the lowered module calls a native wavegen kernel (a bug: the networks were
        not built with :func:`export_config`).
    """
    exported = jax.export.export(jax.jit(item.fn), platforms=list(platforms))(*item.inputs)
    if NATIVE_CALL_PREFIX in exported.mlir_module():
        raise ExportError(
            f"{item.name}: the lowered module calls a native wavegen kernel, which a process "
            "without wavegen cannot run; build the networks with export_config()"
        )
    return exported


def serialize(exported: jax.export.Exported) -> bytearray:
    """The artifact's bytes (``Exported.serialize``, which needs the flatbuffers package)."""
    try:
        return exported.serialize()
    except ImportError as e:  # jax imports flatbuffers only when serialising
        raise ExportError(f"serialising the export needs flatbuffers: {e}") from e


class _BelowErrorFrom(logging.Filter):
    """Drops records below ERROR logged from a file of the package ``name``."""

    def __init__(self, name: str):
        super().__init__()
        self.part = f"{os.sep}{name}{os.sep}"

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.ERROR or self.part not in record.pathname


@contextlib.contextmanager
def _quiet_converter() -> Iterator[None]:
    # jax2onnx imports its example plugins on first use and logs a traceback for each one whose
    # optional package (equinox, dm_pix, MaxText, ...) is absent, none of them used here, and
    # logs its progress on the root logger: keep only its errors.
    loggers = [logging.getLogger(name) for name in ("jax2onnx", "onnx_ir")]
    levels = [log.level for log in loggers]
    for log in loggers:
        log.setLevel(logging.ERROR)
    root = logging.getLogger()
    drop = _BelowErrorFrom("jax2onnx")
    root.addFilter(drop)
    try:
        yield
    finally:
        root.removeFilter(drop)
        for log, level in zip(loggers, levels, strict=True):
            log.setLevel(level)


def onnx_bytes(item: Exportable) -> tuple[bytes, str]:
    """``item.fn`` converted to an ONNX model by jax2onnx.

    Returns:
      (the serialised ModelProto, the converter's name and version).

    Raises:
      ExportError: jax2onnx is not installed, or it cannot convert the graph.
    """
    try:
        import jax2onnx
    except ImportError as e:
        raise ExportError(
            "--onnx needs the jax2onnx converter: pip install --no-deps jax2onnx onnx onnx-ir "
            "onnxruntime sympy mpmath (docs/scaling.md, 'Exporting': why --no-deps)"
        ) from e
    from importlib.metadata import version

    with _quiet_converter():
        try:
            model = jax2onnx.to_onnx(
                item.fn,
                list(item.inputs),
                model_name=f"wavegen_{item.name}",
                input_names=list(item.input_names),
                output_names=["output"],
            )
        except Exception as e:  # the converter's own errors name the primitive it lacks
            raise ExportError(f"jax2onnx could not convert the {item.name}: {e}") from e
    return model.SerializeToString(), f"jax2onnx {version('jax2onnx')}"


def _spec(name: str | None, a: jax.ShapeDtypeStruct | jax.core.ShapedArray) -> dict:
    spec = {"shape": [int(d) for d in a.shape], "dtype": str(np.dtype(a.dtype))}
    return spec if name is None else {"name": name, **spec}


def _write_bytes(path: Path, data: bytes | bytearray) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(bytes(data))
    tmp.replace(path)  # a reader never sees half an artifact


def export_run(
    workdir: str | Path,
    out: str | Path,
    *,
    step: int | None = None,
    platforms: str | Sequence[str] = ("cpu",),
    batch: int = 8,
    onnx: bool = False,
) -> dict:
    """Exports the generator (and the VAE's encoder) of a run or a published generator.

    Args:
      workdir: a run directory (``wavegen train``) or a published folder (``wavegen publish``).
      out: output folder (created); its files are replaced.
      step: checkpoint step (None: the latest).
      platforms: names from :data:`PLATFORMS`, or a comma-separated string.
      batch: the fixed batch size B of the artifacts' inputs.
      onnx: also write ``NAME.onnx`` for every artifact (needs jax2onnx).

    Returns:
      The dict written to ``out/generator.json``.

    Raises:
      ExportError: bad platforms or batch, a family without a generator, no converter.
      CheckpointError: not a run directory, or no such step.
    """
    from wavegen.train import build_task
    from wavegen.train.runs import load_run

    platforms = parse_platforms(platforms)
    if int(batch) < 1:
        raise ExportError(f"--batch must be >= 1, got {batch}")
    batch = int(batch)
    loaded, state, step = load_run(workdir, step)
    _networks(loaded, state, batch)  # refuses a family without them before building another
    target = export_target(platforms)
    cfg = export_config(loaded.config)
    task = build_task(cfg, target=target)  # the same weights' tree; only the layer forms differ
    task.load_meta(loaded.extra_meta())  # label names, SpecGAN's spectrogram moments
    items = exportables(task, state, batch)

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    described, files = {}, []
    for item in items:
        exported = export_function(item, platforms)
        _write_bytes(out / f"{item.name}.jax", serialize(exported))
        files.append(f"{item.name}.jax")
        described[item.name] = {
            "file": f"{item.name}.jax",
            "inputs": [_spec(n, a) for n, a in zip(item.input_names, item.inputs, strict=True)],
            "output": _spec(None, exported.out_avals[0]),
            "output_kind": item.output_kind,
        }
        if onnx:
            data, converter = onnx_bytes(item)
            _write_bytes(out / f"{item.name}.onnx", data)
            files.append(f"{item.name}.onnx")
            described[item.name]["onnx"] = {"file": f"{item.name}.onnx", "converter": converter}

    meta = {
        "format": "jax.export",
        **described.pop("generator"),
        "call": "jax.export.deserialize(bytearray(open(file, 'rb').read())).call(*inputs)",
        "model": cfg.model.name,
        "data_source": cfg.data.source,
        "sample_rate": int(cfg.data.sample_rate),
        "step": int(step),
        "source": str(workdir),
        "platforms": list(platforms),
        "batch": batch,
        "batch_note": "fixed: WaveGAN's layers choose their formulation from the batch at trace "
        "time, so a symbolic batch does not export (wavegen/inference/export.py)",
        "target": {
            "platform": target.platform,
            "num_devices": target.num_devices,
            "conv_impl": cfg.model.get("conv_impl"),
        },
        "jax_version": jax.__version__,
        **items[0].meta,
        **described,  # the VAE's "encoder"
        "files": files + [META_FILE],
    }
    (out / META_FILE).write_text(json.dumps(meta, indent=2))
    return meta


__all__ = [
    "PLATFORMS",
    "ExportError",
    "Exportable",
    "export_config",
    "export_function",
    "export_run",
    "export_target",
    "exportables",
    "onnx_bytes",
    "parse_platforms",
    "serialize",
]
