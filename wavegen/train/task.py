"""The scaffold every family's task builds on.

:class:`wavegen.train.loop.Task` is the protocol the loop calls; :class:`TaskBase` is what the
families' tasks share behind it, so each task states only what is its own: the resolved config,
the compute dtype its networks run in, the attributes the loop reads of every task
(``batch_group``, ``num_heldout``, ``target``), and the defaults of the protocol methods most
families need as they are (held-out clips kept as given, parameter counts from the abstract
state, the label names saved with each checkpoint).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import jax.numpy as jnp
import ml_collections

from wavegen.data import AudioDataset
from wavegen.models import precision
from wavegen.train.loop import describe_state

if TYPE_CHECKING:
    from wavegen.models.target import Target


class TaskBase:
    """Shared state and protocol defaults of a family's task.

    Args:
      config: the full resolved config (its ``model.name`` names the family).
      batch_group: global batches one train step consumes (the GAN: critic updates per G
        update); the loop stacks that many batches per step.
      num_heldout: held-out clips the task's summaries score; :func:`wavegen.train.loop.fit`
        builds them once and hands them to :meth:`set_heldout` (0: none are built).
    """

    # The devices the task's layers were built for; set by wavegen.train.build_task (None: a
    # task built directly, whose layers follow the default backend).
    target: Target | None = None
    # Whether the family's schema has model.compute_dtype (wavegen.models.precision); a family
    # without one runs its networks in float32.
    mixed_precision: bool = True

    def __init__(
        self, config: ml_collections.ConfigDict, *, batch_group: int = 1, num_heldout: int = 0
    ):
        self.config = config
        self.batch_group = int(batch_group)
        self.num_heldout = int(num_heldout)
        # bf16 convs/matmuls at use under model.compute_dtype='bfloat16'; parameters, optimiser
        # states and losses stay float32 (wavegen.models.precision).
        self.dtype = (
            precision.compute_dtype(config) if self.mixed_precision else jnp.dtype(jnp.float32)
        )
        self.heldout: AudioDataset | None = None
        self.label_names: list[str] = []  # set from the data, saved with each checkpoint

    def set_heldout(self, heldout: AudioDataset) -> None:
        """Keeps the held-out clips the loop built as ``self.heldout`` (the VAE and the RNN
        score them in their summaries)."""
        self.heldout = heldout

    def describe(self) -> dict:
        """``wavegen describe``: parameter counts of the task's networks."""
        return describe_state(self)

    def extra_meta(self) -> dict:
        """The label names of the training data, saved with each checkpoint."""
        return {"label_names": self.label_names}

    def load_meta(self, meta: dict) -> None:
        """Restores the label names saved with the checkpoint."""
        self.label_names = list(meta.get("label_names", []))
