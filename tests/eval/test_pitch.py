"""YIN pitch, clean-note detection and the pitch-diversity metrics, on tones of known pitch."""

import json
import time
import warnings

import numpy as np
import pytest

from wavegen.data.synthetic import OCTAVES, PITCH_CLASSES, synthesize_notes
from wavegen.eval.pitch import (
    PitchError,
    PitchReference,
    estimate_f0,
    f0_error_cents,
    fraction_within_cents,
    hz_to_midi,
    loudness_correlation,
    note_of_clips,
    pitch_diversity,
    pitch_histogram,
)

SR = 16000
# The 21 MIDI notes of the synthetic set: naturals C..B in octaves 3-5 (C3 = 48).
NATURALS = [0, 2, 4, 5, 7, 9, 11]
NOTES_21 = [12 * (octave + 1) + pc for octave in (3, 4, 5) for pc in NATURALS]


def tone(midi: float, length: int = 8192, harmonics: int = 1, amp: float = 0.5) -> np.ndarray:
    """A steady tone [length] float32 at ``midi`` with ``harmonics`` partials (k^-1.5 roll-off)."""
    f0 = 440.0 * 2.0 ** ((midi - 69.0) / 12.0)
    t = np.arange(length) / SR
    x = sum(k**-1.5 * np.sin(2 * np.pi * k * f0 * t + k) for k in range(1, harmonics + 1))
    return (amp * x / np.abs(x).max()).astype(np.float32)


def tones(midis, **kw) -> np.ndarray:
    return np.stack([tone(m, **kw) for m in midis])


@pytest.mark.parametrize("harmonics", [1, 4])
@pytest.mark.parametrize("midi", [48, 57, 69, 83])
def test_known_pitches_within_10_cents(midi, harmonics):
    track = estimate_f0(tone(midi, harmonics=harmonics)[None], SR)
    assert track.f0.shape == track.rms.shape == track.aperiodicity.shape == (1, 29)
    assert np.all(np.isfinite(track.f0))  # every frame of a steady tone is voiced
    cents = 100 * np.abs(hz_to_midi(track.f0) - midi)
    assert cents.max() < 10
    assert np.all(track.aperiodicity < 0.05)
    notes = note_of_clips(tone(midi, harmonics=harmonics)[None], SR)
    assert notes.clean[0] and notes.note[0] == midi
    assert abs(notes.midi[0] - midi) < 0.1


def test_detuned_tone_keeps_its_fraction_and_octave_up_is_plus_12():
    notes = note_of_clips(tones([57.3, 56.7, 69, 81], harmonics=3), SR)
    assert notes.clean.all()  # 30 cents off is still within 50 cents of a note
    np.testing.assert_allclose(notes.midi[:2], [57.3, 56.7], atol=0.1)
    np.testing.assert_array_equal(notes.note[:2], [57, 57])
    assert notes.note[3] - notes.note[2] == 12
    assert notes.spread_cents.max() < 5


def test_noise_silence_and_glides_are_not_clean_and_do_not_warn():
    rng = np.random.default_rng(0)
    noise = (0.3 * rng.standard_normal(8192)).astype(np.float32)
    silent = np.zeros(8192, np.float32)
    t = np.arange(8192) / SR  # a glide from 220 Hz up an octave: voiced, but no steady pitch
    glide = (0.5 * np.sin(2 * np.pi * 220 * (t + t**2 / (2 * t[-1])))).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        track = estimate_f0(np.stack([noise, silent, glide]), SR)
        notes = note_of_clips(np.stack([noise, silent, glide]), SR, track=track)
    assert np.isnan(track.f0[1]).all() and np.all(track.rms[1] == 0)
    assert np.all(track.aperiodicity[1] == 1.0)
    assert np.isnan(track.f0[0]).mean() > 0.8
    assert not notes.clean.any()
    assert np.isnan(notes.midi[1]) and notes.note[1] == -1
    assert notes.spread_cents[2] > 200


def test_short_clips_are_padded_to_one_frame():
    track = estimate_f0(tone(69, length=700)[None], SR)
    assert track.f0.shape == (1, 1)
    assert abs(hz_to_midi(track.f0[0, 0]) - 69) < 0.1


def test_bad_inputs():
    with pytest.raises(PitchError, match="frame_length"):
        estimate_f0(np.zeros((1, 4096)), SR, fmin=20.0)
    with pytest.raises(PitchError, match=r"\[N, T\]"):
        estimate_f0(np.zeros((1, 2, 4096)), SR)
    with pytest.raises(PitchError, match="NaN"):
        estimate_f0(np.full((1, 4096), np.nan), SR)


def test_speed():
    waves = synthesize_notes(64, 4096, SR, seed=1)[0]
    estimate_f0(waves[:2], SR)  # warm up the FFT plans
    start = time.perf_counter()
    estimate_f0(waves, SR)
    elapsed = time.perf_counter() - start
    print(f"estimate_f0 on 64 x 4096: {elapsed:.3f} s")
    assert elapsed < 0.5


