"""The built-in synthetic set: deterministic, disjoint splits, labels that match the audio."""

import numpy as np
import pytest

from wavegen.data import AudioDataError, build_dataset
from wavegen.data.synthetic import PITCH_CLASSES
from wavegen.defaults import data_config


def synth_cfg(**overrides):
    cfg = data_config()
    cfg.synthetic_size = 40
    cfg.length = 4096
    for k, v in overrides.items():
        cfg[k] = v
    return cfg


def test_shapes_range_and_determinism():
    a = build_dataset(synth_cfg(), "all", progress=False)
    b = build_dataset(synth_cfg(), "all", progress=False)
    assert a.waveforms.shape == (40, 4096) and a.waveforms.dtype == np.float32
    assert a.labels.dtype == np.int32 and len(a) == 40
    assert np.abs(a.waveforms).max() <= 1.0
    np.testing.assert_array_equal(a.waveforms, b.waveforms)
    np.testing.assert_array_equal(a.labels, b.labels)
    c = build_dataset(synth_cfg(synthetic_seed=1), "all", progress=False)
    assert not np.allclose(a.waveforms, c.waveforms)
    assert a.sources[3] == "synthetic:3" and a.skipped == []


def test_splits_are_disjoint_every_tenth_clip_is_test():
    train = build_dataset(synth_cfg(), "train", progress=False)
    test = build_dataset(synth_cfg(), "test", progress=False)
    everything = build_dataset(synth_cfg(), "all", progress=False)
    ids = lambda ds: {int(s.split(":")[1]) for s in ds.sources}  # noqa: E731
    assert ids(test) == set(range(0, 40, 10))
    assert ids(train) | ids(test) == set(range(40)) and not ids(train) & ids(test)
    # A clip is the same whichever split it is taken from.
    np.testing.assert_array_equal(test.waveforms[1], everything.waveforms[10])
    assert train.label_names == test.label_names


def test_label_is_the_pitch_class_of_the_spectral_peak():
    ds = build_dataset(synth_cfg(length=16384, sample_rate=16000), "all", progress=False)
    assert ds.label_names == sorted(PITCH_CLASSES) and len(ds.label_names) <= 12
    for x, label in zip(ds.waveforms, ds.labels, strict=True):
        spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
        peak_hz = np.argmax(spectrum) * 16000 / len(x)
        # The fundamental is the loudest partial (harmonic k has gain k**-rolloff < 1).
        semitone = round(12 * np.log2(peak_hz / 440.0)) % 12  # 0 = A
        expected = (PITCH_CLASSES[ds.label_names[label]] - 9) % 12
        assert semitone == expected, (peak_hz, ds.label_names[label])


def test_peak_normalisation_applies():
    ds = build_dataset(synth_cfg(normalize="peak"), "all", progress=False)
    np.testing.assert_allclose(np.abs(ds.waveforms).max(axis=1), 0.99, atol=1e-5)


def test_bad_split_and_size_are_named():
    with pytest.raises(AudioDataError, match="split"):
        build_dataset(synth_cfg(), "valid", progress=False)
    with pytest.raises(AudioDataError, match="synthetic_size"):
        build_dataset(synth_cfg(synthetic_size=0), "all", progress=False)


def test_note_labels_name_each_clips_pitch_class_and_octave():
    from wavegen.data.synthetic import OCTAVES, PITCH_CLASSES, synthesize_notes

    waves_pc, pc, pc_names = synthesize_notes(200, 4096, 16000, 0)
    waves_n, notes, note_names = synthesize_notes(200, 4096, 16000, 0, labels="note")
    np.testing.assert_array_equal(waves_pc, waves_n)  # the same clips either way
    assert len(note_names) == len(PITCH_CLASSES) * len(OCTAVES) == 21
    assert len(set(note_names)) == 21
    for i in range(200):
        name = note_names[notes[i]]
        assert name[:-1] == pc_names[pc[i]] and int(name[-1]) in OCTAVES
        # The clip's fundamental (FFT peak of the first harmonic region) is that note's f0.
        midi = 12 * (int(name[-1]) + 1) + PITCH_CLASSES[name[:-1]]
        f0 = 440.0 * 2 ** ((midi - 69) / 12)
        spec = np.abs(np.fft.rfft(waves_n[i] * np.hanning(4096)))
        peak = np.argmax(spec[int(0.8 * f0 * 4096 / 16000) : int(1.2 * f0 * 4096 / 16000)])
        got = (peak + int(0.8 * f0 * 4096 / 16000)) * 16000 / 4096
        assert abs(got - f0) <= 16000 / 4096, (name, got, f0)


def test_unknown_labelling_is_an_error():
    from wavegen.data.errors import AudioDataError
    from wavegen.data.synthetic import synthesize_notes

    with pytest.raises(AudioDataError, match="synthetic_labels"):
        synthesize_notes(4, 1024, 16000, 0, labels="octave")
