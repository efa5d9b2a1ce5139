"""The VAE's pitch channel (YIN in JAX) and harmonic oscillator bank, against numpy references."""

import jax.numpy as jnp
import numpy as np
import pytest

from wavegen.eval.pitch import estimate_f0
from wavegen.models import harmonic

SR = 16000
T = 16384


def tones(freqs, length=T, silent_from=None):
    t = np.arange(length) / SR
    x = np.stack([0.5 * np.sin(2 * np.pi * f * t) + 0.2 * np.sin(4 * np.pi * f * t) for f in freqs])
    if silent_from is not None:
        x[:, silent_from:] = 0.0
    return x.astype(np.float32)


@pytest.mark.parametrize("f0", [55.0, 110.0, 261.63, 440.0, 987.77, 1760.0])
def test_pitch_channel_finds_the_pitch_of_tones(f0):
    x = tones([f0], silent_from=12000)
    c = np.asarray(harmonic.pitch_channel(jnp.asarray(x), SR, 512, 32, 40.0, 2000.0))
    hz = 440.0 * 2.0 ** c[0]
    cents = 1200 * np.abs(np.log2(hz / f0))
    # YIN's parabolic interpolation is exact to a few cents at long lags and ~10 cents at a
    # 9-sample lag (1760 Hz); the silent tail (frames 24..31) holds the clip's median.
    assert cents.max() < 15.0, cents
    assert np.allclose(c[0, 24:], np.median(c[0, :23]), atol=1e-3)


def test_pitch_channel_agrees_with_the_numpy_yin_of_the_metrics():
    rng = np.random.default_rng(0)
    freqs = 440.0 * 2.0 ** rng.uniform(-3, 1.5, size=8)
    x = tones(freqs)
    f0, voiced = harmonic.yin_f0(jnp.asarray(x), SR, 512, 32, 40.0, 2000.0)
    ref = estimate_f0(x, SR, fmin=40.0, fmax=2000.0, frame_length=1024, hop_length=512)
    # Interior frames (the first and last reach into the zero padding around the clip).
    inner = slice(2, 30)
    assert np.asarray(voiced)[:, inner].all()
    mine = np.median(np.asarray(f0)[:, inner], axis=1)
    theirs = np.nanmedian(ref.f0, axis=1)
    assert np.abs(1200 * np.log2(mine / theirs)).max() < 5.0


def test_a_silent_clip_has_the_default_pitch_a4():
    c = harmonic.pitch_channel(jnp.zeros((1, 4096)), SR, 512, 8, 40.0, 2000.0)
    np.testing.assert_array_equal(np.asarray(c), 0.0)


def test_upsample_frames_is_linear_interpolation_between_frame_centres():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 5, 3)).astype(np.float32)
    y = np.asarray(harmonic.upsample_frames(jnp.asarray(x), 4))
    centres = (np.arange(5) + 0.5) * 4
    t = np.arange(20) + 0.5
    ref = np.stack(
        [np.stack([np.interp(t, centres, x[b, :, c]) for c in range(3)], -1) for b in range(2)]
    )
    np.testing.assert_allclose(y, ref, atol=1e-6)


def test_harmonic_synth_is_a_sum_of_sines_without_aliasing():
    f0 = 3000.0  # harmonics 1, 2 audible at 16 kHz; 3 (9 kHz) is above Nyquist
    amps = np.array([1.0, 0.5, 0.25], np.float32)
    y = harmonic.harmonic_synth(
        jnp.full((1, 4096), f0), jnp.broadcast_to(jnp.asarray(amps), (1, 4096, 3)), SR
    )
    t = np.arange(4096) / SR
    ref = np.sin(2 * np.pi * f0 * t) + 0.5 * np.sin(2 * np.pi * 2 * f0 * t)
    np.testing.assert_allclose(np.asarray(y[0]), ref, atol=2e-3)


def test_frame_synth_equals_synth_of_upsampled_amplitudes():
    rng = np.random.default_rng(2)
    f0 = jnp.asarray(
        np.repeat(rng.uniform(60, 900, (2, 16)), 64, axis=1).astype(np.float32)
    )  # [2, 1024]
    amps = jnp.asarray(rng.uniform(0, 1, (2, 64, 8)).astype(np.float32))
    a = harmonic.harmonic_synth(f0, harmonic.upsample_frames(amps, 16), SR)
    b = harmonic.harmonic_synth_frames(f0, amps, SR)
    np.testing.assert_allclose(np.asarray(b), np.asarray(a), atol=1e-5)


def test_harmonic_amplitudes_sum_to_the_amplitude_channel_below_nyquist():
    raw = jnp.asarray(np.random.default_rng(3).standard_normal((1, 4, 9)).astype(np.float32))
    f0 = jnp.asarray([[100.0, 1000.0, 2000.0, 7000.0]])
    a = np.asarray(harmonic.harmonic_amplitudes(raw, f0, SR))
    total = np.log1p(np.exp(np.asarray(raw[..., 0]) - harmonic.AMPLITUDE_OFFSET))  # softplus
    np.testing.assert_allclose(a.sum(-1), total, rtol=1e-5)
    k = np.arange(1, 9)
    assert (a[0, 2, k * 2000.0 >= SR / 2] == 0).all()  # 4th harmonic of 2 kHz is Nyquist
    assert (a[0, 3, 1:] == 0).all() and a[0, 3, 0] > 0


def test_zero_logits_give_a_one_over_k_spectrum():
    a = np.asarray(harmonic.harmonic_amplitudes(jnp.zeros((1, 1, 5)), jnp.asarray([[100.0]]), SR))
    k = np.arange(1, 5)
    np.testing.assert_allclose(
        a[0, 0], np.log1p(np.exp(-harmonic.AMPLITUDE_OFFSET)) * (1 / k) / np.sum(1 / k), rtol=1e-5
    )
