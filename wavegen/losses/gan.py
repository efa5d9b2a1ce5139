"""Adversarial objectives: discriminator/generator losses, WGAN-GP penalty, feature matching.

All functions are pure and jit-able. The loss ``name`` is a Python string resolved at trace time,
so inside ``jax.jit`` it must be static (a closure constant or ``static_argnames``).

Logits are promoted to at least float32 before reducing, so a bfloat16 critic still yields an
accurate scalar loss.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp

LOSSES = ("wgan-gp", "hinge", "dcgan", "lsgan")


def _check_name(name: str) -> None:
    if name not in LOSSES:
        raise ValueError(f"loss.name must be one of {', '.join(LOSSES)}; got {name!r}")


def _as_float(x: jax.Array) -> jax.Array:
    x = jnp.asarray(x)
    return x.astype(jnp.promote_types(x.dtype, jnp.float32))


def discriminator_loss(name: str, d_real: jax.Array, d_fake: jax.Array) -> jax.Array:
    """Discriminator (critic) loss for one batch; lower is better for the discriminator.

    Args:
        name: one of :data:`LOSSES`.
            ``'wgan-gp'``: ``mean(d_fake) - mean(d_real)`` (the gradient penalty is added by the
            trainer, weighted by ``loss.gp_weight``).
            ``'hinge'``: ``mean(relu(1 - d_real)) + mean(relu(1 + d_fake))``.
            ``'dcgan'``: ``mean(softplus(-d_real)) + mean(softplus(d_fake))``, i.e. sigmoid
            cross-entropy with targets 1 for real and 0 for fake.
            ``'lsgan'``: ``0.5 mean((d_real - 1)^2) + 0.5 mean(d_fake^2)``.
        d_real: [B] logits on real examples (any shape; every element is averaged).
        d_fake: [B] logits on generated examples.

    Returns:
        [] scalar loss.

    Raises:
        ValueError: ``name`` is not in :data:`LOSSES`.
    """
    _check_name(name)
    d_real, d_fake = _as_float(d_real), _as_float(d_fake)
    if name == "wgan-gp":
        return jnp.mean(d_fake) - jnp.mean(d_real)
    if name == "hinge":
        return jnp.mean(jax.nn.relu(1.0 - d_real)) + jnp.mean(jax.nn.relu(1.0 + d_fake))
    if name == "dcgan":
        # softplus(-x) = -log(sigmoid(x)) without the overflow of the naive form.
        return jnp.mean(jax.nn.softplus(-d_real)) + jnp.mean(jax.nn.softplus(d_fake))
    return 0.5 * jnp.mean(jnp.square(d_real - 1.0)) + 0.5 * jnp.mean(jnp.square(d_fake))


def generator_loss(name: str, d_fake: jax.Array) -> jax.Array:
    """Generator loss for one batch; lower is better for the generator.

    Args:
        name: one of :data:`LOSSES`. ``'wgan-gp'`` and ``'hinge'``: ``-mean(d_fake)``;
            ``'dcgan'`` (non-saturating): ``mean(softplus(-d_fake))``;
            ``'lsgan'``: ``0.5 mean((d_fake - 1)^2)``.
        d_fake: [B] discriminator logits on generated examples.

    Returns:
        [] scalar loss.

    Raises:
        ValueError: ``name`` is not in :data:`LOSSES`.
    """
    _check_name(name)
    d_fake = _as_float(d_fake)
    if name in ("wgan-gp", "hinge"):
        return -jnp.mean(d_fake)
    if name == "dcgan":
        return jnp.mean(jax.nn.softplus(-d_fake))
    return 0.5 * jnp.mean(jnp.square(d_fake - 1.0))


def _safe_norm(sq: jax.Array) -> jax.Array:
    """sqrt of a sum of squares whose gradient is 0 (not NaN) where the sum is exactly 0."""
    positive = sq > 0
    # Double `where`: the untaken branch must also have a finite derivative.
    return jnp.where(positive, jnp.sqrt(jnp.where(positive, sq, 1.0)), 0.0)


def _input_gradients(critic: Callable[[jax.Array], jax.Array], x: jax.Array, who: str) -> jax.Array:
    """∇_x of Σ_i critic(x)_i: per-example input gradients [B, ...] in x's dtype (one backward)."""
    batch = x.shape[0]

    def summed_score(x_: jax.Array) -> jax.Array:
        score = critic(x_)
        if score.shape not in ((batch,), (batch, 1)):
            raise ValueError(
                f"{who}: critic must map [B, ...] to [B] scores; "
                f"got output shape {score.shape} for B={batch}"
            )
        return jnp.sum(score.astype(x.dtype))

    return jax.grad(summed_score)(x)


