"""The matmul conv layers equal lax convolutions, forward and gradients; phase shuffle vs numpy."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from wavegen.models.layers import conv1d, conv_transpose1d, phase_shuffle, upsample_conv1d


def rand(key, shape, scale=1.0):
    return scale * jax.random.normal(jax.random.key(key), shape, jnp.float32)


def check_equal_with_grads(fn, x, w, b, tol=2e-4):
    """fn(x, w, b, impl) for impl in matmul/lax: outputs and grads of a random projection agree."""
    ref = fn(x, w, b, "lax")
    got = fn(x, w, b, "matmul")
    assert got.shape == ref.shape
    np.testing.assert_allclose(got, ref, rtol=tol, atol=tol * float(jnp.abs(ref).max()))
    proj = rand(99, ref.shape)

    def loss(impl):
        return lambda x, w, b: jnp.sum(fn(x, w, b, impl) * proj)

    g_ref = jax.grad(loss("lax"), argnums=(0, 1, 2))(x, w, b)
    g_got = jax.grad(loss("matmul"), argnums=(0, 1, 2))(x, w, b)
    for name, a, r in zip("xwb", g_got, g_ref, strict=True):
        np.testing.assert_allclose(a, r, rtol=tol, atol=tol * float(jnp.abs(r).max()), err_msg=name)


@pytest.mark.parametrize(
    "length, cin, cout, k, s",
    [
        (16384, 1, 4, 25, 4),  # D's first layer
        (1024, 8, 16, 25, 4),
        (64, 16, 16, 25, 4),  # the shape family XLA:CPU ran at ~1 GFLOP/s
        (16, 16, 8, 25, 4),
        (63, 3, 5, 25, 4),  # odd length: SAME padding with a ragged end
        (50, 4, 6, 5, 2),
        (40, 3, 5, 7, 1),
        (2048, 1, 1, 512, 1),  # the post-processing filter (Toeplitz path)
    ],
)
def test_conv1d_matmul_equals_lax(length, cin, cout, k, s):
    x, w, b = rand(0, (2, length, cin)), rand(1, (k, cin, cout), 0.2), rand(2, (cout,))
    check_equal_with_grads(lambda x, w, b, impl: conv1d(x, w, b, s, impl), x, w, b)


@pytest.mark.parametrize(
    "length, cin, cout, k, s",
    [
        (16, 16, 8, 25, 4),
        (64, 8, 4, 25, 4),
        (1024, 4, 1, 25, 4),
        (16, 8, 16, 25, 4),
        (8, 4, 4, 5, 2),
        (7, 3, 2, 25, 2),
        (10, 3, 3, 4, 4),
    ],
)
def test_conv_transpose1d_matmul_equals_lax(length, cin, cout, k, s):
    x, w, b = rand(3, (2, length, cin)), rand(4, (k, cin, cout), 0.2), rand(5, (cout,))
    check_equal_with_grads(lambda x, w, b, impl: conv_transpose1d(x, w, b, s, impl), x, w, b)
    out = conv_transpose1d(x, w, b, s, "matmul")
    ref = jax.lax.conv_transpose(x, w, (s,), "SAME", dimension_numbers=("NWC", "WIO", "NWC")) + b
    np.testing.assert_allclose(out, ref, rtol=2e-4, atol=2e-4 * float(jnp.abs(ref).max()))


@pytest.mark.parametrize(
    "length, cin, cout, k, s", [(16, 8, 4, 25, 4), (33, 3, 2, 25, 4), (9, 2, 3, 5, 2)]
)
def test_upsample_conv1d_equals_repeat_then_conv(length, cin, cout, k, s):
    x, w, b = rand(6, (2, length, cin)), rand(7, (k, cin, cout), 0.2), rand(8, (cout,))
    check_equal_with_grads(lambda x, w, b, impl: upsample_conv1d(x, w, b, s, impl), x, w, b)


def test_phase_shuffle_matches_numpy_reflection():
    x = rand(9, (3, 20, 2))
    for seed in range(12):
        key = jax.random.key(seed)
        phase = int(jax.random.randint(key, (), -2, 3))
        out = phase_shuffle(x, 2, key)
        xn = np.asarray(x)
        if phase > 0:
            ref = np.pad(xn, ((0, 0), (phase, 0), (0, 0)), mode="reflect")[:, :20]
        elif phase < 0:
            ref = np.pad(xn, ((0, 0), (0, -phase), (0, 0)), mode="reflect")[:, -phase:]
        else:
            ref = xn
        np.testing.assert_array_equal(np.asarray(out), ref)
    np.testing.assert_array_equal(phase_shuffle(x, 2, None), x)
    assert len({int(jax.random.randint(jax.random.key(s), (), -2, 3)) for s in range(40)}) == 5
