"""WaveGAN / SpecGAN: paper parameter counts, shapes, options, conditioning, FLOPs, configs."""

import math

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest
from flax import nnx

from wavegen.defaults import base_config
from wavegen.models import build_gan, count_params, describe, validate_model_config


def config(**model) -> ml_collections.ConfigDict:
    cfg = base_config()
    cfg.data.length = model.pop("length", 16384)
    cfg.model.update(model)
    return cfg


def jitted(module: nnx.Module):
    """The module as a jitted pure function of its split state (how the trainer calls it)."""
    graphdef, state = nnx.split(module)
    fn = jax.jit(lambda state, *args, **kw: nnx.merge(graphdef, state)(*args, **kw))
    return lambda *args, **kw: fn(state, *args, **kw)


def latent(batch: int, seed: int = 0, dim: int = 100) -> jax.Array:
    return jax.random.uniform(jax.random.key(seed), (batch, dim), minval=-1.0, maxval=1.0)


def abstract_gan(cfg):
    return nnx.eval_shape(lambda: build_gan(cfg, rngs=nnx.Rngs(0)))


def test_paper_parameter_counts_at_d64():
    """Donahue et al. 2019 WaveGAN, d=64, 16384 samples: G 19,065,345 and D 17,427,969."""
    g, d = abstract_gan(config())
    assert count_params(g) == 19_065_345
    assert count_params(d) == 17_427_969
    desc = describe(config())
    assert desc["generator"]["params"] == 19_065_345
    assert desc["discriminator"]["params"] == 17_427_969
    assert desc["output_length"] == 16384 and desc["sample_rate"] == 16000


@pytest.mark.parametrize("length, g_params, d_params", [(32768, 73_149_953, 69_875_201)])
def test_long_slice_parameter_counts_follow_the_reference_code(length, g_params, d_params):
    """chrisdonahue/wavegan at slice_len 32768, d=64, by hand from its layer list:
    G: Dense 100→16·2048 (3,309,568) + convT 2048→1024→512→256→128 (k25 s4) + 128→64 (s4)
    + 64→1 (s2): 52,429,824 + 13,107,712 + 3,277,056 + 819,328 + 204,864 + 1,601.
    D: the 16384 convs (17,411,584) + conv 1024→2048 (52,430,848) + Dense 16·2048→1 (32,769)."""
    g, d = abstract_gan(config(length=length))
    assert count_params(g) == g_params
    assert count_params(d) == d_params
    # 65536 has the same layers, only the last strides differ (4 instead of 2).
    g65, d65 = abstract_gan(config(length=65536))
    assert (count_params(g65), count_params(d65)) == (g_params, d_params)


def test_specgan_parameter_counts_at_d64():
    """By hand: 5×5 = 25 taps and a 4×4 = 16 start make every layer the size of WaveGAN's."""
    g, d = abstract_gan(config(name="specgan"))
    assert count_params(g) == 19_065_345
    assert count_params(d) == 17_427_969


def test_generator_flops_match_the_hand_count():
    """Per-example forward FLOPs of G at d=64: 2·MACs of the dense and 5 transposed convs
    (each input sample meets each of the 25 taps once)."""
    d, k = 64, 25
    dense = 2 * 100 * 256 * d
    chans = [16 * d, 8 * d, 4 * d, 2 * d, d, 1]
    convs = sum(2 * k * chans[i] * chans[i + 1] * 16 * 4**i for i in range(5))
    assert describe(config())["generator"]["gflops_forward"] == pytest.approx(
        (dense + convs) / 1e9, rel=1e-9
    )


