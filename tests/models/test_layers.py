"""The matmul conv layers equal lax convolutions (forward and gradients); phase shuffle vs numpy."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from wavegen.models import layers, long_filter
from wavegen.models.layers import (
    Conv1d,
    ConvTranspose1d,
    UpsampleConv1d,
    conv1d,
    conv_transpose1d,
    phase_shuffle,
    same_padding,
    upsample_conv1d,
)


def rand(seed: int, shape: tuple[int, ...], scale: float = 1.0) -> jax.Array:
    return scale * jax.random.normal(jax.random.key(seed), shape, jnp.float32)


def check_matmul_equals_lax(fn, x, w, b, tol=2e-4):
    """``fn(x, w, b, impl)``: matmul and lax agree in output and in the gradients of a random
    projection of the output w.r.t. x, kernel and bias. One jit per impl keeps the test fast."""
    proj = rand(99, jax.eval_shape(lambda: fn(x, w, b, "lax")).shape)

    def out_and_grads(impl):
        def loss(x, w, b):
            return jnp.sum(fn(x, w, b, impl) * proj)

        return jax.jit(lambda x, w, b: (fn(x, w, b, impl), jax.grad(loss, (0, 1, 2))(x, w, b)))

    ref, g_ref = out_and_grads("lax")(x, w, b)
    got, g_got = out_and_grads("matmul")(x, w, b)
    assert got.shape == ref.shape
    np.testing.assert_allclose(got, ref, rtol=tol, atol=tol * float(jnp.abs(ref).max()))
    for name, a, r in zip("xwb", g_got, g_ref, strict=True):
        np.testing.assert_allclose(a, r, rtol=tol, atol=tol * float(jnp.abs(r).max()), err_msg=name)


def check_form_equals_lax(layer, form, stride, x, w, b):
    """One matmul formulation ``form(x, w)`` (no bias) of ``layer`` against its 'lax' impl."""

    def fn(x, w, b, impl):
        return layer(x, w, b, stride, impl) if impl == "lax" else form(x, w) + b

    check_matmul_equals_lax(fn, x, w, b)


@pytest.mark.parametrize(
    "length, cin, cout, k, s",
    [
        (16384, 1, 8, 25, 4),  # D's first layer
        (1024, 8, 16, 25, 4),
        (64, 16, 16, 25, 4),  # the shape family XLA:CPU ran at ~1 GFLOP/s
        (16, 16, 8, 25, 4),
        (63, 3, 5, 25, 4),  # odd length: SAME padding with a ragged end
        (50, 4, 6, 5, 2),
        (40, 3, 5, 7, 1),  # stride 1
        (33, 2, 3, 6, 1),  # stride 1, even kernel, odd length
        (2048, 1, 1, 512, 1),  # the post-processing filter (FFT on CPU, else Toeplitz)
        (1000, 1, 1, 64, 1),  # same path, length not a multiple of the Toeplitz block
    ],
)
@pytest.mark.parametrize("form", ["auto", "output_side"])
def test_conv1d_matmul_equals_lax(length, cin, cout, k, s, form):
    """'auto' is what conv1d picks; the output-side form is checked on every shape too."""
    x, w, b = rand(0, (2, length, cin)), rand(1, (k, cin, cout), 0.2), rand(2, (cout,))

    def conv(x, w, b, impl):
        if impl == "matmul" and form == "output_side":
            return layers._conv1d_output_side(x, w, s) + b
        return conv1d(x, w, b, s, impl)

    check_matmul_equals_lax(conv, x, w, b)


@pytest.mark.parametrize("length, k", [(2048, 512), (1000, 64), (333, 100), (16384, 512)])
@pytest.mark.parametrize("form", ["fft", "toeplitz"])
def test_long_one_channel_filter_forms_equal_lax(length, k, form):
    """Both forms of the post-processing filter, whichever the backend picks."""
    x, w, b = rand(0, (2, length, 1)), rand(1, (k, 1, 1), 0.2), rand(2, (1,))
    if form == "fft":
        fft = lambda x, w: long_filter.conv_fft(x, w, (k - 1) // 2)  # noqa: E731
        check_form_equals_lax(conv1d, fft, 1, x, w, b)
    else:
        toeplitz = lambda x, w: long_filter.conv_toeplitz(  # noqa: E731
            x, w, long_filter.TOEPLITZ_BLOCK, (k - 1) // 2
        )
        check_form_equals_lax(conv1d, toeplitz, 1, x, w, b)


def test_long_one_channel_filter_keeps_bfloat16():
    """The FFT runs in float32 (it has no bf16), and the output keeps the input's dtype."""
    x, w = rand(0, (2, 1000, 1)), rand(1, (64, 1, 1), 0.2)
    got = conv1d(x.astype(jnp.bfloat16), w.astype(jnp.bfloat16), None, 1)
    ref = conv1d(x.astype(jnp.bfloat16), w.astype(jnp.bfloat16), None, 1, impl="lax")
    assert got.dtype == jnp.bfloat16
    np.testing.assert_allclose(got.astype(jnp.float32), ref.astype(jnp.float32), atol=0.1)


