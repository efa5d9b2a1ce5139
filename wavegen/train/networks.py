"""The jittable networks a trained task exposes: what ``wavegen compile`` compiles as its
sampler and what ``wavegen export`` serialises.

A task's optional ``networks(state, batch)`` method returns them, its generator first (the
sampler), so neither tool dispatches on ``model.name``: a new family that has the method
compiles and exports with no change there.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax

PyTree = Any


@dataclasses.dataclass(frozen=True)
class Network:
    """One network of a trained task, as a pure function of its weights and inputs.

    Attributes:
      name: file stem of its artifact ('generator', 'encoder').
      fn: ``fn(params, *inputs)`` → one array (jittable).
      params: the weights it is called with (e.g. the EMA generator's).
      inputs: abstract inputs, in call order; a leading axis of the batch size is the batch
        (``wavegen compile`` shards it over the 'data' mesh, the rest is replicated).
      input_names: one name per input, for the artifact's signature.
      output_kind: what it returns, in words.
      meta: what a caller needs besides the signature (latent law, labels, post-processing),
        written into the artifact's JSON.
      not_portable: why it cannot be exported as a self-contained artifact ('' = it can).
    """

    name: str
    fn: Callable[..., jax.Array]
    params: PyTree
    inputs: tuple[jax.ShapeDtypeStruct, ...]
    input_names: tuple[str, ...]
    output_kind: str
    meta: dict = dataclasses.field(default_factory=dict)
    not_portable: str = ""


def task_networks(task: Any, state: PyTree, batch: int) -> list[Network]:
    """``task.networks(state, batch)``, generator first.

    Raises:
      NotImplementedError: the task's family exposes no networks (the message names it).
    """
    method = getattr(task, "networks", None)
    if method is None:
        raise NotImplementedError(
            f"model.name={task.config.model.name!r} exposes no networks to compile or export"
        )
    return list(method(state, batch))
