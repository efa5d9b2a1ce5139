"""Training-time diversity monitors, the class-histogram statistics and the eval pitch section."""

import dataclasses
import json

import ml_collections
import numpy as np
import pytest

from wavegen.config import ConfigError
from wavegen.data.synthetic import synthesize_notes
from wavegen.eval.classifier import save_classifier, train_classifier
from wavegen.eval.evaluate import ReferenceFeatures, class_distribution, score_clips
from wavegen.eval.monitors import (
    ClassifierMonitor,
    PitchMonitor,
    build_monitors,
    class_histogram_stats,
)
from wavegen.eval.pitch import PitchReference

SR = 16000
TINY = dict(channels=(4, 4, 8, 8), feature_dim=16, frames=16, max_shift_frames=2)


@dataclasses.dataclass
class FakeDataset:
    waveforms: np.ndarray
    labels: np.ndarray
    label_names: list
    sample_rate: int = SR
    sources: list = dataclasses.field(default_factory=list)


def synthetic(size: int, length: int = 4096, seed: int = 0) -> FakeDataset:
    waves, labels, names = synthesize_notes(size, length, SR, seed)
    return FakeDataset(waves, labels, names, SR, [f"synthetic:{i}" for i in range(size)])


def test_class_histogram_statistics_by_hand():
    # Uniform over 4 classes: 2 bits, largest share = 1/K.
    assert class_distribution([4, 4, 4, 4]) == pytest.approx((2.0, 1.0))
    # Collapsed: 0 bits, share 1 = K times the uniform share.
    assert class_distribution([0, 16, 0, 0]) == pytest.approx((0.0, 4.0))
    # Shares 1/2, 1/4, 1/4, 0: H = 1/2 + 2 * (1/4 * 2) = 1.5 bits; 0.5 / 0.25 = 2.
    assert class_distribution([2, 1, 1, 0]) == pytest.approx((1.5, 2.0))
    assert class_distribution([0, 0]) == (0.0, 0.0)
    stats = class_histogram_stats(np.array([3, 1]))
    # H(3/4, 1/4) = 2 - (3/4) log2 3.
    assert stats["class/entropy"] == pytest.approx(2 - 0.75 * np.log2(3))
    assert stats["class/max_share_ratio"] == pytest.approx(1.5)


def test_pitch_monitor_on_synthetic_clips():
    monitor = PitchMonitor()
    monitor.setup(synthetic(256))
    ref = monitor.reference
    assert set(ref.notes) <= {12 * (o + 1) + p for o in (3, 4, 5) for p in (0, 2, 4, 5, 7, 9, 11)}
    assert len(ref.notes) == 21 and ref.num_clean >= 0.95 * 256
    clips = synthetic(64, seed=7).waveforms
    good = monitor(clips, None)
    assert set(good) == {
        "pitch/clean_fraction",
        "pitch/distinct",
        "pitch/coverage",
        "pitch/jsd",
        "pitch/num_reference_pitches",
    }
    assert all(isinstance(v, float) for v in good.values())
    assert good["pitch/clean_fraction"] >= 0.95 and good["pitch/distinct"] >= 15
    collapsed = monitor(np.repeat(clips[:1], 64, axis=0), None)
    assert collapsed["pitch/distinct"] == 1
    assert collapsed["pitch/jsd"] > good["pitch/jsd"] + 0.3
    # A diverged generator's NaNs count as silence (not clean), not as an error.
    broken = clips.copy()
    broken[:32] = np.nan
    assert monitor(broken, None)["pitch/clean_fraction"] <= 0.5
    # Unpitched training data: the monitor reports nothing rather than failing.
    noise = np.random.default_rng(0).standard_normal((16, 4096)).astype(np.float32) * 0.3
    quiet = PitchMonitor()
    quiet.setup(FakeDataset(noise, np.full(16, -1), []))
    assert quiet(clips, None) == {}


@pytest.fixture(scope="module")
def classifier_dir(tmp_path_factory):
    """A tiny (barely trained) classifier on the synthetic pitch classes."""
    from wavegen.defaults import data_config

    cfg = data_config()
    cfg.source, cfg.sample_rate, cfg.length, cfg.synthetic_size = "synthetic", SR, 4096, 80
    out = tmp_path_factory.mktemp("clf") / "tiny"
    train_classifier(cfg, out, epochs=2, batch_size=16, seed=0, progress=False, **TINY)
    return out


def test_classifier_monitor(classifier_dir):
    monitor = ClassifierMonitor(str(classifier_dir))
    clf = monitor.classifier
    # A dataset whose label order differs from the classifier's: labels map through the names.
    data = synthetic(32)
    names = list(reversed(data.label_names))
    relabelled = FakeDataset(
        data.waveforms, np.array([names.index(data.label_names[i]) for i in data.labels]), names
    )
    monitor.setup(relabelled)
    clips = synthetic(24, seed=5)
    labels = np.array([names.index(clips.label_names[i]) for i in clips.labels])
    got = monitor(clips.waveforms[:, :4000], labels)  # shorter clips are zero-padded
    padded = np.pad(clips.waveforms[:, :4000], ((0, 0), (0, 96)))
    pred = clf.predict(padded)
    counts = np.bincount(pred, minlength=len(clf.label_names))
    share = counts / counts.sum()
    nz = share[share > 0]
    assert got["class/entropy"] == pytest.approx(-np.sum(nz * np.log2(nz)))
    assert got["class/max_share_ratio"] == pytest.approx(share.max() * len(share))
    assert 1.0 <= got["class/inception_score"] <= len(share)
    want = [clf.label_names[p] == names[lab] for p, lab in zip(pred, labels, strict=True)]
    assert got["class/accuracy"] == pytest.approx(np.mean(want))
    assert "class/accuracy" not in monitor(clips.waveforms, None)
    with pytest.raises(ConfigError, match="Hz"):
        monitor.setup(dataclasses.replace(relabelled, sample_rate=8000))


