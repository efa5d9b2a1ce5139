"""Reference-style |D| (chrisdonahue/wavegan eval/similarity) against independent computations."""

import librosa
import numpy as np
import pytest

from wavegen.eval.similarity import (
    MetricInputError,
    nn_distances,
    nn_similarity,
    reference_settings,
    similarity_features,
)


def test_settings_are_the_reference_at_16k_and_scaled_in_time_at_8k():
    ref = reference_settings(16000)
    assert (ref.frame_length, ref.frame_step, ref.fft_length, ref.n_mels) == (2048, 128, 2048, 128)
    assert (ref.lower_hz, ref.upper_hz, ref.log_eps, ref.pcm_scale) == (40.0, 7800.0, 1e-6, 32768)
    fsdd = reference_settings(8000)
    assert (fsdd.frame_length, fsdd.frame_step, fsdd.fft_length) == (1024, 64, 1024)
    assert (fsdd.lower_hz, fsdd.upper_hz) == (40.0, 3900.0)
    # A rate whose frame is no power of two: TF pads the FFT to the next one.
    odd = reference_settings(22050)
    assert (odd.frame_length, odd.frame_step, odd.fft_length) == (2822, 176, 4096)


def _slow_reference_features(x: np.ndarray, sr: int) -> np.ndarray:
    """feats.py written out with loops: TF stft(pad_end) + TF's mel matrix + log(. + 1e-6)."""
    frame, hop = 2048 * sr // 16000, 128 * sr // 16000
    nfft = frame  # a power of two at 8 and 16 kHz
    lower, upper = 40.0, 7800.0 * sr / 16000
    x = x * 32768.0  # scipy's wavread gives int16-scale values
    frames = int(np.ceil(len(x) / hop))
    padded = np.concatenate([x, np.zeros((frames - 1) * hop + frame - len(x))])
    window = np.hanning(frame + 1)[:-1]  # periodic Hann: the symmetric one of length N+1, cut
    mags = np.array([np.abs(np.fft.rfft(padded[j * hop : j * hop + frame] * window)) for j in
                     range(frames)])  # fmt: skip
    # Mel triangles linear in HTK mel, DC bin excluded (librosa's htk formula, 2595 log10).
    bin_mel = librosa.hz_to_mel(np.linspace(0, sr / 2, nfft // 2 + 1), htk=True)
    edges = np.linspace(librosa.hz_to_mel(lower, htk=True), librosa.hz_to_mel(upper, htk=True),
                        130)  # fmt: skip
    weights = np.zeros((nfft // 2 + 1, 128))
    for b in range(1, nfft // 2 + 1):
        for m in range(128):
            lo, c, hi = edges[m], edges[m + 1], edges[m + 2]
            up, down = (bin_mel[b] - lo) / (c - lo), (hi - bin_mel[b]) / (hi - c)
            weights[b, m] = max(0.0, min(up, down))
    return np.log(mags @ weights + 1e-6).reshape(-1)


@pytest.mark.parametrize("sr", [8000, 16000])
def test_features_match_a_loop_transcription_of_the_reference(sr):
    rng = np.random.default_rng(0)
    t = np.arange(3000) / sr
    x = np.stack([0.3 * np.sin(2 * np.pi * 440 * t) + 0.01 * rng.standard_normal(3000),
                  0.05 * rng.standard_normal(3000)])  # fmt: skip
    feats = similarity_features(x, sr)
    hop = 128 * sr // 16000
    assert feats.shape == (2, int(np.ceil(3000 / hop)) * 128) and feats.dtype == np.float32
    for i in range(2):
        expected = _slow_reference_features(x[i], sr)
        np.testing.assert_allclose(feats[i], expected, atol=2e-3)


def test_length_crops_and_pads_and_a_tone_peaks_in_its_mel_band():
    sr, f = 16000, 1000.0
    x = np.sin(2 * np.pi * f * np.arange(20000) / sr)[None]
    feats = similarity_features(x, sr, length=16384)
    assert feats.shape == (1, 128 * 128)  # the reference's 16384 samples: 128 frames x 128 mels
    band = int(np.argmax(feats.reshape(128, 128)[10]))
    edges = np.linspace(librosa.hz_to_mel(40.0, htk=True), librosa.hz_to_mel(7800.0, htk=True), 130)
    centre = int(np.argmin(np.abs(edges[1:-1] - librosa.hz_to_mel(f, htk=True))))
    assert abs(band - centre) <= 1
    short = similarity_features(x[:, :1000], sr, length=16384)
    assert short.shape == (1, 128 * 128)


def _brute_force(query, reference=None):
    """Double loop over pairs; |D|self skips the same index."""
    ref = query if reference is None else reference
    out = []
    for i, q in enumerate(query):
        others = [r for j, r in enumerate(ref) if reference is not None or j != i]
        out.append(min(np.sqrt(np.sum((q.astype(np.float64) - r) ** 2)) for r in others))
    return np.array(out)


def test_nearest_neighbours_of_a_handmade_case():
    query = np.array([[0.0, 0.0], [10.0, 0.0]])
    reference = np.array([[1.0, 0.0], [0.0, 3.0], [10.0, 2.0], [50.0, 50.0]])
    np.testing.assert_allclose(nn_distances(query, reference), [1.0, 2.0])
    line = np.array([[0.0], [1.0], [3.0], [7.0]])  # neighbours 1, 1, 2, 4 away
    np.testing.assert_allclose(nn_distances(line), [1.0, 1.0, 2.0, 4.0])
    mean, std = nn_similarity(line)
    assert mean == pytest.approx(2.0) and std == pytest.approx(np.std([1, 1, 2, 4]))


def test_nearest_neighbours_match_brute_force_and_are_exact_at_a_large_offset():
    rng = np.random.default_rng(1)
    # Log-mels share a large offset (about 10 at int16 scale); float32 Gram distances alone would
    # lose the small differences, the exact re-measurement must not.
    # float32, as similarity_features returns; the brute force runs on the same values.
    query = (1000.0 + rng.standard_normal((37, 300))).astype(np.float32)
    reference = (1000.0 + rng.standard_normal((53, 300))).astype(np.float32)
    np.testing.assert_allclose(
        nn_distances(query, reference, chunk_size=8), _brute_force(query, reference), rtol=1e-9
    )
    np.testing.assert_allclose(nn_distances(query, chunk_size=8), _brute_force(query), rtol=1e-9)
    # A clip that is in the training set is at distance exactly 0; a duplicate within the set too
    # (the reference's sim.py keeps a second neighbour at distance 0).
    assert nn_distances(reference[:5], reference).max() == 0.0
    dup = np.concatenate([query, query[:1]])
    assert nn_distances(dup)[0] == 0.0 and nn_distances(dup)[-1] == 0.0


def test_bad_input_is_named():
    with pytest.raises(MetricInputError, match="query"):
        nn_distances(np.ones((1, 3)))
    with pytest.raises(MetricInputError, match="feature dimension"):
        nn_distances(np.ones((4, 3)), np.ones((4, 2)))
    with pytest.raises(MetricInputError, match="finite"):
        nn_distances(np.full((4, 3), np.nan))
    with pytest.raises(MetricInputError, match="sample_rate"):
        similarity_features(np.zeros((1, 100)), 0)
