"""WaveGAN's configurable critics (wavegen.models.critics) and mean-feature matching."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from wavegen.config import load_config
from wavegen.losses.gan import mean_feature_matching_loss
from wavegen.models import build_gan, critics

B, T, D, C = 2, 4096, 4, 4  # batch, samples, model.dim, model.critic_channels


def _critic(spec: str):
    cfg = load_config(
        "experiments/quickstart.py:tiny",
        [
            f"data.length={T}",
            f"model.dim={D}",
            f"model.critic={spec}",
            f"model.critic_channels={C}",
        ],
    )
    _, d = build_gan(cfg, rngs=nnx.Rngs(0))
    return critics.build_critic(cfg, d, rngs=nnx.Rngs(1))


def _wavegan_shapes():
    # D: 4 convs k25 s4 'SAME', widths d, 2d, 4d, 8d; logits [B].
    feats = [(B, T // 4 ** (i + 1), D << i) for i in range(4)]
    return [((B,), feats)]


def _msd_shapes():
    out = []
    for t in (T, T // 2, T // 4):  # MelGAN's 2x average pools
        w = [C, 4 * C, 16 * C, 64 * C, 64 * C]  # ×4 per stride-4 conv, capped at 64·C
        lens = [t, t // 4, t // 16, t // 64, t // 256]
        feats = [(B, n, c) for n, c in zip(lens, w, strict=True)] + [(B, t // 256, 64 * C)]
        out.append(((B, t // 256, 1), feats))
    return out


def _mpd_shapes():
    out = []
    for p in (2, 3, 5, 7, 11):
        n = math.ceil(T / p)  # reflect-padded to a multiple of p, folded
        feats = []
        for c in (2 * C, 8 * C, 32 * C, 64 * C):
            n = math.ceil(n / 3)  # k5 stride 3 pad 2
            feats.append((B, p, n, c))
        feats.append((B, p, n, 64 * C))
        out.append(((B, n * p), feats))
    return out


def _mrstft_shapes():
    out = []
    for n_fft in (2048, 1024, 512):
        frames, f = 1 + T // (n_fft // 4), n_fft // 2 + 1
        bins = [f, math.ceil(f / 2), math.ceil(f / 4), math.ceil(f / 8), math.ceil(f / 8)]
        feats = [(B, frames, k, 2 * C) for k in bins]
        out.append(((B, frames, bins[-1], 1), feats))
    return out


SHAPES = {
    "wavegan": _wavegan_shapes,
    "msd": _msd_shapes,
    "mpd": _mpd_shapes,
    "mrstft": _mrstft_shapes,
}


@pytest.mark.parametrize("spec", ["wavegan", "msd", "mpd", "mrstft", "wavegan+mrstft"])
def test_output_and_feature_shapes_per_critic(spec):
    critic = _critic(spec)
    x = jax.ShapeDtypeStruct((B, T), jnp.float32)  # shapes only: nothing runs eagerly
    out = jax.eval_shape(lambda x: critics.outputs(critic, x, None, jax.random.key(0)), x)
    want = [s for name in spec.split("+") for s in SHAPES[name]()]
    got = [(lg.shape, [f.shape for f in feats]) for lg, feats in out]
    assert got == want
    score = jax.eval_shape(lambda x: critics.scores(critics.outputs(critic, x, None, None)), x)
    assert score.shape == (B,)


def test_default_critic_is_the_papers_module_itself():
    cfg = load_config("experiments/quickstart.py:tiny", [f"data.length={T}"])
    _, d = build_gan(cfg, rngs=nnx.Rngs(0))
    assert critics.build_critic(cfg, d, rngs=nnx.Rngs(1)) is d


def test_scores_and_losses_over_sub_discriminators():
    rng = np.random.default_rng(1)
    real = [(rng.normal(size=(3,)), []), (rng.normal(size=(3, 4, 1)), [])]
    fake = [(rng.normal(size=(3,)), []), (rng.normal(size=(3, 4, 1)), [])]
    real = [(jnp.asarray(a, jnp.float32), f) for a, f in real]
    fake = [(jnp.asarray(a, jnp.float32), f) for a, f in fake]
    want = np.asarray(real[0][0]) + np.asarray(real[1][0]).reshape(3, -1).mean(axis=1)
    np.testing.assert_allclose(critics.scores(real), want, rtol=1e-6)

    def hinge(r, f):
        return np.mean(np.maximum(0, 1 - r)) + np.mean(np.maximum(0, 1 + f))


def test_mean_feature_matching_against_numpy():
    rng = np.random.default_rng(2)
    real = [rng.normal(size=(4, 5, 3)), rng.normal(size=(4, 7))]
    fake = [rng.normal(size=(6, 5, 3)), rng.normal(size=(6, 7))]  # batch sizes may differ
    pairs = zip(real, fake, strict=True)
    want = np.mean([np.mean(np.abs(r.mean(axis=0) - f.mean(axis=0))) for r, f in pairs])
    got = mean_feature_matching_loss(
        [jnp.asarray(r, jnp.float32) for r in real], [jnp.asarray(f, jnp.float32) for f in fake]
    )
    np.testing.assert_allclose(got, want, rtol=1e-5)
    # Zero for two batches with the same mean features, though no example is equal.
    a = rng.normal(size=(4, 3))
    b = a[::-1] * 1.0
    np.testing.assert_allclose(
        mean_feature_matching_loss([jnp.asarray(a)], [jnp.asarray(b)]), 0.0, atol=1e-6
    )
    with pytest.raises(ValueError, match="after the batch axis"):
        mean_feature_matching_loss([jnp.zeros((2, 3))], [jnp.zeros((2, 4))])


@pytest.mark.parametrize("spec", ["", "foo", "wavegan+wavegan", "msd+", "stft"])
def test_parse_critic_rejects_bad_names(spec):
    assert critics.parse_critic(spec) is None
