"""The optimisers every family trains with, from the shared ``train`` keys."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import optax

from wavegen.config import ConfigError

OPTIMIZERS = ("adam", "sgd")


def make_optimizer(
    tc: ml_collections.ConfigDict, learning_rate: float | None = None
) -> optax.GradientTransformation:
    """Adam(lr, b1, b2) as in the WaveGAN paper, or plain SGD (data-parallel exactness tests).

    Args:
      tc: the ``train`` section (``optimizer``, ``learning_rate``, ``b1``, ``b2``).
      learning_rate: overrides ``tc.learning_rate`` (G's and D's own rates under TTUR).

    Raises:
      ConfigError: ``train.optimizer`` is not one of :data:`OPTIMIZERS`.
    """
    lr = tc.learning_rate if learning_rate is None else learning_rate
    if tc.optimizer == "adam":
        return optax.adam(lr, b1=tc.b1, b2=tc.b2)
    if tc.optimizer == "sgd":
        return optax.sgd(lr)
    raise ConfigError(
        f"config key 'train.optimizer' must be one of {OPTIMIZERS}, got {tc.optimizer!r}"
    )


__all__ = ["OPTIMIZERS", "make_optimizer"]


def tree_norm(tree: Any) -> jax.Array:
    """Global L2 norm of a pytree of arrays (``optax.global_norm`` is deprecated)."""
    return jnp.sqrt(sum(jnp.sum(jnp.square(x)) for x in jax.tree.leaves(tree)))
