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
import jax.numpy as jnp
import ml_collections
import numpy as np

from wavegen.errors import WavegenError
from wavegen.models.target import Target

PyTree = Any

# jax.export's platform names (it lowers for each; the artifact runs on any of them).
PLATFORMS = ("cpu", "cuda", "rocm", "tpu")
META_FILE = "generator.json"
EXPORTABLE_FAMILIES = ("wavegan", "specgan", "vae")
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
    """

    name: str
    fn: Callable[..., jax.Array]
    inputs: tuple[jax.ShapeDtypeStruct, ...]
    input_names: tuple[str, ...]
    output_kind: str


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


def _gan_exportables(task, state: PyTree, batch: int) -> list[Exportable]:
    params = _host(task.sampling_params(state))
    z = jax.ShapeDtypeStruct((batch, int(task.config.model.latent_dim)), jnp.float32)
    kind = "normalised log-magnitude spectrogram" if task.is_spec else "audio"
    if task.conditional:

        def conditional(latents: jax.Array, labels: jax.Array) -> jax.Array:
            return task.generate(params, latents, labels)

        inputs = (z, jax.ShapeDtypeStruct((batch,), jnp.int32))
        return [Exportable("generator", conditional, inputs, ("latents", "labels"), kind)]

    def unconditional(latents: jax.Array) -> jax.Array:
        return task.generate(params, latents, None)

    return [Exportable("generator", unconditional, (z,), ("latents",), kind)]


def _vae_exportables(task, state: PyTree, batch: int) -> list[Exportable]:
    if "dec" not in state or "enc" not in state:
        raise ExportError("the VAE state has no 'enc'/'dec' weights to export")
    enc, dec = _host(state["enc"]), _host(state["dec"])
    s = task.settings

    def generator(latents: jax.Array) -> jax.Array:
        return task.decode(dec, latents)

    def encoder(audio: jax.Array) -> jax.Array:
        return task.encode(enc, audio)[0]  # the posterior mean, as `wavegen vae encode`

    z = jax.ShapeDtypeStruct((batch, s.latent_frames, s.latent_dim), jnp.float32)
    x = jax.ShapeDtypeStruct((batch, s.length), jnp.float32)
    return [
        Exportable("generator", generator, (z,), ("latents",), "audio (unclipped)"),
        Exportable("encoder", encoder, (x,), ("audio",), "posterior mean latents"),
    ]


def exportables(task, state: PyTree, batch: int) -> list[Exportable]:
    """The functions of a task to serialise: the generator first, then the VAE's encoder.

    Args:
      task: a GAN or VAE task, built with :func:`export_config` for :func:`export_target`.
      state: its restored state (a published generator's ``{'g': weights}`` for a GAN).
      batch: the fixed batch size B of every input.

    Raises:
      ExportError: the family has no exportable generator.
    """
    name = task.config.model.name
    _require_exportable(name)
    if name == "vae":
        return _vae_exportables(task, state, batch)
    return _gan_exportables(task, state, batch)


def _require_exportable(name: str) -> None:
    if name not in EXPORTABLE_FAMILIES:
        raise ExportError(
            f"model.name={name!r}: only {list(EXPORTABLE_FAMILIES)} runs can be exported (the "
            "sample-level RNN samples step by step on the host)"
        )


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


def _family_meta(task, state: PyTree) -> dict:
    """What a caller needs besides the signature: latent law, labels, post-processing."""
    cfg = task.config
    if cfg.model.name == "vae":
        return {
            "latent_distribution": "normal(0, 1) per frame (the prior), or encoder.jax's means",
            "compression": int(task.settings.compression),
        }
    meta: dict = {
        "latent_distribution": "uniform(-1, 1)",
        "num_classes": int(cfg.model.num_classes),
        "label_names": list(task.label_names),
        "uses_ema": "g_ema" in state,
    }
    if task.is_spec:  # the host-side inversion wavegen.train.gan.GANTask.to_audio runs
        moments = None if task.moments is None else [m.tolist() for m in task.moments]
        meta["postprocess"] = {
            "function": "wavegen.data.spectral.features_to_waveform",
            "spectral_moments": moments,
            "griffin_lim": cfg.model.griffin_lim,
            "griffin_lim_iters": int(cfg.model.griffin_lim_iters),
            "length": int(cfg.data.length),
        }
    return meta


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
    _require_exportable(loaded.config.model.name)  # before building another task for it
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
        **_family_meta(task, state),
        **described,  # the VAE's "encoder"
        "files": files + [META_FILE],
    }
    (out / META_FILE).write_text(json.dumps(meta, indent=2))
    return meta


__all__ = [
    "EXPORTABLE_FAMILIES",
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
