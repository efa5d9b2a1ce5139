"""SpecGAN features: shape, range, and the Griffin-Lim round trip."""

import numpy as np

from wavegen.data import spectral


def chirp(n=4, t=16384, sr=16000):
    time = np.arange(t) / sr
    f0 = np.linspace(200, 800, n)[:, None]
    return (0.5 * np.sin(2 * np.pi * (f0 * time + 300 * time**2))).astype(np.float32)


def test_features_shape_range_and_moments():
    x = chirp()
    feats = spectral.waveform_to_features(x)
    assert feats.shape == (4, 128, 128)
    mean, std = spectral.compute_moments(feats)
    assert mean.shape == std.shape == (128,)
    norm = spectral.normalize_features(feats, (mean, std))
    assert norm.min() >= -1.0 and norm.max() <= 1.0


def test_features_match_a_direct_dft():
    x = chirp(1)[0]
    frame = np.zeros(256, np.float32)
    frame[:] = x[128 * 5 : 128 * 5 + 256]
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(256) / 256)  # periodic Hann
    k = np.arange(128)[:, None]
    dft = (frame * window * np.exp(-2j * np.pi * k * np.arange(256) / 256)).sum(-1)
    got = np.exp(spectral.waveform_to_features(x[None])[0, 5])
    np.testing.assert_allclose(got, np.abs(dft) + 1e-6, rtol=1e-3, atol=1e-5 * np.abs(dft).max())


def test_griffin_lim_round_trip_spectral_convergence():
    x = chirp()
    feats = spectral.waveform_to_features(x)
    moments = spectral.compute_moments(feats)
    y = spectral.features_to_waveform(spectral.normalize_features(feats, moments), moments)
    assert y.shape == x.shape
    mag_x = np.exp(feats)
    mag_y = np.exp(spectral.waveform_to_features(y))
    sc = np.linalg.norm(mag_x - mag_y) / np.linalg.norm(mag_x)
    # Measured 0.13 with 16 iterations on these chirps (phase is re-estimated, the magnitude
    # survives); a wrong scale alone (x0.5) gives 0.52.
    assert sc < 0.25, sc