def gradient_penalty(
    critic: Callable[[jax.Array], jax.Array],
    real: jax.Array,
    fake: jax.Array,
    key: jax.Array,
) -> jax.Array:
    """WGAN-GP two-sided gradient penalty (Gulrajani et al. 2017, Algorithm 1).

    ``x̂ = real + alpha (fake - real)`` with ``alpha ~ U(0, 1)`` drawn once per example and
    broadcast over the other axes; the penalty is ``mean_i (||∇_x̂ critic(x̂)_i||_2 - 1)^2`` with
    the norm over all non-batch axes.

    The per-example gradients come from one backward pass of ``sum_i critic(x̂)_i``. That is exact
    only if ``critic`` treats examples independently (no batch norm or minibatch statistics
    across the batch), which WGAN-GP requires anyway.

    Args:
        critic: maps [B, ...] inputs to [B] scores (a [B, 1] output is also accepted).
        real: [B, ...] real examples.
        fake: [B, ...] generated examples, same shape as ``real``.
        key: PRNG key for ``alpha``.

    Returns:
        [] scalar penalty (not yet multiplied by ``loss.gp_weight``).

    Raises:
        ValueError: ``real`` and ``fake`` differ in shape, or the critic output is not [B].
    """
    if real.shape != fake.shape:
        raise ValueError(
            f"gradient_penalty: real and fake must have the same shape; "
            f"got real {real.shape} and fake {fake.shape}"
        )
    if real.ndim < 1 or real.shape[0] == 0:
        raise ValueError(f"gradient_penalty: expected a non-empty batch [B, ...]; got {real.shape}")
    batch = real.shape[0]
    alpha_shape = (batch,) + (1,) * (real.ndim - 1)
    dtype = jnp.promote_types(real.dtype, jnp.float32)
    alpha = jax.random.uniform(key, alpha_shape, dtype=dtype)
    interp = real.astype(dtype) + alpha * (fake.astype(dtype) - real.astype(dtype))

    grads = _input_gradients(critic, interp, "gradient_penalty")
    sq_norm = jnp.sum(jnp.square(grads).reshape(batch, -1), axis=1)
    return jnp.mean(jnp.square(_safe_norm(sq_norm) - 1.0))


def gradient_norm_penalty(critic: Callable[[jax.Array], jax.Array], x: jax.Array) -> jax.Array:
    """R1 / R2 penalty (Mescheder et al. 2018, eq. 9): ``mean_i ||∇_x critic(x)_i||²``.

    R1 when ``x`` is the real batch, R2 when it is the fakes; the trainer multiplies it by
    ``γ / 2`` (``loss.r1_weight`` / ``loss.r2_weight``). As for :func:`gradient_penalty`, the
    per-example gradients come from one backward pass of the summed scores, exact when the critic
    treats examples independently (a minibatch-stddev layer couples them slightly, as in StyleGAN,
    which uses both).

    Args:
        critic: maps [B, ...] inputs to [B] scores (or [B, 1]).
        x: [B, ...] inputs at which the gradient is taken.

    Returns:
        [] scalar: the batch mean of the squared L2 norm of each example's input gradient.
    """
    batch = x.shape[0]
    dtype = jnp.promote_types(x.dtype, jnp.float32)

    grads = _input_gradients(critic, x.astype(dtype), "gradient_norm_penalty")
    return jnp.mean(jnp.sum(jnp.square(grads).reshape(batch, -1), axis=1))


def feature_matching_loss(
    real_feats: Sequence[jax.Array], fake_feats: Sequence[jax.Array]
) -> jax.Array:
    """Feature-matching L1 (MelGAN / HiFi-GAN style): mean |real - fake| per map, averaged.

    Real features are not stop-gradient'ed here: in the generator step the caller computes them
    without discriminator gradients, and doing it here would hide misuse.

    Args:
        real_feats: L feature maps from the discriminator on real input, each [B, ...].
        fake_feats: the same L maps on generated input, matching shapes.

    Returns:
        [] scalar: ``(1/L) sum_l mean(|real_l - fake_l|)``.

    Raises:
        ValueError: the lists are empty, differ in length, or a pair differs in shape.
    """
    if len(real_feats) == 0:
        raise ValueError("feature_matching_loss: real_feats is empty; expected >= 1 feature map")
    if len(real_feats) != len(fake_feats):
        raise ValueError(
            f"feature_matching_loss: real_feats has {len(real_feats)} maps but fake_feats has "
            f"{len(fake_feats)}; expected the same number"
        )
    terms = []
    for i, (r, f) in enumerate(zip(real_feats, fake_feats, strict=True)):
        if r.shape != f.shape:
            raise ValueError(
                f"feature_matching_loss: feature map {i} has shape {r.shape} (real) vs "
                f"{f.shape} (fake); expected equal shapes"
            )
        terms.append(jnp.mean(jnp.abs(_as_float(r) - _as_float(f))))
    return jnp.mean(jnp.stack(terms))


def mean_feature_matching_loss(
    real_feats: Sequence[jax.Array], fake_feats: Sequence[jax.Array]
) -> jax.Array:
    """Mean-feature matching (Salimans et al. 2016, §3.1) for an unconditional GAN.

    HiFi-GAN's L1 between D's features on a real clip and on *its* reconstruction needs paired
    examples; an unconditional G has none, so each feature map's batch mean is matched instead:
    ``mean |mean_b f(real) - mean_b f(fake)|`` over the map's remaining elements, averaged over
    maps (an L1 per map normalised by its size, so wide maps do not dominate). As in
    :func:`feature_matching_loss`, the caller stops gradients through the real features.

    Args:
        real_feats: L feature maps on real input, each [B_r, ...].
        fake_feats: the same L maps on generated input, each [B_f, ...] (the batch sizes may
            differ; the other axes must match).

    Returns:
        [] scalar: ``(1/L) Σ_l mean(|mean_b real_l - mean_b fake_l|)``.

    Raises:
        ValueError: the lists are empty, differ in length, or a pair differs beyond the batch.
    """
    if len(real_feats) == 0 or len(real_feats) != len(fake_feats):
        raise ValueError(
            f"mean_feature_matching_loss: got {len(real_feats)} real and {len(fake_feats)} fake "
            "feature maps; expected the same number, >= 1"
        )
    terms = []
    for i, (r, f) in enumerate(zip(real_feats, fake_feats, strict=True)):
        if r.shape[1:] != f.shape[1:]:
            raise ValueError(
                f"mean_feature_matching_loss: feature map {i} is {r.shape} (real) vs {f.shape} "
                "(fake); expected equal shapes after the batch axis"
            )
        diff = jnp.mean(_as_float(r), axis=0) - jnp.mean(_as_float(f), axis=0)
        terms.append(jnp.mean(jnp.abs(diff)))
    return jnp.mean(jnp.stack(terms))
