"""Spectral normalisation of a critic's weights (Miyato et al. 2018, SN-GAN), as pure functions.

Every weight matrix W of the critic is used as ``W / σ(W)``, σ the largest singular value,
estimated by power iteration from a persistent unit vector u per weight. Conv kernels
[K, C_in, C_out] (and [kh, kw, C_in, C_out]) are the matrix [K·C_in, C_out] that multiplies an
im2col patch, as in the paper; the dense head's [F, 1] kernel is a one-column matrix (its σ is
its L2 norm, exact after one iteration); a projection head's class table [classes, F] is
normalised as a matrix too (Miyato & Koyama 2018 normalise it). Biases are not normalised.
A grouped conv's kernel [K, C_in/g, C_out] (MelGAN's critic) is normalised as the matrix
[K·C_in/g, C_out], whose σ bounds that of each group's block, so the layer stays ≤ 1-Lipschitz.

The u vectors are not parameters: they live in their own state entry (``state["d_sn"]``), are
never seen by the optimiser, are checkpointed with everything else, and enter the critic as
arguments, so the train step stays a pure function:

- :func:`power_iteration` advances every u by one step (``v = normalise(M u)``,
  ``u ← normalise(Mᵀ v)``) under ``stop_gradient``; the GAN task runs it once per critic update,
  before that update's passes (real, fake, penalties all see the same σ: the paper's Algorithm 1;
  PyTorch's ``spectral_norm`` would iterate once more on every forward).
- :func:`normalize` returns the weights divided by ``σ(W, u) = ||M u||₂`` with u held constant
  and W differentiable (the gradient is the paper's, ``∂σ/∂M = v uᵀ``). ``||M u||`` for a unit
  u is a lower bound of σ_max, equal when u is the top right-singular vector: it is the paper's
  ``ũᵀ W ṽ`` one half-iteration later. The generator's update calls it with the current u and
  does not advance them.

The u of a matrix [m, n] has n entries (the C_out side), drawn N(0, 1) and normalised.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

PyTree = Any
EPS = 1e-12  # as torch's spectral_norm: guards the division for an all-zero matrix


def _key_name(entry: Any) -> str:
    for attr in ("key", "idx", "name"):
        if hasattr(entry, attr):
            return str(getattr(entry, attr))
    return str(entry)


def _names(path: tuple) -> tuple[str, ...]:
    return tuple(_key_name(e) for e in path)


def is_target(names: tuple[str, ...], leaf: jax.Array) -> bool:
    """Whether the parameter at ``names`` is a weight matrix that spectral norm divides."""
    return len(names) > 0 and names[-1] in ("kernel", "embedding") and jnp.ndim(leaf) >= 2


def as_matrix(w: jax.Array) -> jax.Array:
    """A kernel [..., C_out] as the matrix [prod(...), C_out] it applies to a flattened patch."""
    return w.reshape(-1, w.shape[-1])


def _normalise(x: jax.Array) -> jax.Array:
    return x / jnp.maximum(jnp.linalg.norm(x), EPS)


def _targets(params: PyTree) -> list[tuple[tuple[str, ...], jax.Array]]:
    flat = jax.tree_util.tree_flatten_with_path(params)[0]
    return [(_names(p), leaf) for p, leaf in flat if is_target(_names(p), leaf)]


def _lookup(u_tree: dict, names: tuple[str, ...]) -> jax.Array:
    node = u_tree
    for n in names:
        node = node[n]
    return node


def init_vectors(params: PyTree, key: jax.Array) -> dict:
    """One random unit vector u [C_out] per target weight, as a nested dict of string keys.

    Args:
      params: the critic's parameters (a pure dict, e.g. ``nnx.to_pure_dict`` of its state).
      key: PRNG key; target i gets ``fold_in(key, i)`` in flattening order.

    Returns:
      {name: ... {name: u [C_out] float32}} mirroring the targets' paths (string keys, so a
      checkpoint holds them as any other dict).
    """
    out: dict = {}
    for i, (names, w) in enumerate(_targets(params)):
        u = _normalise(jax.random.normal(jax.random.fold_in(key, i), (w.shape[-1],), jnp.float32))
        node = out
        for n in names[:-1]:
            node = node.setdefault(n, {})
        node[names[-1]] = u
    return out


def power_iteration(params: PyTree, u_tree: dict) -> dict:
    """One power-iteration step for every target: ``u ← normalise(Mᵀ normalise(M u))``.

    Args:
      params: the critic's parameters (gradients are not taken through this).
      u_tree: the current vectors, as :func:`init_vectors` returns.

    Returns:
      The advanced vectors, same structure, float32, under ``stop_gradient``.
    """
    out: dict = {}
    for names, w in _targets(params):
        m = jax.lax.stop_gradient(as_matrix(w).astype(jnp.float32))
        u = _lookup(u_tree, names)
        u = _normalise(m.T @ _normalise(m @ u))
        node = out
        for n in names[:-1]:
            node = node.setdefault(n, {})
        node[names[-1]] = jax.lax.stop_gradient(u)
    return out


def sigma(w: jax.Array, u: jax.Array) -> jax.Array:
    """σ(W, u) = ||M u||₂ (M = :func:`as_matrix` of ``w``), differentiable in ``w``; [] float32."""
    return jnp.linalg.norm(as_matrix(w).astype(jnp.float32) @ jax.lax.stop_gradient(u))


def normalize(params: PyTree, u_tree: dict) -> tuple[PyTree, jax.Array]:
    """The parameters with every target weight divided by its σ estimate.

    Args:
      params: the critic's parameters (differentiable).
      u_tree: the vectors to estimate σ with (not advanced here).

    Returns:
      (parameters of the same structure with W / σ(W, u) in place of each target W,
      [num_targets] float32 σ estimates in flattening order).
    """
    sigmas = []

    def div(path: tuple, leaf: jax.Array) -> jax.Array:
        names = _names(path)
        if not is_target(names, leaf):
            return leaf
        s = sigma(leaf, _lookup(u_tree, names))
        sigmas.append(s)
        return (leaf / jnp.maximum(s, EPS)).astype(leaf.dtype)

    out = jax.tree_util.tree_map_with_path(div, params)
    return out, jnp.stack(sigmas) if sigmas else jnp.zeros((0,), jnp.float32)
