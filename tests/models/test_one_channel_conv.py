"""The native one-channel conv kernels: against numpy, their adjoint identities, lax (to second
order), determinism, and the fallbacks when they cannot be built."""

import logging
import shutil

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from wavegen.models import layers
from wavegen.models import one_channel_conv as occ
from wavegen.models.target import Target


@pytest.fixture(scope="module")
def native():
    """The kernels, built; a failed build fails the test wherever a C++ compiler exists."""
    if not occ.available():
        if shutil.which("c++") or shutil.which("g++"):
            pytest.fail(f"native kernels failed to build: {occ._state.get('error')}")
        pytest.skip("no C++ compiler here: the native one-channel kernels are not built")
    return occ


@pytest.fixture
def single_device(monkeypatch, native):
    """The tests run on 8 simulated devices, where the layers keep XLA's form; pretend one (the
    layer functions' default target is :meth:`Target.local`)."""
    monkeypatch.setattr(Target, "local", classmethod(lambda cls: cls("cpu", 1)))
    return native


def rand(seed: int, shape: tuple[int, ...], scale: float = 1.0) -> jax.Array:
    return jnp.asarray(np.random.default_rng(seed).standard_normal(shape) * scale, jnp.float32)


def conv_numpy(x, w, bias, n_out, stride, pad):
    """y[b, n, c] = bias[c] + Σ_k v[b, s·n + k] w[k, c], v = x zero-padded by pad on the left."""
    x, w = np.asarray(x, np.float64), np.asarray(w, np.float64)
    b, t = x.shape
    k = w.shape[0]
    v = np.zeros((b, pad + t + stride * n_out + k))
    v[:, pad : pad + t] = x
    cols = np.stack([v[:, stride * n : stride * n + k] for n in range(n_out)], axis=1)
    return cols @ w + np.asarray(bias, np.float64)


# (B, T, K, C, stride, pad, N): WaveGAN's D layer 0 (in small), strides whose rows fall on whole
# vectors (s % 4 == 0) or not, kernels not a multiple of 8 taps (25, 28, 33) or exactly 8, a
# signal shorter than the kernel, padding beyond the signal, more outputs than the signal covers.
CASES = [
    (2, 256, 25, 16, 4, 10, 64),
    (3, 130, 28, 32, 4, 12, 40),
    (2, 101, 33, 16, 8, 5, 14),
    (2, 64, 8, 16, 3, 0, 20),
    (1, 50, 7, 48, 1, 3, 50),
    (2, 9, 25, 16, 4, 30, 12),
    (2, 40, 5, 16, 2, 0, 30),
]


@pytest.mark.parametrize("b, t, k, c, stride, pad, n_out", CASES)
def test_conv_equals_numpy(native, b, t, k, c, stride, pad, n_out):
    x, w, bias = rand(0, (b, t)), rand(1, (k, c), 0.2), rand(2, (c,))
    got = jax.jit(lambda x, w, bias: occ.conv(x, w, bias, n_out, stride, pad))(x, w, bias)
    np.testing.assert_allclose(got, conv_numpy(x, w, bias, n_out, stride, pad), atol=2e-5)


@pytest.mark.parametrize("b, t, k, c, stride, pad, n_out", CASES)
def test_transpose_and_kernel_grad_are_the_adjoints_of_conv(native, b, t, k, c, stride, pad, n_out):
    """<conv(x, w), y> = <x, transpose(y, w)> = <w, kernel_grad(x, y)>, in float64 numpy for
    the left side, so both kernels are checked against an independent expectation."""
    x, w, y = rand(0, (b, t)), rand(1, (k, c), 0.2), rand(3, (b, n_out, c))
    lhs = float(np.sum(conv_numpy(x, w, np.zeros(c), n_out, stride, pad) * np.asarray(y)))
    x_adj = occ.transpose(y, w, t, stride, pad)
    w_adj = occ.kernel_grad(x, y, k, stride, pad)
    assert x_adj.shape == (b, t) and w_adj.shape == (k, c)
    scale = float(np.sum(np.abs(np.asarray(y)))) + 1.0
    assert abs(float(jnp.vdot(x, x_adj)) - lhs) < 1e-5 * scale
    assert abs(float(jnp.vdot(w, w_adj)) - lhs) < 1e-5 * scale
    # And element by element: the adjoint of conv in w, by numpy.
    v = np.zeros((b, pad + t + stride * n_out + k))
    v[:, pad : pad + t] = np.asarray(x)
    cols = np.stack([v[:, stride * n : stride * n + k] for n in range(n_out)], axis=1)
    expected = np.einsum("bnk,bnc->kc", cols, np.asarray(y, np.float64))
    np.testing.assert_allclose(w_adj, expected, rtol=1e-4, atol=1e-4)


def test_kernel_grad_is_bitwise_repeatable(native):
    """Its chunks are summed in a fixed order: the trainer's resume test needs identical bits."""
    x, y = rand(0, (8, 4105)), rand(1, (8, 1024, 64))
    f = jax.jit(lambda x, y: occ.kernel_grad(x, y, 25, 4, 10))
    first = np.asarray(f(x, y))
    for _ in range(3):
        np.testing.assert_array_equal(np.asarray(f(x, y)), first)


