"""Two-tier SampleRNN on tiny shapes: shapes, init loss, causality, sampling, conditioning."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from wavegen.models.samplernn import SampleRNN, SampleRNNSettings, sequence_nll

F = 4


def make(num_classes: int = 0, randomize: bool = True) -> SampleRNN:
    """A tiny model; ``randomize`` replaces every parameter by N(0, 0.3²) noise (the zero output
    layer would otherwise make every logit 0 and hide the dependencies under test)."""
    model = SampleRNN(SampleRNNSettings(F, 8, 8, 4, num_classes), rngs=nnx.Rngs(0))
    if randomize:
        graph, state = nnx.split(model)
        leaves, tree = jax.tree.flatten(nnx.to_pure_dict(state))
        keys = jax.random.split(jax.random.key(1), len(leaves))
        noisy = [0.3 * jax.random.normal(k, x.shape) for k, x in zip(keys, leaves, strict=True)]
        model = nnx.merge(graph, jax.tree.unflatten(tree, noisy))
    return model


def context(batch: int, t: int, seed: int = 0) -> jax.Array:
    return jax.random.randint(jax.random.key(seed), (batch, F + t), 0, 256)


def test_shapes():
    model = make(num_classes=3)
    logits, h = model(context(2, 24), model.initial_state(2), jnp.array([0, 2]))
    assert logits.shape == (2, 24, 256) and h.shape == (2, 8)
    codes = model.generate(jax.random.key(0), 3, 10, jnp.array([0, 1, 2]))
    assert codes.shape == (3, 10) and codes.dtype == jnp.int32
    assert int(codes.min()) >= 0 and int(codes.max()) <= 255
    with pytest.raises(ValueError, match="multiple of F"):
        model(context(2, 6), model.initial_state(2), jnp.array([0, 2]))
    with pytest.raises(ValueError, match="needs labels"):
        model(context(2, 8), model.initial_state(2))


def test_loss_at_init_is_log_256():
    model = make(randomize=False)
    ctx = context(3, 32)
    logits, _ = model(ctx, model.initial_state(3))
    nll = float(jnp.mean(sequence_nll(logits, ctx[:, F:])))
    assert abs(nll - math.log(256)) < 1e-5


def test_teacher_forcing_is_causal():
    """Changing sample t (target index t) changes no logits at targets <= t, and changes the
    next one (sample tier window) and ones beyond the window (through the frame tier)."""
    model = make()
    ctx = np.asarray(context(1, 32))
    base, _ = model(jnp.asarray(ctx), model.initial_state(1))
    for t in (0, 5, 11, 20):
        changed = ctx.copy()
        changed[0, F + t] = (changed[0, F + t] + 100) % 256
        logits, _ = model(jnp.asarray(changed), model.initial_state(1))
        diff = np.abs(np.asarray(logits - base)).max(axis=-1)[0]  # [T]
        assert np.all(diff[: t + 1] == 0), t
        assert diff[t + 1] > 1e-4, t
        after_window = (t // F + 2) * F  # first target whose window no longer holds sample t
        assert diff[after_window:].max() > 1e-4, t


def test_state_carries_across_chunks():
    """Two teacher-forced chunks with the state carried equal one call on the whole crop."""
    model = make()
    ctx = context(2, 32)
    whole, h_whole = model(ctx, model.initial_state(2))
    first, h = model(ctx[:, : F + 16], model.initial_state(2))
    second, h2 = model(ctx[:, 16:], h)
    np.testing.assert_allclose(np.concatenate([first, second], 1), whole, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(h2, h_whole, rtol=1e-5, atol=1e-6)


def test_sampling_is_deterministic_and_agrees_with_teacher_forcing():
    """Same key → same codes; each sampled code is the categorical draw of the teacher-forced
    logits at that position with the same per-sample key (generate and __call__ agree)."""
    model = make()
    key, b, t = jax.random.key(3), 2, 12
    codes = model.generate(key, b, t)
    np.testing.assert_array_equal(codes, model.generate(key, b, t))
    assert not np.array_equal(codes, model.generate(jax.random.key(4), b, t))
    ctx = jnp.concatenate([jnp.full((b, F), 128, jnp.int32), codes], 1)
    logits, _ = model(ctx, model.initial_state(b))
    keys = jax.random.split(key, t)  # t is a multiple of F: split(key, J·F) in time order
    redraw = jnp.stack([jax.random.categorical(keys[i], logits[:, i]) for i in range(t)], 1)
    np.testing.assert_array_equal(redraw, codes)


def test_conditional_label_changes_output_for_the_same_seed():
    model = make(num_classes=3)
    key = jax.random.key(0)
    a = model.generate(key, 2, 16, jnp.array([0, 0]))
    np.testing.assert_array_equal(a, model.generate(key, 2, 16, jnp.array([0, 0])))
    b = model.generate(key, 2, 16, jnp.array([2, 2]))
    assert not np.array_equal(a, b)
    ctx = context(1, 8)
    la, _ = model(ctx, model.initial_state(1), jnp.array([0]))
    lb, _ = model(ctx, model.initial_state(1), jnp.array([1]))
    assert float(jnp.abs(la - lb).max()) > 1e-4


def test_unconditional_model_refuses_labels():
    model = make()
    with pytest.raises(ValueError, match="unconditional"):
        model.generate(jax.random.key(0), 1, 4, jnp.array([0]))
