"""SpecGAN features: STFT against librosa, [-1, 1] range, moments, Griffin-Lim round trip."""

import librosa
import numpy as np
import pytest

from wavegen.data import AudioDataError, AudioDataset, spectral
from wavegen.data.synthetic import synthesize_notes


@pytest.fixture(scope="module")
def notes():
    waves, _, _ = synthesize_notes(8, 16384, 16000, seed=3)
    return waves


def spectral_convergence(a: np.ndarray, b: np.ndarray) -> float:
    """||S_a - S_b||_F / ||S_a||_F of librosa STFT magnitudes (an independent STFT)."""
    sa = np.abs(librosa.stft(a, n_fft=256, hop_length=128))
    sb = np.abs(librosa.stft(b, n_fft=256, hop_length=128))
    return float(np.linalg.norm(sa - sb) / np.linalg.norm(sa))


def test_features_are_librosa_log_magnitudes_time_by_freq(notes):
    feats = spectral.waveform_to_features(notes)
    assert feats.shape == (8, 128, 128) and feats.dtype == np.float32
    # TF's stft(pad_end=True): frames from sample 0, the end padded with n_fft - hop zeros.
    padded = np.pad(notes, ((0, 0), (0, 128)))
    ref = np.abs(librosa.stft(padded, n_fft=256, hop_length=128, center=False, window="hann"))
    ref = np.log(ref[:, :128, :] + 1e-6).transpose(0, 2, 1)  # drop Nyquist; [N, time, freq]
    np.testing.assert_allclose(feats, ref, atol=2e-3)


def test_moments_and_normalised_range(notes):
    feats = spectral.waveform_to_features(notes)
    mean, std = spectral.compute_moments(feats)
    assert mean.shape == std.shape == (128,)
    np.testing.assert_allclose(mean, feats.reshape(-1, 128).mean(0), rtol=1e-5)
    np.testing.assert_allclose(std, feats.reshape(-1, 128).std(0), rtol=1e-4)
    norm = spectral.normalize_features(feats, (mean, std))
    assert norm.min() >= -1.0 and norm.max() <= 1.0
    inside = np.abs(feats - mean) < 3 * std  # not clipped: exactly (x - mean) / (3 std)
    np.testing.assert_allclose(norm[inside], ((feats - mean) / (3 * std))[inside], atol=1e-6)


def test_griffin_lim_round_trip_spectral_convergence(notes):
    feats = spectral.waveform_to_features(notes)
    moments = spectral.compute_moments(feats)
    rebuilt = spectral.features_to_waveform(
        spectral.normalize_features(feats, moments), moments, length=16384
    )
    assert rebuilt.shape == notes.shape and np.abs(rebuilt).max() <= 1.0
    # Measured 0.16 on synthetic notes with 16 fast-Griffin-Lim iterations (0.22 without
    # momentum); random phase would give ~1. Bound with margin:
    assert spectral_convergence(notes, rebuilt) < 0.25
    # The channel axis a generator may emit ([N, 128, 128, 1]) is accepted too.
    with_channel = spectral.normalize_features(feats[:1], moments)[..., None]
    assert spectral.features_to_waveform(with_channel, moments, n_iter=2).shape == (1, 16384)


def test_bad_shapes_are_named():
    with pytest.raises(AudioDataError, match="moments"):
        spectral.normalize_features(np.zeros((1, 128, 128)), (np.zeros(129), np.ones(129)))
    with pytest.raises(AudioDataError, match="features_to_waveform"):
        spectral.features_to_waveform(np.zeros((1, 128, 64)), (np.zeros(128), np.ones(128)))


def test_dataset_moments_are_stored_beside_the_cache(notes, tmp_path):
    ds = AudioDataset(notes, np.zeros(8, np.int32), [], 16000, [""] * 8, [], str(tmp_path))
    mean, std = spectral.dataset_moments(ds)
    direct = spectral.compute_moments(spectral.waveform_to_features(notes))
    np.testing.assert_allclose(mean, direct[0], rtol=1e-5)
    np.testing.assert_allclose(std, direct[1], rtol=1e-3)
    assert (tmp_path / spectral.MOMENTS_FILE).is_file()
    ds.waveforms = np.zeros_like(notes)  # stored moments are read back, not recomputed
    np.testing.assert_array_equal(spectral.dataset_moments(ds)[0], mean)