LAYERS = {
    "conv": (layers.conv1d, lambda k, c: (k, 1, c), lambda t, s: t * s),
    "transpose": (layers.conv_transpose1d, lambda k, c: (k, c, 1), lambda t, s: t),
    "upsample": (layers.upsample_conv1d, lambda k, c: (k, c, 1), lambda t, s: t),
}


@pytest.mark.parametrize("kind", sorted(LAYERS))
@pytest.mark.parametrize("k, stride, c, t", [(25, 4, 32, 40), (5, 2, 16, 33), (4, 4, 16, 9)])
def test_layers_equal_lax_to_second_order(single_device, kind, k, stride, c, t):
    """The layers' native path against lax: output, gradients, and the WGAN-GP pattern (the
    parameter gradient of a squared input gradient, i.e. reverse over reverse)."""
    layer, kernel_shape, in_len = LAYERS[kind]
    in_ch = 1 if kind == "conv" else c
    x = rand(0, (2, in_len(t, stride), in_ch))
    w, bias = rand(1, kernel_shape(k, c), 0.2), rand(2, (kernel_shape(k, c)[-1],))
    assert "Wavegen" in jax.jit(lambda x, w, b: layer(x, w, b, stride)).lower(x, w, bias).as_text()

    def critic(impl):
        def f(x, w, b):
            y = layer(x, w, b, stride, impl=impl)
            return jnp.sum(jnp.tanh(y) * jnp.cos(jnp.arange(y.size).reshape(y.shape)))

        return f

    def penalty(impl):
        return lambda w, b, x: jnp.sum(jax.grad(critic(impl))(x, w, b) ** 2)

    for fn, args in [
        (lambda impl: lambda x, w, b: layer(x, w, b, stride, impl=impl), (x, w, bias)),
        (lambda impl: jax.grad(critic(impl), argnums=(0, 1, 2)), (x, w, bias)),
        (lambda impl: jax.grad(penalty(impl), argnums=(0, 1)), (w, bias, x)),
    ]:
        got, want = fn("auto")(*args), fn("lax")(*args)
        for g, r in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
            np.testing.assert_allclose(g, r, rtol=2e-4, atol=2e-4 * float(jnp.max(jnp.abs(r))))


def test_layers_keep_xla_forms_where_the_kernels_do_not_apply(single_device):
    """impl='matmul' and 'lax' stay pure XLA; channel counts off the 16-multiple and bf16 too."""
    x, w = rand(0, (2, 64, 1)), rand(1, (25, 1, 32))

    def uses_kernel(fn, *args):
        return "Wavegen" in jax.jit(fn).lower(*args).as_text()

    assert uses_kernel(lambda x, w: layers.conv1d(x, w, None, 4), x, w)
    assert not uses_kernel(lambda x, w: layers.conv1d(x, w, None, 4, impl="matmul"), x, w)
    assert not uses_kernel(lambda x, w: layers.conv1d(x, w, None, 4, impl="lax"), x, w)
    assert not uses_kernel(lambda x, w: layers.conv1d(x, w, None, 4), x, w[..., :24])
    bf = jnp.bfloat16
    assert not uses_kernel(lambda x, w: layers.conv1d(x, w, None, 4), x.astype(bf), w.astype(bf))


def test_several_devices_keep_the_xla_form(native):
    """Without a sharding rule the custom calls would gather the batch onto every device."""
    assert jax.device_count() > 1  # tests/conftest.py: 8 simulated devices
    x, w = rand(0, (2, 64, 1)), rand(1, (25, 1, 32))
    assert "Wavegen" not in jax.jit(lambda x, w: layers.conv1d(x, w, None, 4)).lower(x, w).as_text()


def test_switched_off_by_the_environment(monkeypatch):
    monkeypatch.setenv(occ.ENV_SWITCH, "0")
    assert not occ.available()


def test_a_failed_build_falls_back_to_xla_with_a_warning(monkeypatch, tmp_path, caplog):
    monkeypatch.setattr(occ, "_state", {})
    monkeypatch.setattr(Target, "local", classmethod(lambda cls: cls("cpu", 1)))
    monkeypatch.setenv("WAVEGEN_CACHE", str(tmp_path))
    monkeypatch.setenv("CXX", str(tmp_path / "no-such-compiler"))
    with caplog.at_level(logging.WARNING, logger=occ.__name__):
        assert not occ.available()
    assert "unavailable" in caplog.text and "no-such-compiler" in caplog.text
    assert not list((tmp_path / "native").glob("*.so"))  # nothing half-written left behind
    x, w = rand(0, (2, 64, 1)), rand(1, (25, 1, 32))
    np.testing.assert_allclose(
        layers.conv1d(x, w, None, 4), layers.conv1d(x, w, None, 4, impl="lax"), atol=1e-5
    )


def test_bad_stride_or_padding_is_a_clear_error(native):
    x, w = rand(0, (2, 64)), rand(1, (25, 16))
    with pytest.raises(ValueError, match="stride 0"):
        occ.conv(x, w, jnp.zeros(16), 16, 0, 0)
    with pytest.raises(ValueError, match="pad -1"):
        occ.transpose(rand(2, (2, 16, 16)), w, 64, 4, -1)
