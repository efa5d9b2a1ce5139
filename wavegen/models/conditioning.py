"""Class conditioning shared by the GANs: label embedding for G, projection output head for D.

- G: a learned label embedding concatenated to z (as the conditional fork of the WaveGAN code,
  ``z = concat([z, embed(y)])``), embedding entries ~ N(0, 1) like its ``tf.random_normal`` table.
- D: a projection discriminator (Miyato & Koyama 2018): ``logit = w·h + b + <V[y], h>`` on the
  flattened features h the unconditional model feeds its output Dense. That amounts to one linear
  output layer per class, ``w + V[y]``, sharing everything below it.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

# Width of G's label embedding when the config does not say (``model.label_embed_dim``).
DEFAULT_LABEL_EMBED_DIM = 32


def _check_labels(labels: jax.Array | None, batch: int, num_classes: int, who: str) -> None:
    if num_classes > 0 and labels is None:
        raise ValueError(f"{who}: model.num_classes={num_classes} > 0 needs labels [B] int")
    if num_classes == 0 and labels is not None:
        raise ValueError(f"{who}: got labels but the model is unconditional (model.num_classes=0)")
    if labels is not None and labels.shape != (batch,):
        raise ValueError(f"{who}: labels must be [B] = [{batch}] int, got shape {labels.shape}")


class LatentWithLabel(nnx.Module):
    """``z`` [B, latent] (+ labels [B] int) → G's dense input [B, latent (+ embed_dim)]."""

    def __init__(self, latent_dim: int, num_classes: int, embed_dim: int, *, rngs: nnx.Rngs):
        self.latent_dim = latent_dim
        self.num_classes = num_classes
        self.embed = (
            nnx.Embed(
                num_classes,
                embed_dim,
                embedding_init=nnx.initializers.normal(stddev=1.0),
                rngs=rngs,
            )
            if num_classes > 0
            else None
        )
        self.out_features = latent_dim + (embed_dim if num_classes > 0 else 0)

    def __call__(self, z: jax.Array, labels: jax.Array | None) -> jax.Array:
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"generator: z must be [B, {self.latent_dim}], got shape {z.shape}")
        _check_labels(labels, z.shape[0], self.num_classes, "generator")
        if self.embed is None:
            return z
        return jnp.concatenate([z, self.embed(labels).astype(z.dtype)], axis=-1)


class ProjectionHead(nnx.Module):
    """D's output: features h [B, F] (+ labels [B]) → logits [B].

    Dense init as TF's default (glorot_uniform, zero bias); the projection table V [classes, F]
    uses nnx.Embed's default variance scaling (std 1/sqrt(F)), the scale of a fan-in-F linear layer.
    """

    def __init__(self, in_features: int, num_classes: int, *, rngs: nnx.Rngs):
        self.num_classes = num_classes
        self.linear = nnx.Linear(
            in_features, 1, kernel_init=nnx.initializers.glorot_uniform(), rngs=rngs
        )
        self.projection = nnx.Embed(num_classes, in_features, rngs=rngs) if num_classes else None

    def __call__(self, h: jax.Array, labels: jax.Array | None) -> jax.Array:
        _check_labels(labels, h.shape[0], self.num_classes, "discriminator")
        logits = self.linear(h)[:, 0]
        if self.projection is not None:
            logits = logits + jnp.sum(self.projection(labels) * h, axis=-1)
        return logits
