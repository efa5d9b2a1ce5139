"""Mixed precision: ``model.compute_dtype`` ('float32' or 'bfloat16') for every family.

Parameters and optimiser state stay float32; only the *use* of a network is lowered. The trainers
split their networks into a graph definition and float32 parameters (``nnx.split``) and rebuild
them inside each step (``nnx.merge``); :func:`merge` casts the floating parameters to the compute
dtype at that point, so every conv, matmul and activation inside runs in it while the gradient
flows back through the cast to the float32 parameters (Flax's ``dtype`` vs ``param_dtype``,
applied to a whole network at once instead of per layer). The trainers cast the network's input
with :func:`to_compute` and its outputs back with :func:`to_float32`, so losses, gradient
penalties (their gradients w.r.t. a float32 input), metrics and the audio stay float32.

What stays float32 inside a bf16 network, and why:

- the spectral critic's STFT (:mod:`wavegen.models.spectral_critic` upcasts its input), the long
  post-processing filter's FFT (:mod:`wavegen.models.long_filter` upcasts), the VAE's PQMF and
  spectral losses (applied by the trainer outside the merged networks, on float32 arrays);
- normalisation statistics: flax's norm layers compute mean/variance in at least float32;
- the native one-channel CPU kernels (:mod:`wavegen.models.one_channel_conv`) are float32-only,
  so :func:`wavegen.models.layers._native_ok` sees a bf16 input and the layer falls back to its
  matmul formulation, which XLA runs in bf16 (no crash, no silent upcast).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import ml_collections
from flax import nnx

from wavegen.config import ConfigError

COMPUTE_DTYPES = ("float32", "bfloat16")
DEFAULT = "float32"

PyTree = object


def compute_dtype(cfg: ml_collections.ConfigDict) -> jnp.dtype:
    """The validated ``model.compute_dtype`` of a full config.

    Raises:
      ConfigError: naming ``model.compute_dtype`` when it is not one of :data:`COMPUTE_DTYPES`.
    """
    value = cfg.model.compute_dtype
    if value not in COMPUTE_DTYPES:
        raise ConfigError(
            f"config key model.compute_dtype: expected one of {COMPUTE_DTYPES}, got {value!r}"
        )
    return jnp.dtype(value)


def _cast_leaf(x, dtype: jnp.dtype):
    if isinstance(x, jax.Array | jax.ShapeDtypeStruct) and jnp.issubdtype(x.dtype, jnp.floating):
        return x.astype(dtype) if isinstance(x, jax.Array) else x
    return x


def cast_floating(tree: PyTree, dtype: jnp.dtype) -> PyTree:
    """``tree`` with every floating array cast to ``dtype`` (integers, keys, None untouched)."""
    if jnp.dtype(dtype) == jnp.float32:
        return tree  # the float32 path is bit-identical to the code before this option
    return jax.tree.map(lambda x: _cast_leaf(x, dtype), tree)


def merge(graphdef: nnx.GraphDef, params: PyTree, dtype: jnp.dtype) -> nnx.Module:
    """``nnx.merge(graphdef, params)`` with float32 parameters cast to ``dtype`` at use."""
    return nnx.merge(graphdef, cast_floating(params, dtype))


def to_compute(x: jax.Array, dtype: jnp.dtype) -> jax.Array:
    """A floating network input [any shape] in the compute dtype (labels etc. pass unchanged)."""
    return cast_floating(x, dtype)


def to_float32(tree: PyTree) -> PyTree:
    """Network outputs (arrays, tuples, lists of them) back in float32 for losses and audio."""
    return jax.tree.map(
        lambda x: (
            x.astype(jnp.float32)
            if isinstance(x, jax.Array) and jnp.issubdtype(x.dtype, jnp.floating)
            else x
        ),
        tree,
    )


__all__ = [
    "COMPUTE_DTYPES",
    "cast_floating",
    "compute_dtype",
    "merge",
    "to_compute",
    "to_float32",
]
