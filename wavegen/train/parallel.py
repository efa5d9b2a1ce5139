"""Data parallelism: a 1-D 'data' mesh over every device of every host, and its shardings.

The global batch is split along its batch axis over the mesh; parameters and optimiser state are
replicated. ``jax.jit`` inserts the gradient all-reduce itself, so the same step function runs on
one CPU, 8 simulated CPU devices, a GPU or a TPU pod slice.
"""

from __future__ import annotations

import logging
import os

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

DATA_AXIS = "data"
log = logging.getLogger(__name__)


def maybe_initialize_distributed(requested: bool) -> None:
    """Starts JAX's multi-host runtime when asked or when a cluster is detected.

    Must run before any device is used. On TPU VMs and Slurm, ``jax.distributed.initialize()``
    finds the coordinator by itself; elsewhere it reads JAX_COORDINATOR_ADDRESS,
    JAX_NUM_PROCESSES and JAX_PROCESS_ID.
    """
    auto = any(k in os.environ for k in ("JAX_COORDINATOR_ADDRESS", "SLURM_JOB_ID", "TPU_NAME"))
    if not (requested or auto):
        return
    if jax.distributed.is_initialized():
        return
    kwargs = {}
    if "JAX_COORDINATOR_ADDRESS" in os.environ:
        kwargs = dict(
            coordinator_address=os.environ["JAX_COORDINATOR_ADDRESS"],
            num_processes=int(os.environ["JAX_NUM_PROCESSES"]),
            process_id=int(os.environ["JAX_PROCESS_ID"]),
        )
    jax.distributed.initialize(**kwargs)
    log.info(
        "distributed: process %d of %d, %d local / %d global devices",
        jax.process_index(),
        jax.process_count(),
        jax.local_device_count(),
        jax.device_count(),
    )


def enable_compilation_cache(path: str | None = None) -> None:
    """Persists compiled XLA programs on disk, so a resumed run or a test re-uses them.

    ``path`` defaults to $WAVEGEN_JAX_CACHE or ~/.cache/wavegen/jax; "off" disables it.
    """
    path = path or os.environ.get("WAVEGEN_JAX_CACHE") or os.path.expanduser("~/.cache/wavegen/jax")
    if path == "off":
        return
    jax.config.update("jax_compilation_cache_dir", path)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)


def make_mesh(num_devices: int | None = None) -> Mesh:
    """A 1-D mesh named 'data' over the first ``num_devices`` devices (default: all)."""
    devices = jax.devices()
    if num_devices is not None:
        if not 0 < num_devices <= len(devices):
            raise ValueError(f"num_devices={num_devices}, but {len(devices)} devices exist")
        devices = devices[:num_devices]
    return Mesh(np.asarray(devices), (DATA_AXIS,))


def replicated(mesh: Mesh) -> NamedSharding:
    """Sharding of parameters and optimiser state: a full copy on every device."""
    return NamedSharding(mesh, PartitionSpec())


def batch_sharding(mesh: Mesh, group: int = 1) -> NamedSharding:
    """Sharding of a global batch: axis 0 ([B, ...]) or axis 1 when grouped ([G, B, ...])."""
    spec = PartitionSpec(DATA_AXIS) if group == 1 else PartitionSpec(None, DATA_AXIS)
    return NamedSharding(mesh, spec)


def check_batch_size(global_batch: int, mesh: Mesh) -> None:
    """The global batch must split evenly over devices and hosts; say so before compiling."""
    n = mesh.devices.size
    if global_batch % n:
        raise ValueError(
            f"train.batch_size={global_batch} is not divisible by the {n} devices of the data mesh"
        )
    if global_batch % jax.process_count():
        raise ValueError(
            f"train.batch_size={global_batch} is not divisible by {jax.process_count()} processes"
        )
