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
    assert rebuilt.shape == notes.shape and rebuilt.dtype == np.float32
    # The magnitudes carry the energy (Parseval; Griffin-Lim only guesses the phase): each
    # clip's RMS is the original's (measured within 4.6%), which a wrong ISTFT window
    # normalisation or moment scale would break. The clip to [-1, 1] touches only the few
    # overshooting transients (measured at most 0.32% of a clip's samples).
    rms = lambda x: np.sqrt(np.mean(np.square(x, dtype=np.float64), axis=-1))  # noqa: E731
    np.testing.assert_allclose(rms(rebuilt), rms(notes), rtol=0.08)
    assert np.mean(np.abs(rebuilt) >= 1.0, axis=-1).max() < 0.005
    # Measured 0.19 on synthetic notes with 16 plain Griffin-Lim iterations (the default, as
    # the reference); random phase would give ~1. Bound with margin:
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


def _reference_griffin_lim(mag: np.ndarray, length: int, n_iter: int) -> np.ndarray:
    """The reference's invert_spectra_griffin_lim written out for one clip [frames, 129]: zero
    phase; n_iter times ISTFT (full overlap-add length) → STFT → X = |target| X_est /
    max(|X_est|, 1e-8); a final ISTFT cropped to ``length``. The ISTFT is the least-squares
    one (window-square normalised, with the module's documented floor)."""
    nfft, hop, frames = 256, 128, mag.shape[0]
    window = np.hanning(nfft + 1)[:-1]  # periodic Hann

    def istft(spec):
        out, norm = np.zeros((frames - 1) * hop + nfft), np.zeros((frames - 1) * hop + nfft)
        for j in range(frames):
            out[j * hop : j * hop + nfft] += np.fft.irfft(spec[j], nfft) * window
            norm[j * hop : j * hop + nfft] += window**2
        return out / np.maximum(norm, spectral.WINDOW_SUM_FLOOR)

    def stft(x):
        return np.array([np.fft.rfft(x[j * hop : j * hop + nfft] * window) for j in range(frames)])

    spec = mag.astype(np.complex128)
    for _ in range(n_iter):
        est = stft(istft(spec))
        spec = mag * est / np.maximum(np.abs(est), 1e-8)
    return istft(spec)[:length]


def test_plain_griffin_lim_is_the_reference_algorithm(notes):
    mag = np.abs(spectral.stft(notes[:2]))  # [2, 128, 129]
    # float32 here against float64 in the transcription: ~1e-4 apart after 16 iterations; the
    # momentum variant or a loop cropped to `length` differ by far more.
    ours = spectral.griffin_lim(mag, 16384, n_iter=16, momentum=0.0)
    for i in range(2):
        np.testing.assert_allclose(ours[i], _reference_griffin_lim(mag[i], 16384, 16), atol=1e-3)
    # features_to_waveform's default is this algorithm, 16 iterations (the paper configs').
    feats = spectral.waveform_to_features(notes[:2])
    moments = spectral.compute_moments(spectral.waveform_to_features(notes))
    norm = spectral.normalize_features(feats, moments)
    mag = np.exp(spectral.denormalize_features(norm, moments))
    mag = np.concatenate([mag, np.zeros_like(mag[..., :1])], axis=-1)
    expected = np.clip(_reference_griffin_lim(mag[1], 16384, 16), -1, 1)
    np.testing.assert_allclose(spectral.features_to_waveform(norm, moments)[1], expected, atol=1e-3)


@pytest.mark.parametrize("method", ["plain", "momentum"])
def test_griffin_lim_spectral_convergence_improves_with_iterations(notes, method):
    feats = spectral.waveform_to_features(notes)
    moments = spectral.compute_moments(feats)
    norm = spectral.normalize_features(feats, moments)
    sc = [
        spectral_convergence(
            notes, spectral.features_to_waveform(norm, moments, n_iter=k, method=method)
        )
        for k in (1, 4, 16)
    ]
    # Measured plain 0.58 / 0.41 / 0.19, momentum 0.58 / 0.33 / 0.14 on these notes.
    assert sc[0] > sc[1] > sc[2]
    assert sc[2] < (0.25 if method == "plain" else 0.18)


def test_momentum_beats_plain_at_equal_iterations_and_bad_options_are_named(notes):
    feats = spectral.waveform_to_features(notes)
    moments = spectral.compute_moments(feats)
    norm = spectral.normalize_features(feats, moments)
    plain, fast = (
        spectral_convergence(notes, spectral.features_to_waveform(norm, moments, method=m))
        for m in ("plain", "momentum")
    )
    assert fast < plain
    with pytest.raises(AudioDataError, match="plain"):
        spectral.features_to_waveform(norm[:1], moments, method="fast")
    with pytest.raises(AudioDataError, match="iterations"):
        spectral.features_to_waveform(norm[:1], moments, n_iter=-1)


def test_griffin_lim_config_keys_default_to_the_reference_and_are_validated():
    from pathlib import Path

    from wavegen.config import load_config
    from wavegen.models import ModelConfigError, validate_model_config

    root = Path(__file__).resolve().parents[2] / "experiments"
    for name in ("specgan_sc09.py", "specgan_fsdd.py"):
        cfg = load_config(str(root / name))
        assert (cfg.model.griffin_lim, cfg.model.griffin_lim_iters) == ("plain", 16)
        validate_model_config(cfg)
    cfg.model.griffin_lim = "momentum"
    validate_model_config(cfg)
    cfg.model.griffin_lim = "fast"
    with pytest.raises(ModelConfigError, match="model.griffin_lim"):
        validate_model_config(cfg)
    cfg.model.griffin_lim, cfg.model.griffin_lim_iters = "plain", -1
    with pytest.raises(ModelConfigError, match="model.griffin_lim_iters"):
        validate_model_config(cfg)
