"""WaveGAN / SpecGAN shapes, the paper's exact parameter counts, conditioning, config errors."""

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest
from flax import nnx

from wavegen.defaults import base_config
from wavegen.models import build_gan, count_params, describe, validate_model_config


def config(**model):
    cfg = base_config()
    length = model.pop("length", 16384)
    cfg.data.length = length
    cfg.model.update(model)
    return cfg


def test_paper_parameter_counts_at_d64():
    """Donahue et al. 2019 WaveGAN, d=64, 16384 samples: G 19,065,345 and D 17,427,969."""
    g, d = nnx.eval_shape(lambda: build_gan(config(), rngs=nnx.Rngs(0)))
    assert count_params(g) == 19_065_345
    assert count_params(d) == 17_427_969
    desc = describe(config())
    assert desc["generator"]["params"] == 19_065_345
    assert desc["discriminator"]["params"] == 17_427_969


def test_flops_match_the_analytic_conv_count():
    """Per-example forward FLOPs of G at d=64: 2·MACs of the dense and 5 transposed convs."""
    d, k = 64, 25
    dense = 2 * 100 * 256 * d
    chans = [16 * d, 8 * d, 4 * d, 2 * d, d, 1]
    convs = sum(2 * k * chans[i] * chans[i + 1] * 16 * 4**i for i in range(5))
    assert describe(config())["generator"]["gflops_forward"] == pytest.approx(
        (dense + convs) / 1e9, rel=0.01
    )


@pytest.mark.parametrize("length", [16384, 32768, 65536])
def test_shapes_for_every_length(length):
    g, d = build_gan(config(dim=2, length=length), rngs=nnx.Rngs(0))
    z = jax.random.uniform(jax.random.key(0), (2, 100), minval=-1, maxval=1)
    x = g(z)
    assert x.shape == (2, length)
    assert float(jnp.abs(x).max()) <= 1.0
    assert d(x, key=jax.random.key(1)).shape == (2,)


@pytest.mark.parametrize("kw", [dict(upsample="nearest"), dict(post_proc_filt_len=512)])
def test_nearest_upsampling_and_post_filter(kw):
    g, d = build_gan(config(dim=2, **kw), rngs=nnx.Rngs(0))
    x = g(jnp.zeros((1, 100)) + 0.3)
    assert x.shape == (1, 16384) and np.isfinite(np.asarray(x)).all()


def test_post_filter_adds_512_taps():
    plain, _ = nnx.eval_shape(lambda: build_gan(config(), rngs=nnx.Rngs(0)))
    filt, _ = nnx.eval_shape(lambda: build_gan(config(post_proc_filt_len=512), rngs=nnx.Rngs(0)))
    assert count_params(filt) - count_params(plain) == 512


def test_phase_shuffle_key_changes_d_output_and_none_is_deterministic():
    _, d = build_gan(config(dim=2), rngs=nnx.Rngs(0))
    x = jax.random.uniform(jax.random.key(2), (2, 16384), minval=-1, maxval=1)
    np.testing.assert_array_equal(d(x), d(x))
    outs = {float(d(x, key=jax.random.key(s))[0]) for s in range(6)}
    assert len(outs) > 1


def test_conditional_generator_uses_the_label():
    g, d = build_gan(config(dim=2, num_classes=10), rngs=nnx.Rngs(0))
    z = jnp.full((1, 100), 0.5)
    a, b = g(z, jnp.array([1])), g(z, jnp.array([7]))
    assert float(jnp.abs(a - b).max()) > 1e-6
    x = jnp.concatenate([a, a])
    la, lb = d(x, jnp.array([1, 7]))
    assert float(la) != float(lb)  # projection discriminator reads the label


def test_specgan_shapes():
    g, d = build_gan(config(name="specgan", dim=2, phase_shuffle=0), rngs=nnx.Rngs(0))
    s = g(jnp.zeros((2, 100)) + 0.1)
    assert s.shape == (2, 128, 128) and float(jnp.abs(s).max()) <= 1.0
    assert d(s).shape == (2,)


def test_pure_function_of_split_state_under_jit():
    g, _ = build_gan(config(dim=2), rngs=nnx.Rngs(0))
    graphdef, state = nnx.split(g)
    params = nnx.to_pure_dict(state)
    f = jax.jit(lambda p, z: nnx.merge(graphdef, p)(z))
    z = jnp.ones((1, 100)) * 0.2
    np.testing.assert_allclose(f(params, z), g(z), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "key, value, needle",
    [
        ("model.name", "wavernn", "model.name"),
        ("model.dim", 0, "model.dim"),
        ("data.length", 20000, "data.length"),
        ("model.upsample", "cubic", "model.upsample"),
        ("model.conv_impl", "fft", "model.conv_impl"),
        ("model.phase_shuffle", -1, "model.phase_shuffle"),
    ],
)
def test_bad_model_configs_name_the_key(key, value, needle):
    cfg = config()
    section, leaf = key.split(".")
    with (
        cfg[section].unlocked()
        if isinstance(cfg[section], ml_collections.ConfigDict)
        else cfg.unlocked()
    ):
        cfg[section][leaf] = value
    with pytest.raises(ValueError, match=needle):
        validate_model_config(cfg)