def test_discriminator_flops_match_xla_cost_analysis():
    """XLA's own count for the lax-conv D (convs + dense + elementwise) agrees within 3%."""
    cfg = config(dim=4, conv_impl="lax")
    _, d = build_gan(cfg, rngs=nnx.Rngs(0))
    graphdef, state = nnx.split(d)
    lowered = jax.jit(lambda s, x: nnx.merge(graphdef, s)(x)).lower(state, jnp.zeros((1, 16384)))
    cost = lowered.compile().cost_analysis()
    cost = cost[0] if isinstance(cost, list | tuple) else cost
    if not cost or "flops" not in cost:
        pytest.skip("this jax/XLA build reports no flops in cost_analysis()")
    ours = describe(cfg)["discriminator"]["gflops_forward"] * 1e9
    assert ours == pytest.approx(cost["flops"], rel=0.03)


def numpy_generator(g, z) -> np.ndarray:
    """WaveGAN's G written out in float64 numpy from the module's parameters: dense → reshape
    [B, 16, C] → ReLU, then per layer the transposed 'SAME' conv ``y[s·t + a - k] += x[t] W[k]``
    (output length T·s, a = ceil((K + s - 2) / 2) for K > s, kernel not flipped) + bias, ReLU
    after every layer but the last, tanh after the last."""
    z = np.asarray(z, np.float64)
    h = z @ np.asarray(g.project.kernel[...], np.float64) + np.asarray(g.project.bias[...])
    h = np.maximum(h.reshape(z.shape[0], 16, -1), 0.0)
    for i, up in enumerate(g.upconvs):
        w, b = np.asarray(up.kernel[...], np.float64), np.asarray(up.bias[...], np.float64)
        k, s, t = w.shape[0], up.stride, h.shape[1]
        a = k - 1 if s > k - 1 else math.ceil((k + s - 2) / 2)
        y = np.zeros((h.shape[0], t * s, w.shape[2]))
        for j in range(k):
            o = s * np.arange(t) + a - j  # where input t lands through tap j
            ok = (o >= 0) & (o < t * s)
            y[:, o[ok]] += np.einsum("btc,cd->btd", h[:, ok], w[j])
        y += b
        h = np.tanh(y) if i == len(g.upconvs) - 1 else np.maximum(y, 0.0)
    return h[..., 0]


@pytest.mark.parametrize("length", [16384, 32768, 65536])
def test_shapes_for_every_length(length):
    g, d = build_gan(config(dim=2, length=length), rngs=nnx.Rngs(0))
    z = latent(2)
    x = jitted(g)(z)
    assert x.shape == (2, length)
    assert float(jnp.abs(x).max()) > 0.0
    # The layer stack of every length (5 or 6 upsampling layers, channel schedule, strides,
    # tanh at the end) against the numpy forward pass (measured ~4e-7 of the peak apart).
    ref = numpy_generator(g, z)
    np.testing.assert_allclose(np.asarray(x), ref, rtol=0, atol=1e-4 * np.abs(ref).max())
    assert jitted(d)(x, key=jax.random.key(1)).shape == (2,)


@pytest.mark.parametrize("kw", [dict(upsample="nearest"), dict(post_proc_filt_len=512)])
def test_nearest_upsampling_and_post_filter(kw):
    g, d = build_gan(config(dim=2, **kw), rngs=nnx.Rngs(0))
    x = jitted(g)(latent(2))
    assert x.shape == (2, 16384) and np.isfinite(np.asarray(x)).all()
    assert jitted(d)(x).shape == (2,)


def test_post_filter_is_512_taps_without_bias():
    """The reference code's pp_filt: conv1d(1 filter, 512 taps, use_bias=False)."""
    plain, _ = abstract_gan(config())
    filt, _ = abstract_gan(config(post_proc_filt_len=512))
    assert count_params(filt) - count_params(plain) == 512


def test_nearest_upsampling_keeps_the_parameter_count():
    """nn-upsample + conv replaces each transposed conv with a conv of the same kernel shape."""
    plain, _ = abstract_gan(config())
    nearest, _ = abstract_gan(config(upsample="nearest"))
    assert count_params(nearest) == count_params(plain)