def config(source="synthetic", monitor="auto", classifier="", model="wavegan"):
    return ml_collections.ConfigDict(
        dict(
            model=dict(name=model),
            data=dict(source=source),
            train=dict(monitor=monitor, monitor_classifier=classifier, monitor_num=64),
        )
    )


def test_build_monitors(classifier_dir, tmp_path):
    kinds = lambda ms: [type(m).__name__ for m in ms]  # noqa: E731
    assert kinds(build_monitors(config())) == ["PitchMonitor"]
    assert kinds(build_monitors(config("notes"))) == ["PitchMonitor"]
    assert build_monitors(config("notes"))[0].f0_kwargs["fmin"] < 41  # MIDI 28 is 41 Hz
    assert build_monitors(config("fsdd")) == []
    assert build_monitors(config(monitor="none")) == []
    both = build_monitors(config("fsdd", "auto", str(classifier_dir)))
    assert kinds(both) == ["ClassifierMonitor"]
    assert kinds(build_monitors(config("notes", "classifier, pitch", str(classifier_dir)))) == [
        "ClassifierMonitor",
        "PitchMonitor",
    ]
    # An autoencoder's 'auto' is the reconstruction monitor, whatever the data; it makes no
    # generated clips, so the generator monitors are refused (and the converse).
    assert kinds(build_monitors(config("fsdd", model="vae"))) == ["ReconstructionMonitor"]
    assert kinds(build_monitors(config(model="vae"))) == ["ReconstructionMonitor"]
    with pytest.raises(ConfigError, match="model.name='vae' gives no generated clips"):
        build_monitors(config(monitor="pitch", model="vae"))
    with pytest.raises(ConfigError, match="model.name='wavegan' gives no reconstructions"):
        build_monitors(config(monitor="reconstruction"))
    with pytest.raises(ConfigError, match="train.monitor=.*spectral"):
        build_monitors(config(monitor="pitch,spectral"))
    with pytest.raises(ConfigError, match="train.monitor_classifier is empty"):
        build_monitors(config(monitor="classifier"))
    with pytest.raises(ConfigError, match="train.monitor_classifier"):
        build_monitors(config(monitor="classifier", classifier=str(tmp_path / "nowhere")))


def test_defaults_have_the_monitor_keys():
    from wavegen.defaults import base_config

    cfg = base_config()
    if "monitor" not in cfg.train:
        pytest.skip("train.monitor is not in wavegen/defaults.py yet")
    assert cfg.train.monitor == "auto" and cfg.train.monitor_classifier == ""
    assert cfg.train.monitor_num == 64


def test_score_clips_reports_class_collapse_and_pitch(classifier_dir):
    from wavegen.eval.classifier import load_classifier

    clf = load_classifier(classifier_dir)
    real = synthetic(40)
    train = ReferenceFeatures(real, clf, "train")
    ref = PitchReference.from_waves(real.waveforms, SR)
    clips = synthetic(20, seed=9).waveforms
    result = score_clips(clips, clf, train, ndb_k=5, pitch_reference=ref)
    counts = np.array(list(result["predicted_class_counts"].values()))
    entropy, ratio = class_distribution(counts)
    assert result["predicted_class_entropy"] == pytest.approx(entropy)
    assert result["predicted_class_max_share_ratio"] == pytest.approx(ratio)
    pitch = result["pitch"]
    assert pitch["pitch/clean_fraction"] >= 0.9
    assert sum(pitch["histogram"]["counts"]) + pitch["histogram"]["other"] == 20
    assert PitchReference.from_dict(pitch["reference"]) == ref
    json.dumps(result)
    assert "pitch" not in score_clips(clips, clf, train, ndb_k=5)
    # An unpitched reference gives an explanation instead of numbers.
    noise = np.random.default_rng(0).standard_normal((8, 4096)).astype(np.float32) * 0.3
    empty = PitchReference.from_waves(noise, SR)
    assert "error" in score_clips(clips, clf, train, ndb_k=5, pitch_reference=empty)["pitch"]


def test_save_round_trip_keeps_monitor_working(classifier_dir, tmp_path):
    """A copy saved elsewhere loads into an equivalent monitor (the loop may move runs)."""
    first = ClassifierMonitor(str(classifier_dir))
    save_classifier(first.classifier, tmp_path / "copy")
    second = ClassifierMonitor(str(tmp_path / "copy"))
    data = synthetic(16)
    for m in (first, second):
        m.setup(data)
    assert first(data.waveforms, data.labels) == second(data.waveforms, data.labels)