def test_next_fast_fft_len_is_the_smallest_smooth_length():
    def smooth(m: int) -> bool:
        for p in (2, 3, 5):
            while m % p == 0:
                m //= p
        return m == 1

    for n in [1, 2, 7, 97, 1000, 16895, 17281]:
        expected = next(m for m in range(n, 2 * n + 2) if smooth(m))
        assert long_filter.next_fast_fft_len(n) == expected, n


def test_conv1d_picks_the_output_side_form_for_wide_activations():
    """D's second layer at batch 8, d=64 sums shifted partial products; its last layer (a large
    kernel on 64 samples) and its first (one input channel) keep the im2col."""
    assert layers._output_side_cheaper((8, 4096, 64), (25, 64, 128), 4)
    assert not layers._output_side_cheaper((8, 64, 512), (25, 512, 1024), 4)
    assert not layers._output_side_cheaper((8, 16384, 1), (25, 1, 64), 4)


@pytest.mark.parametrize(
    "length, cin, cout, k, s",
    [
        (16, 16, 8, 25, 4),  # G's first layer family
        (64, 8, 4, 25, 4),
        (1024, 4, 1, 25, 4),  # G's last layer family (input-side im2col: Cin <= s·Cout)
        (256, 16, 1, 25, 4),  # output-side form: Cin > s·Cout
        (16, 8, 16, 25, 4),
        (8, 4, 4, 5, 2),
        (7, 3, 2, 25, 2),
        (10, 3, 3, 4, 4),  # stride > kernel - 1 branch of the lax padding rule
        (9, 2, 3, 3, 1),
    ],
)
@pytest.mark.parametrize("form", ["polyphase", "phases"])
def test_conv_transpose1d_matmul_equals_lax(length, cin, cout, k, s, form):
    """The 'lax' impl IS ``lax.conv_transpose(x, w, (s,), 'SAME', NWC/WIO)``: alignment included.

    Both matmul forms are checked on every shape, whichever ``conv_transpose1d`` picks for it.
    """
    x, w, b = rand(3, (2, length, cin)), rand(4, (k, cin, cout), 0.2), rand(5, (cout,))
    forms = {
        "phases": lambda x, w: layers._conv_transpose_phases(x, w, s),
        "polyphase": lambda x, w: layers._polyphase(x, *layers._transpose_phase_kernel(w, s)),
    }
    check_form_equals_lax(conv_transpose1d, forms[form], s, x, w, b)
    assert jax.eval_shape(lambda: conv_transpose1d(x, w, b, s)).shape == (2, length * s, cout)


def test_conv_transpose1d_picks_the_per_phase_form_for_short_wide_layers():
    """G's first layer at batch 8, d=64 (T=16, 512 outputs) splits by phase; its 256-sample
    layer keeps the single polyphase matmul (see layers._phases_cheaper)."""
    assert layers._phases_cheaper((8, 16, 1024), (25, 1024, 512))
    assert not layers._phases_cheaper((8, 256, 256), (25, 256, 128))


@pytest.mark.parametrize(
    "length, cin, cout, k, s",
    [
        (16, 8, 4, 25, 4),
        (33, 3, 2, 25, 4),
        (9, 2, 3, 5, 2),
        (64, 16, 1, 25, 4),
        (12, 2, 2, 4, 2),
        (10, 3, 2, 3, 4),  # kernel shorter than the stride
    ],
)
@pytest.mark.parametrize("form", ["polyphase", "by_transpose"])
def test_upsample_conv1d_equals_repeat_then_conv(length, cin, cout, k, s, form):
    """The 'lax' impl is ``np.repeat``-style upsampling followed by a stride-1 lax conv; both
    matmul forms are checked on every shape, whichever ``upsample_conv1d`` picks for it."""
    x, w, b = rand(6, (2, length, cin)), rand(7, (k, cin, cout), 0.2), rand(8, (cout,))
    forms = {
        "by_transpose": lambda x, w: layers._upsample_conv_by_transpose(x, w, s),
        "polyphase": lambda x, w: layers._polyphase(x, *layers._nearest_phase_kernel(w, s)),
    }
    check_form_equals_lax(upsample_conv1d, forms[form], s, x, w, b)