def test_21_pitches_cover_their_own_reference():
    waves = tones(NOTES_21, harmonics=3)
    ref = PitchReference.from_waves(waves, SR)
    assert ref.notes == NOTES_21 and ref.counts == [1] * 21 and ref.num_clean == 21
    got = pitch_diversity(waves, SR, ref)
    assert got["pitch/clean_fraction"] == 1.0
    assert got["pitch/distinct"] == 21 and got["pitch/num_reference_pitches"] == 21
    assert got["pitch/coverage"] == 1.0
    assert got["pitch/jsd"] == pytest.approx(0.0, abs=1e-12)
    # JSON round trip of the reference.
    again = PitchReference.from_dict(json.loads(json.dumps(ref.to_dict())))
    assert again == ref


def test_collapsed_set_scores_the_analytic_jsd():
    ref = PitchReference.from_waves(tones(NOTES_21, harmonics=3), SR)
    collapsed = tones([69] * 8, harmonics=3)
    got = pitch_diversity(collapsed, SR, ref)
    assert got["pitch/distinct"] == 1 and got["pitch/clean_fraction"] == 1.0
    assert got["pitch/coverage"] == pytest.approx(1 / 21)
    # p = one-hot on A4, q = uniform 1/21 (both with an empty 22nd bin); m = (p + q) / 2 is
    # 11/21 on A4 and 1/42 elsewhere. KL(p||m) = log2(21/11); KL(q||m) = (1/21) log2(1/11) +
    # (20/21) log2(2).
    expected = 0.5 * (np.log2(21 / 11) + np.log2(1 / 11) / 21 + 20 / 21)
    assert got["pitch/jsd"] == pytest.approx(expected, rel=1e-9)
    hist = pitch_histogram(collapsed, SR, ref)
    assert hist["counts"][NOTES_21.index(69)] == 8 and sum(hist["counts"]) == 8
    assert hist["other"] == 0 and hist["num_clips"] == 8
    json.dumps(hist)


def test_clips_outside_the_set_fill_the_other_bin():
    ref = PitchReference.from_waves(tones(NOTES_21, harmonics=3), SR)
    rng = np.random.default_rng(0)
    noise = (0.3 * rng.standard_normal((3, 8192))).astype(np.float32)
    sharp = tones([49], harmonics=3)  # C#3: a clean note, but not one of the set
    waves = np.concatenate([noise, sharp, tones([48], harmonics=3)])
    hist = pitch_histogram(waves, SR, ref)
    assert hist["other"] == 4 and sum(hist["counts"]) == 1
    got = pitch_diversity(waves, SR, ref)
    assert got["pitch/clean_fraction"] == pytest.approx(0.2)
    # p has 4/5 in the "other" bin, which q lacks: only KL(p||m) can reach 1 there.
    assert 0.5 < got["pitch/jsd"] < 1.0
    all_noise = pitch_diversity(noise, SR, ref)
    assert all_noise["pitch/jsd"] == pytest.approx(1.0)  # disjoint supports
    assert all_noise["pitch/distinct"] == 0
    with pytest.raises(PitchError, match="no notes"):
        pitch_diversity(noise, SR, PitchReference.from_waves(noise, SR))


def synthetic_midi(size: int, seed: int) -> np.ndarray:
    """The MIDI note of each synthetic clip, re-drawn as wavegen.data.synthetic draws it."""
    rng = np.random.default_rng(seed)
    names = sorted(PITCH_CLASSES)
    label = rng.integers(0, len(names), size)
    octave = rng.choice(OCTAVES, size)
    return 12 * (octave + 1) + np.array([PITCH_CLASSES[n] for n in names])[label]


@pytest.mark.parametrize("length", [4096, 16384])
def test_synthetic_set_is_clean_and_correct(length):
    waves, labels, names = synthesize_notes(64, length, SR, seed=3)
    midi = synthetic_midi(64, seed=3)
    # The re-drawn notes agree with the module's labels (pitch class of each clip).
    assert [names[i] for i in labels] == [
        {v: k for k, v in PITCH_CLASSES.items()}[m % 12] for m in midi
    ]
    notes = note_of_clips(waves, SR)
    assert notes.clean.mean() >= 0.95
    ok = notes.clean
    np.testing.assert_array_equal(notes.note[ok], midi[ok])
    assert np.max(np.abs(notes.midi[ok] - midi[ok])) < 0.1


def test_reconstruction_pitch_and_loudness_metrics():
    ref = tones([57, 60, 69], harmonics=3)
    est = tones([57.3, 72, 69], harmonics=3)
    est[2] = 0.0  # nothing voiced to compare
    err = f0_error_cents(ref, est, SR)
    assert err[0] == pytest.approx(30, abs=2)
    assert err[1] == pytest.approx(1200, abs=5)
    assert np.isnan(err[2])
    assert fraction_within_cents(err, 50) == pytest.approx(1 / 3)
    assert fraction_within_cents(np.array([10.0, 49.0, 51.0, np.nan]), 50) == 0.5
    # Loudness: an exponential fade-in is a straight line in dB, so the same fade at another
    # gain and pitch correlates at +1 and the reversed fade (a fade-out) at -1.
    env = np.geomspace(0.01, 1.0, 8192).astype(np.float32)
    a = tone(60, harmonics=3) * env
    b = 0.3 * tone(64, harmonics=3) * env
    c = tone(60, harmonics=3) * env[::-1]
    corr = loudness_correlation(np.stack([a, a]), np.stack([b, c]), SR)
    assert corr[0] == pytest.approx(1.0, abs=1e-3)
    assert corr[1] == pytest.approx(-1.0, abs=1e-3)
