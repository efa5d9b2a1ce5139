"""The 2-D matmul conv layers equal lax / nnx.Conv / nnx.ConvTranspose (forward and gradients)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from wavegen.models.layers2d import (
    Conv2d,
    ConvTranspose2d,
    conv2d,
    conv_transpose2d,
    upsample_conv2d,
)


def rand(seed: int, shape: tuple[int, ...]) -> jax.Array:
    return jax.random.normal(jax.random.key(seed), shape, jnp.float32)


def check_matmul_equals_lax(fn, x, w, b, tol=1e-4):
    """Output and gradients (of a random projection) w.r.t. x, kernel, bias agree."""
    proj = rand(99, jax.eval_shape(lambda: fn(x, w, b, "lax")).shape)

    def out_and_grads(impl):
        def loss(x, w, b):
            return jnp.sum(fn(x, w, b, impl) * proj)

        return jax.jit(lambda x, w, b: (fn(x, w, b, impl), jax.grad(loss, (0, 1, 2))(x, w, b)))

    ref, g_ref = out_and_grads("lax")(x, w, b)
    got, g_got = out_and_grads("matmul")(x, w, b)
    assert got.shape == ref.shape
    scale = float(jnp.max(jnp.abs(ref)))
    np.testing.assert_allclose(got, ref, rtol=tol, atol=tol * scale)
    for g, gr in zip(g_got, g_ref, strict=True):
        np.testing.assert_allclose(g, gr, rtol=tol, atol=tol * float(jnp.max(jnp.abs(gr))))


# (K, stride, Cin, Cout, H, W): SpecGAN's 5×5 s2 and s1, odd sizes, K < s, K = 1, wide-Cin (the
# output-side polyphase branch) and Cout = 1.
CASES = [
    (5, 2, 3, 4, 8, 8),
    (5, 2, 8, 1, 8, 8),
    (5, 1, 3, 5, 7, 9),
    (5, 2, 2, 3, 7, 5),
    (3, 2, 4, 2, 9, 6),
    (4, 2, 3, 3, 6, 7),
    (2, 3, 2, 3, 5, 4),
    (1, 2, 3, 2, 5, 5),
    (5, 3, 2, 2, 10, 11),
]


@pytest.mark.parametrize("fn", [conv2d, conv_transpose2d, upsample_conv2d])
@pytest.mark.parametrize("k,s,cin,cout,h,w", CASES)
def test_matmul_equals_lax(fn, k, s, cin, cout, h, w):
    x, kern, b = rand(0, (2, h, w, cin)), rand(1, (k, k, cin, cout)), rand(2, (cout,))
    check_matmul_equals_lax(lambda x, kk, bb, impl: fn(x, kk, bb, s, impl), x, kern, b)


@pytest.mark.parametrize("impl", ["matmul", "lax"])
@pytest.mark.parametrize("s", [1, 2])
def test_modules_equal_nnx(impl, s):
    """Same param names / shapes as nnx.Conv / nnx.ConvTranspose; same outputs given the params."""
    kw = dict(padding="SAME", kernel_init=nnx.initializers.glorot_uniform())
    x = rand(3, (2, 7, 8, 4))
    for ours, ref in [
        (
            Conv2d(4, 6, 5, s, impl, rngs=nnx.Rngs(0)),
            nnx.Conv(4, 6, (5, 5), s, **kw, rngs=nnx.Rngs(0)),
        ),
        (
            ConvTranspose2d(4, 6, 5, s, impl, rngs=nnx.Rngs(0)),
            nnx.ConvTranspose(4, 6, (5, 5), (s, s), **kw, rngs=nnx.Rngs(0)),
        ),
    ]:
        p_ours, p_ref = nnx.state(ours, nnx.Param), nnx.state(ref, nnx.Param)
        shapes = jax.tree.map(jnp.shape, p_ours)
        assert shapes == jax.tree.map(jnp.shape, p_ref)
        np.testing.assert_array_equal(ours.kernel[...], ref.kernel[...])  # same initialiser
        ref.bias[...] = rand(4, (6,))
        nnx.update(ours, nnx.state(ref, nnx.Param))
        np.testing.assert_allclose(ours(x), ref(x), rtol=1e-4, atol=1e-4)


def test_rejects_bad_shapes():
    with pytest.raises(ValueError):
        conv2d(jnp.zeros((1, 4, 4, 2)), jnp.zeros((3, 3, 3, 1)), None, 1)
    with pytest.raises(ValueError):
        Conv2d(2, 2, 3, 1, "bogus", rngs=nnx.Rngs(0))