def test_phase_shuffle_key_changes_d_output_and_none_is_deterministic():
    _, d = build_gan(config(dim=2), rngs=nnx.Rngs(0))
    x = jax.random.uniform(jax.random.key(2), (2, 16384), minval=-1, maxval=1)
    apply = jitted(d)
    np.testing.assert_array_equal(apply(x), apply(x))
    outs = {float(apply(x, key=jax.random.key(s))[0]) for s in range(6)}
    assert len(outs) > 1
    np.testing.assert_array_equal(apply(x, key=jax.random.key(3)), apply(x, key=jax.random.key(3)))
    # Radius 0: the key has nothing to shuffle.
    _, d0 = build_gan(config(dim=2, phase_shuffle=0), rngs=nnx.Rngs(0))
    np.testing.assert_array_equal(jitted(d0)(x, key=jax.random.key(3)), jitted(d0)(x))


def test_conditional_models_read_the_label():
    g, d = build_gan(config(dim=2, num_classes=10), rngs=nnx.Rngs(0))
    z = jnp.full((1, 100), 0.5)
    gen = jitted(g)
    a, b = gen(z, jnp.array([1])), gen(z, jnp.array([7]))
    assert float(jnp.abs(a - b).max()) > 1e-6
    x = jnp.concatenate([a, a])
    la, lb = jitted(d)(x, jnp.array([1, 7]))
    assert float(la) != float(lb)  # projection discriminator reads the label
    with pytest.raises(ValueError, match="labels"):
        g(z)  # conditional model without labels


def test_unconditional_model_rejects_labels():
    g, _ = build_gan(config(dim=2), rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="unconditional"):
        g(latent(1), jnp.array([0]))


def test_specgan_shapes():
    g, d = build_gan(config(name="specgan", dim=2), rngs=nnx.Rngs(0))
    s = jitted(g)(latent(2))
    assert s.shape == (2, 128, 128) and float(jnp.abs(s).max()) <= 1.0
    apply = jitted(d)
    # No phase shuffle: the key is accepted and ignored.
    np.testing.assert_array_equal(apply(s), apply(s, key=jax.random.key(0)))
    assert apply(s).shape == (2,)


def test_jit_of_split_state_equals_eager_call():
    g, d = build_gan(config(dim=2), rngs=nnx.Rngs(0))
    graphdef, state = nnx.split(g)
    params = nnx.to_pure_dict(state)
    f = jax.jit(lambda p, z: nnx.merge(graphdef, p)(z))
    z = latent(1, seed=3)
    np.testing.assert_allclose(f(params, z), g(z), rtol=1e-5, atol=1e-6)
    x = f(params, latent(2, seed=4))
    key = jax.random.key(5)
    np.testing.assert_allclose(jitted(d)(x, key=key), d(x, key=key), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "key, value, needle",
    [
        ("model.name", "wavernn", "model.name"),
        ("model.dim", 0, "model.dim"),
        ("model.latent_dim", -3, "model.latent_dim"),
        ("data.length", 20000, "data.length"),
        ("model.upsample", "cubic", "model.upsample"),
        ("model.conv_impl", "fft", "model.conv_impl"),
        ("model.phase_shuffle", -1, "model.phase_shuffle"),
        ("model.phase_shuffle", 64, "model.phase_shuffle"),  # D's 4th activation is 64 long
    ],
)
def test_bad_model_configs_name_the_key(key, value, needle):
    cfg = config()
    section, leaf = key.split(".")
    with cfg.unlocked():
        cfg[section][leaf] = value
    with pytest.raises(ValueError, match=needle):
        validate_model_config(cfg)


def test_specgan_needs_16384_samples_and_no_post_filter():
    with pytest.raises(ValueError, match="data.length"):
        validate_model_config(config(name="specgan", length=32768))
    with pytest.raises(ValueError, match="post_proc_filt_len"):
        validate_model_config(config(name="specgan", post_proc_filt_len=512))
    validate_model_config(config(name="specgan"))  # phase_shuffle=2 default is simply unused
