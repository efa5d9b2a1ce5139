"""The evaluation classifier: front end vs a librosa reference, training, save/load, errors."""

import json
import shutil
import time

import numpy as np
import pytest

from wavegen.audio.stft import mel_filterbank
from wavegen.data import build_dataset
from wavegen.defaults import data_config
from wavegen.eval.classifier import (
    ClassifierError,
    FeatureSettings,
    fit_classifier,
    load_classifier,
    log_mel_features,
    train_classifier,
)

# 17 frames of 512-point FFTs: 4096-sample notes need frequency resolution more than time steps.
TINY = dict(channels=(8, 8, 16, 16), feature_dim=32, frames=16, max_shift_frames=2)


def synthetic_config(size: int = 160, length: int = 4096):
    cfg = data_config()
    cfg.source = "synthetic"
    cfg.sample_rate = 16000
    cfg.length = length
    cfg.synthetic_size = size
    return cfg


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny classifier trained on the synthetic pitch classes (7 classes, chance 1/7)."""
    out = tmp_path_factory.mktemp("clf") / "synthetic"
    metrics = train_classifier(
        synthetic_config(), out, epochs=20, batch_size=16, seed=0, progress=False, **TINY
    )
    return out, metrics


def test_front_end_matches_librosa_reference():
    import librosa

    settings = FeatureSettings.for_clips(8000, 16384)
    # ~65 frames x 64 mels, whatever the rate (see the module docstring).
    assert (settings.hop_length, settings.n_fft, settings.n_mels) == (256, 512, 64)
    assert settings.num_frames == 65
    rng = np.random.default_rng(0)
    t = np.arange(16384) / 8000
    tone, noise = 0.5 * np.sin(2 * np.pi * 440 * t), 0.1 * rng.standard_normal(16384)
    waves = np.stack([tone, noise]).astype(np.float32)
    mel = librosa.feature.melspectrogram(
        y=waves, sr=8000, n_fft=512, hop_length=256, n_mels=64, power=1.0, pad_mode="reflect"
    )  # [N, mels, frames]
    log_mel = np.log(mel + 1e-10).transpose(0, 2, 1)
    rel = np.maximum(log_mel - log_mel.max(axis=(1, 2), keepdims=True), -np.log(1e4))
    expected = 1.0 + 2.0 * rel / np.log(1e4)
    got = np.asarray(log_mel_features(waves, settings, mel_filterbank(8000, 512, 64)))
    assert got.shape == (2, 65, 64)
    # Compare where the reference is above the floor by a margin (float32 vs float64 logs).
    np.testing.assert_allclose(got, expected, atol=2e-3)
    silent = np.asarray(
        log_mel_features(np.zeros((1, 16384), np.float32), settings, mel_filterbank(8000, 512, 64))
    )
    np.testing.assert_array_equal(silent, -1.0)


def test_training_beats_chance_and_metadata_describes_the_data(trained):
    out, metrics = trained
    # 7 pitch classes: chance is 0.14; the held-out split has 16 clips.
    assert metrics["test_accuracy"] >= 0.6
    assert metrics["num_test"] == 16 and metrics["num_train"] == 144
    meta = json.loads((out / "classifier.json").read_text())
    assert meta["label_names"] == ["A", "B", "C", "D", "E", "F", "G"]
    assert meta["features"]["sample_rate"] == 16000 and meta["features"]["length"] == 4096
    assert meta["metrics"]["test_accuracy"] == metrics["test_accuracy"]
    assert meta["data"]["config"]["source"] == "synthetic"
    assert len(meta["data"]["train_fingerprint"]) == 64
    assert meta["wavegen_version"] == "0.1.0"


def test_round_trip_gives_identical_predictions_and_features(trained):
    out, metrics = trained
    test = build_dataset(synthetic_config(), split="test", progress=False)
    a, b = load_classifier(out), load_classifier(out)
    probs = a.predict_proba(test.waveforms)
    np.testing.assert_array_equal(probs, b.predict_proba(test.waveforms))
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-12)
    assert a.accuracy(test.waveforms, test.labels) == pytest.approx(metrics["test_accuracy"])
    feats = a.features(test.waveforms)
    assert feats.shape == (16, 32) and feats.dtype == np.float32
    assert np.all(feats >= 0)  # post-ReLU features
    assert (a.label_names, a.sample_rate, a.length) == (b.label_names, 16000, 4096)


def test_predictions_are_gain_invariant(trained):
    clf = load_classifier(trained[0])
    waves = build_dataset(synthetic_config(), split="test", progress=False).waveforms[:4]
    # -26 dB: only bins near the STFT's absolute magnitude floor (~-70 dBFS) move.
    np.testing.assert_allclose(clf.predict_proba(0.05 * waves), clf.predict_proba(waves), atol=2e-3)


def test_wrong_length_is_rejected(trained):
    clf = load_classifier(trained[0])
    with pytest.raises(ClassifierError, match=r"\[N, 4096\]"):
        clf.predict_proba(np.zeros((2, 4000), np.float32))


def test_missing_and_incompatible_directories(trained, tmp_path):
    with pytest.raises(ClassifierError, match="classifier.json is missing"):
        load_classifier(tmp_path / "nowhere")
    bad = tmp_path / "bad"
    shutil.copytree(trained[0], bad)
    meta = json.loads((bad / "classifier.json").read_text())
    meta["network"]["feature_dim"] = 64  # parameters no longer fit
    (bad / "classifier.json").write_text(json.dumps(meta))
    with pytest.raises(ClassifierError, match=r"does not fit.*\[.dense.\]\[.kernel.\]"):
        load_classifier(bad)
    meta["network"]["feature_dim"] = 32
    meta["format_version"] = 99
    (bad / "classifier.json").write_text(json.dumps(meta))
    with pytest.raises(ClassifierError, match="version 99"):
        load_classifier(bad)
    meta["format_version"] = 1
    (bad / "classifier.json").write_text(json.dumps(meta))
    shutil.rmtree(bad / "params")
    with pytest.raises(ClassifierError, match="params/ is missing"):
        load_classifier(bad)


def test_unlabelled_data_is_rejected():
    class Unlabelled:
        waveforms = np.zeros((4, 4096), np.float32)
        labels = np.full(4, -1, np.int32)
        label_names: list = []
        sample_rate = 16000
        sources = ["a", "b", "c", "d"]

    with pytest.raises(ClassifierError, match="data.label"):
        fit_classifier(Unlabelled(), Unlabelled(), epochs=1, progress=False)


@pytest.mark.slow
@pytest.mark.data
def test_fsdd_classifier_reaches_95_percent(shared_data, tmp_path):
    """The paper's SC09 classifier had 93%; on FSDD's official test split we ask for 95%."""
    from wavegen.cli.eval import preset_data_config

    cfg = preset_data_config("fsdd", str(shared_data / "fsdd" / "recordings"))
    start = time.perf_counter()
    metrics = train_classifier(cfg, tmp_path / "clf", progress=False)
    print(f"FSDD classifier: {metrics} ({time.perf_counter() - start:.0f} s)")
    assert metrics["num_test"] == 300 and metrics["num_train"] == 2700
    assert metrics["test_accuracy"] >= 0.95
