"""Discriminator library: conv/pooling/STFT building blocks against references, output shapes,
per-example independence, and the summed adversarial losses."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from wavegen.losses.adversarial import multi_discriminator_loss
from wavegen.models.discriminators import (
    CombinedDiscriminator,
    MultiPeriodDiscriminator,
    MultiResolutionSTFTDiscriminator,
    MultiScaleDiscriminator,
    avg_pool_4_2,
    build_discriminator,
    conv1d_general,
    conv2d_same,
)

T = 2048


def waves(batch: int = 2, seed: int = 0, length: int = T) -> jax.Array:
    return jnp.asarray(np.random.default_rng(seed).uniform(-1, 1, (batch, length)), jnp.float32)


@pytest.mark.parametrize(
    "stride,dilation,groups,padding", [(1, 1, 1, (2, 2)), (4, 1, 4, (20, 20)), (3, 2, 2, (0, 3))]
)
def test_conv1d_general_matches_lax_conv(stride, dilation, groups, padding):
    rng = np.random.default_rng(0)
    k = 41 if stride == 4 else 5
    x = rng.standard_normal((2, 97, 8)).astype(np.float32)
    w = rng.standard_normal((k, 8 // groups, 12)).astype(np.float32)
    bias = rng.standard_normal(12).astype(np.float32)
    got = conv1d_general(
        jnp.asarray(x),
        jnp.asarray(w),
        jnp.asarray(bias),
        stride=stride,
        dilation=dilation,
        groups=groups,
        padding=padding,
    )
    want = (
        jax.lax.conv_general_dilated(
            x,
            w,
            (stride,),
            [padding],
            rhs_dilation=(dilation,),
            dimension_numbers=("NWC", "WIO", "NWC"),
            feature_group_count=groups,
        )
        + bias
    )
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("strides,dilation", [((1, 1), (1, 1)), ((1, 2), (2, 1)), ((2, 3), (4, 1))])
def test_conv2d_same_matches_lax_conv(strides, dilation):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 11, 29, 3)).astype(np.float32)
    w = rng.standard_normal((3, 9, 3, 4)).astype(np.float32)
    bias = rng.standard_normal(4).astype(np.float32)
    got = conv2d_same(jnp.asarray(x), jnp.asarray(w), jnp.asarray(bias), strides, dilation)
    want = (
        jax.lax.conv_general_dilated(
            x, w, strides, "SAME", rhs_dilation=dilation, dimension_numbers=("NHWC", "HWIO", "NHWC")
        )
        + bias
    )
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-4, atol=1e-4)


def test_avg_pool_excludes_padding_like_melgan():
    x = np.random.default_rng(0).standard_normal((1, 10))
    xp = np.pad(x[0], 1)
    # Window j covers padded [2j, 2j + 4); the padding zeros are not counted.
    want = [xp[2 * j : 2 * j + 4].sum() / (4 - (j == 0) - (2 * j + 4 > 11)) for j in range(5)]
    np.testing.assert_allclose(np.asarray(avg_pool_4_2(jnp.asarray(x)))[0], want, rtol=1e-6)


@nnx.jit
def run(d, x):
    # Jitted: eager op-by-op dispatch of the im2col slices is slow.
    return d(x)


def test_multi_scale_shapes():
    d = MultiScaleDiscriminator(3, 2, 32, rngs=nnx.Rngs(0))
    out = run(d, waves())
    assert len(out) == 3
    for i, (logits, feats) in enumerate(out):
        length = T // 2**i  # pooled by 2 per scale, then /4 per stride-4 conv
        assert logits.shape == (2, length // 256, 1)
        assert [f.shape[1] for f in feats] == [
            length,
            length // 4,
            length // 16,
            length // 64,
            length // 256,
            length // 256,
        ]
        assert [f.shape[2] for f in feats] == [2, 8, 32, 32, 32, 32]  # width x4 capped at 32


def test_multi_period_shapes():
    periods = (2, 3, 5, 7, 11)
    d = MultiPeriodDiscriminator(periods, (4, 8, 16, 16), rngs=nnx.Rngs(0))
    out = run(d, waves())
    assert len(out) == 5
    for p, (logits, feats) in zip(periods, out, strict=True):
        lengths = [-(-T // p)]
        for _ in range(4):
            lengths.append(-(-lengths[-1] // 3))  # k5 s3 pad 2: ceil(L / 3)
        assert [f.shape for f in feats] == [
            (2, p, lengths[1], 4),
            (2, p, lengths[2], 8),
            (2, p, lengths[3], 16),
            (2, p, lengths[4], 16),
            (2, p, lengths[4], 16),
        ]
        assert logits.shape == (2, p * lengths[4])


def test_stft_shapes():
    d = MultiResolutionSTFTDiscriminator((512, 256), 4, rngs=nnx.Rngs(0))
    out = run(d, waves())
    for n_fft, (logits, feats) in zip((512, 256), out, strict=True):
        frames, bins = 1 + T // (n_fft // 4), n_fft // 2 + 1
        freq = [bins, -(-bins // 2), -(-bins // 4), -(-bins // 8), -(-bins // 8)]
        assert [f.shape for f in feats] == [(2, frames, k, 4) for k in freq]
        assert logits.shape == (2, frames, freq[-1], 1)


def test_examples_are_scored_independently():
    """No cross-example statistics: scoring a batch equals scoring each example alone."""
    d = build_discriminator(
        ("msd", "mpd", "stft"),
        channels=1,
        periods=(2, 3),
        fft_sizes=(256,),
        num_scales=1,
        rngs=nnx.Rngs(0),
    )
    x = waves(3, length=1024)
    together = run(d, x)
    alone = run(d, x[1:2])
    for (lt, ft), (la, fa) in zip(together, alone, strict=True):
        np.testing.assert_allclose(np.asarray(lt[1:2]), np.asarray(la), rtol=1e-4, atol=1e-5)
        for a, b in zip(ft, fa, strict=True):
            np.testing.assert_allclose(np.asarray(a[1:2]), np.asarray(b), rtol=1e-4, atol=1e-5)


def test_combined_concatenates_and_gradients_are_finite():
    d = build_discriminator(
        ("mpd", "stft"), channels=1, periods=(2, 3), fft_sizes=(256,), rngs=nnx.Rngs(0)
    )
    assert isinstance(d, CombinedDiscriminator)
    assert len(run(d, waves())) == 3
    graph, params = nnx.split(d)

    def loss(p, x):
        real = nnx.merge(graph, p)(x)
        fake = nnx.merge(graph, p)(0.5 * x)
        # lsgan, not hinge: a saturated hinge would legitimately give zero gradients.
        return multi_discriminator_loss("lsgan", real, fake)

    grads = jax.jit(jax.grad(loss))(params, waves())
    leaves = jax.tree.leaves(grads)
    assert all(np.all(np.isfinite(np.asarray(g))) for g in leaves)
    assert sum(float(jnp.sum(jnp.abs(g))) > 0 for g in leaves) == len(leaves)


def test_unknown_name_raises():
    with pytest.raises(ValueError, match="msd"):
        build_discriminator(("melgan",), rngs=nnx.Rngs(0))
