"""The devices a model is compiled for, which pick the conv layers' formulation.

The fastest form of a conv depends on where it runs: on a single CPU device WaveGAN's two
one-channel layers run as native kernels (XLA FFI custom calls that exist for the CPU only) and
the long post-processing filter as an FFT; on several devices, a GPU or a TPU the layers use
XLA's dense GEMM forms, which XLA partitions and which accelerators run near peak. That is a
property of the *compilation target*, not of the host process: a CPU host can lower a step for
a TPU topology (``wavegen compile``) or export a generator for ``cuda``. So the target is an
explicit, static value that the model builders take and the layers store, never read from
``jax.default_backend()`` inside a layer call.

Builders that construct whole families (``build_gan``, ``wavegen.train.build_task``) open
:func:`use_target` around construction, so every layer built inside picks the target up at
construction time (:func:`current_target`); outside any scope it is :meth:`Target.local`, the
default backend and device count of this process — what the code chose before targets existed.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
from collections.abc import Iterable, Iterator

import jax

# Names jax.export and device.platform use for the same hardware family.
_PLATFORM_ALIASES = {"cuda": "gpu", "rocm": "gpu", "gpu": "gpu", "cpu": "cpu", "tpu": "tpu"}


@dataclasses.dataclass(frozen=True)
class Target:
    """Where a computation will run: ``platform`` ('cpu', 'gpu', 'tpu') and ``num_devices``.

    Frozen and hashable: it is stored on layers as static module metadata (part of the graph
    definition, not an array), so two targets give two traces.
    """

    platform: str
    num_devices: int = 1

    def __post_init__(self) -> None:
        name = _PLATFORM_ALIASES.get(str(self.platform).lower())
        if name is None:
            raise ValueError(
                f"Target: platform must be one of {sorted(_PLATFORM_ALIASES)}, got "
                f"{self.platform!r}"
            )
        object.__setattr__(self, "platform", name)
        if int(self.num_devices) < 1:
            raise ValueError(f"Target: num_devices must be >= 1, got {self.num_devices}")
        object.__setattr__(self, "num_devices", int(self.num_devices))

    @classmethod
    def local(cls) -> Target:
        """This process's default backend and every device of it (all hosts): the target of
        a step jitted over :func:`wavegen.train.parallel.make_mesh`'s default mesh."""
        return cls(jax.default_backend(), jax.device_count())

    @classmethod
    def from_devices(cls, devices: Iterable) -> Target:
        """The target of a computation over ``devices`` (jax devices, or TPU topology devices)."""
        devices = list(devices)
        if not devices:
            raise ValueError("Target.from_devices: no devices")
        platforms = {d.platform for d in devices}
        if len(platforms) != 1:
            raise ValueError(f"Target.from_devices: devices of several platforms {platforms}")
        return cls(platforms.pop(), len(devices))

    @classmethod
    def from_mesh(cls, mesh: jax.sharding.Mesh) -> Target:
        """The target of a computation sharded over every device of ``mesh``."""
        return cls.from_devices(mesh.devices.flat)

    @property
    def single_cpu(self) -> bool:
        """One CPU device: where the native one-channel kernels and the FFT filter are used."""
        return self.platform == "cpu" and self.num_devices == 1


_CURRENT: contextvars.ContextVar[Target | None] = contextvars.ContextVar(
    "wavegen_target", default=None
)


def current_target() -> Target:
    """The innermost :func:`use_target` target, else :meth:`Target.local`.

    Read when a layer is *constructed*; the layer keeps the result.
    """
    target = _CURRENT.get()
    return target if target is not None else Target.local()


@contextlib.contextmanager
def use_target(target: Target | None) -> Iterator[Target]:
    """Layers constructed inside get ``target`` (None: leave the enclosing choice as it is)."""
    if target is None:
        yield current_target()
        return
    if not isinstance(target, Target):
        raise TypeError(f"use_target: expected a Target, got {type(target).__name__}")
    token = _CURRENT.set(target)
    try:
        yield target
    finally:
        _CURRENT.reset(token)


__all__ = ["Target", "current_target", "use_target"]