def test_same_padding_matches_tf_rule():
    """TF 'SAME': out = ceil(T/s), pad_total = max((out-1)·s + K - T, 0), extra sample right."""
    assert same_padding(16384, 25, 4) == (10, 11)
    assert same_padding(64, 25, 4) == (10, 11)
    assert same_padding(63, 25, 4) == (11, 11)  # out 16: 15·4 + 25 - 63 = 22
    assert same_padding(16384, 512, 1) == (255, 256)
    assert same_padding(10, 1, 4) == (0, 0)
    for t in (1, 5, 63, 64, 65):
        out = jax.eval_shape(
            lambda t=t: conv1d(jnp.zeros((1, t, 2)), jnp.zeros((25, 2, 3)), None, 4)
        )
        assert out.shape == (1, math.ceil(t / 4), 3)


def numpy_phase_shuffle(x: np.ndarray, phase: int) -> np.ndarray:
    """The reference code's phase shuffle: pad one side by |phase| (reflect), crop to T."""
    t = x.shape[1]
    pad_l, pad_r = max(phase, 0), max(-phase, 0)
    padded = np.pad(x, ((0, 0), (pad_l, pad_r), (0, 0)), mode="reflect")
    return padded[:, pad_r : pad_r + t]


def test_phase_shuffle_is_a_reflected_shift_of_the_whole_batch():
    x = rand(9, (3, 20, 2))
    xn = np.asarray(x)
    refs = {p: numpy_phase_shuffle(xn, p) for p in range(-2, 3)}
    seen = set()
    for seed in range(40):
        out = np.asarray(jax.jit(phase_shuffle, static_argnums=1)(x, 2, jax.random.key(seed)))
        assert out.shape == xn.shape
        matches = [p for p, ref in refs.items() if np.array_equal(out, ref)]
        assert len(matches) == 1, "output is not one reflected shift of the batch"
        seen.add(matches[0])
    assert seen == {-2, -1, 0, 1, 2}  # every phase in [-n, n] is drawn
    np.testing.assert_array_equal(phase_shuffle(x, 2, None), x)  # no key: identity
    np.testing.assert_array_equal(phase_shuffle(x, 0, jax.random.key(0)), x)
    with pytest.raises(ValueError, match="radius"):
        phase_shuffle(x, 20, jax.random.key(0))


@pytest.mark.parametrize("cls, out_len", [(Conv1d, 4), (ConvTranspose1d, 64), (UpsampleConv1d, 64)])
def test_modules_params_init_and_call(cls, out_len):
    """Params 'kernel' [K, Cin, Cout] ~ glorot_uniform (TF default), 'bias' [Cout] = 0."""
    k, cin, cout = 25, 48, 64
    layer = cls(cin, cout, k, 4, rngs=nnx.Rngs(0))
    params = nnx.state(layer, nnx.Param)
    assert set(params.keys()) == {"kernel", "bias"}
    kernel, bias = np.asarray(layer.kernel[...]), np.asarray(layer.bias[...])
    assert kernel.shape == (k, cin, cout) and bias.shape == (cout,)
    np.testing.assert_array_equal(bias, 0.0)
    limit = math.sqrt(6.0 / (k * cin + k * cout))  # fans as TF: receptive field × channels
    assert np.abs(kernel).max() <= limit
    assert np.std(kernel) == pytest.approx(limit / math.sqrt(3.0), rel=0.02)
    x = rand(10, (2, 16, cin))
    assert layer(x).shape == (2, out_len, cout)


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="matching Cin"):
        conv1d(jnp.zeros((1, 8, 3)), jnp.zeros((5, 4, 2)), None, 2)
    with pytest.raises(ValueError, match="impl"):
        conv1d(jnp.zeros((1, 8, 3)), jnp.zeros((5, 3, 2)), None, 2, impl="fft")
    with pytest.raises(ValueError, match="impl"):
        Conv1d(3, 2, 5, 2, "fft", rngs=nnx.Rngs(0))
