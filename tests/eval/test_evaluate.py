"""evaluate / evaluate_real on small synthetic sets: every metric finite, clear errors."""

import json
import math

import numpy as np
import pytest
import soundfile as sf

from wavegen.data import build_dataset
from wavegen.defaults import data_config
from wavegen.eval.classifier import fit_classifier
from wavegen.eval.evaluate import (
    METRIC_KEYS,
    EvalError,
    conditional_accuracy,
    evaluate,
    evaluate_real,
)
from wavegen.eval.ndb import kmeans, log_spectrogram_features

RATE, LENGTH = 16000, 4096


def _cfg(seed: int = 0, size: int = 160):
    cfg = data_config()
    cfg.source = "synthetic"
    cfg.sample_rate = RATE
    cfg.length = LENGTH
    cfg.synthetic_size = size
    cfg.synthetic_seed = seed
    return cfg


@pytest.fixture(scope="module")
def setup():
    train = build_dataset(_cfg(), split="train", progress=False)
    test = build_dataset(_cfg(), split="test", progress=False)
    # Accuracy is irrelevant here; the metrics only need a working feature extractor.
    clf, _ = fit_classifier(
        train, test, epochs=2, batch_size=16, channels=(4, 4, 8, 8), feature_dim=16,
        frames=16, progress=False,
    )  # fmt: skip
    return clf, train, test


def _write_clips(folder, waves, rate=RATE):
    folder.mkdir(parents=True, exist_ok=True)
    for i, clip in enumerate(waves):
        sf.write(folder / f"clip_{i:03d}.wav", clip, rate, subtype="FLOAT")
    return folder


def _finite_leaves(result: dict) -> list[float]:
    out = []
    for key in METRIC_KEYS:
        value = result[key]
        out.extend(value.values() if isinstance(value, dict) else [value])
    return [float(v) for v in out]


def inception_score_of(probs: np.ndarray, splits: int = 10) -> tuple[float, float]:
    """IS = exp(E_x KL(p(y|x) || p(y))) of each contiguous part (np.array_split), mean and
    population std over the parts."""
    scores = []
    for part in np.array_split(np.asarray(probs, np.float64), splits):
        marginal = part.mean(axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            kl = np.where(part > 0, part * np.log(part / marginal), 0.0).sum(axis=1)
        scores.append(np.exp(kl.mean()))
    return float(np.mean(scores)), float(np.std(scores))


def frechet_of(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance of Gaussians fitted to two feature sets: ||mu_a - mu_b||² +
    Tr(S_a + S_b) - 2 Σ sqrt(eig(S_a S_b)) (a product of two PSD matrices has real non-negative
    eigenvalues, so no matrix square root is needed)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    sa, sb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = np.sqrt(np.clip(np.linalg.eigvals(sa @ sb).real, 0.0, None)).sum()
    return float(np.sum((a.mean(0) - b.mean(0)) ** 2) + np.trace(sa + sb) - 2.0 * root)


def ndb_of(real_waves: np.ndarray, gen_waves: np.ndarray, k: int, seed: int) -> int:
    """NDB from its definition: bins = k-means (the module's, seeded; tested in test_ndb.py)
    of the z-scored real log-mels; each generated clip goes to its nearest centroid; a bin
    differs when the pooled two-proportion z-test rejects at alpha = 0.05 (|z| > 1.95996)."""
    real = log_spectrogram_features(real_waves, RATE).astype(np.float64)
    gen = log_spectrogram_features(gen_waves, RATE).astype(np.float64)
    mean, std = real.mean(0), real.std(0)
    std = np.where(std > 0, std, 1.0)
    real, gen = (real - mean) / std, (gen - mean) / std
    centroids, real_labels = kmeans(real, k, seed=seed)
    gen_labels = np.argmin(((gen[:, None, :] - centroids[None]) ** 2).sum(-1), axis=1)
    p_real = np.bincount(real_labels, minlength=k) / len(real)
    p_gen = np.bincount(gen_labels, minlength=k) / len(gen)
    pooled = (p_real * len(real) + p_gen * len(gen)) / (len(real) + len(gen))
    se = np.sqrt(pooled * (1 - pooled) * (1 / len(real) + 1 / len(gen)))
    z = np.divide(p_real - p_gen, se, out=np.zeros(k), where=se > 0)
    return int(np.sum(np.abs(z) > 1.959963984540054))


def test_folder_of_wavs_gets_every_metric(setup, tmp_path):
    clf, train, test = setup
    # "Generated" clips: another seed of the same synthetic process, one shorter than LENGTH.
    fake = build_dataset(_cfg(seed=7, size=24), split="all", progress=False).waveforms
    folder = _write_clips(tmp_path / "gen", fake)
    sf.write(folder / "clip_short.wav", fake[0, :1000], RATE, subtype="FLOAT")
    result = evaluate(folder, clf, reference_train=train, reference_test=test, seed=3, ndb_k=10)
    values = _finite_leaves(result)
    assert all(math.isfinite(v) for v in values)
    assert result["num_samples"] == 25 and result["seed"] == 3
    assert result["inception_score"]["n"] == 25 and result["inception_score"]["num_splits"] == 10

    # The clips as the folder holds them (sorted names: clip_000..clip_023, clip_short), the
    # short one zero-padded to the classifier's length, shuffled with the evaluation's seed.
    waves = np.zeros((25, clf.length), np.float32)
    waves[:24] = fake[:, : clf.length]
    waves[24, :1000] = fake[0, :1000]
    order = np.random.default_rng(3).permutation(25)
    # The 2-epoch classifier is barely confident (IS ~ 1 + 5e-5): compare IS - 1, the part
    # that depends on the predictions.
    is_mean, is_std = inception_score_of(clf.predict_proba(waves[order]))
    assert result["inception_score"]["mean"] - 1 == pytest.approx(is_mean - 1, rel=1e-4)
    assert result["inception_score"]["std"] == pytest.approx(is_std, rel=1e-4)

    train_waves = np.asarray(train.waveforms, np.float32)[:, : clf.length]
    feats, train_feats = clf.features(waves), clf.features(train_waves)
    fd = frechet_of(feats, train_feats)
    assert result["frechet_distance"] == pytest.approx(fd, rel=1e-3)
    test_feats = clf.features(np.asarray(test.waveforms, np.float32)[:, : clf.length])
    assert result["frechet_distance_test"] == pytest.approx(frechet_of(feats, test_feats), rel=1e-3)

    # Another draw of the training distribution: no bin differs here (largest |z| 1.79).
    assert (result["ndb"]["ndb"], result["ndb"]["k"]) == (ndb_of(train_waves, waves, 10, 3), 10)
    assert result["ndb"]["ndb_k"] == result["ndb"]["ndb"] / 10
    assert result["ndb"]["n_reference"] == len(train.waveforms)
    assert result["nn_n"] == 25 and result["nn_reference_n"] == len(train.waveforms)
    assert result["nn_self"] > 0 and result["nn_train"] > 0
    assert math.isfinite(result["frechet_distance_test"])
    assert sum(result["predicted_class_counts"].values()) == 25
    assert result["source_kind"] == "audio_folder" and result["name"] == "gen"
    written = json.loads((folder / "eval.json").read_text())
    assert written["frechet_distance"] == pytest.approx(fd, rel=1e-3)
    assert written == json.loads(json.dumps({k: v for k, v in result.items() if k != "output"}))


def test_mode_collapsed_folder_has_is_1_and_the_ndb_of_its_definition(setup, tmp_path):
    clf, train, _ = setup
    one = np.asarray(train.waveforms[0], np.float32)
    folder = _write_clips(tmp_path / "collapsed", np.stack([one] * 20))
    result = evaluate(folder, clf, reference_train=train, seed=0, ndb_k=10)
    # Every prediction is the same: each split's marginal is that prediction, so KL = 0.
    assert result["inception_score"]["mean"] == pytest.approx(1.0, abs=1e-7)
    assert result["inception_score"]["std"] == pytest.approx(0.0, abs=1e-7)
    assert result["predicted_class_max_share_ratio"] == len(clf.label_names)
    # All 20 clips in one bin: that bin differs, and so does a bin holding enough real clips
    # (here 2: z = -8.13 and 2.26).
    train_waves = np.asarray(train.waveforms, np.float32)[:, : clf.length]
    expected = ndb_of(train_waves, np.stack([one[: clf.length]] * 20), 10, 0)
    assert expected >= 1
    assert (result["ndb"]["ndb"], result["ndb"]["ndb_k"]) == (expected, expected / 10)
    # Identical clips: |D|self is exactly 0, in both feature spaces.
    assert result["nn_self"] == 0.0
    assert result["nn_self_classifier"] == pytest.approx(0.0, abs=1e-5)


def test_real_train_is_its_own_nearest_neighbour(setup):
    clf, train, test = setup
    result = evaluate_real(train, clf, reference_train=train, ndb_k=10, name="Real (train)")
    # Every clip is in the reference: |D|train and FD vanish, NDB finds no differing bin.
    assert result["nn_train"] == pytest.approx(0.0, abs=1e-2 * result["nn_self"])
    assert result["frechet_distance"] == pytest.approx(0.0, abs=1e-3)
    assert result["ndb"]["ndb"] == 0
    held_out = evaluate_real(test, clf, reference_train=train, ndb_k=10, name="Real (test)")
    assert held_out["nn_train"] > 0.05 * held_out["nn_self"]
    assert held_out["num_samples"] == 16 and held_out["name"] == "Real (test)"


def test_run_directory_generates_the_requested_clips(setup, tmp_path, monkeypatch):
    from wavegen.inference import generate
    from wavegen.train import runs

    clf, train, _ = setup
    workdir = tmp_path / "run"
    workdir.mkdir()
    (workdir / "config.json").write_text("{}")
    fake = build_dataset(_cfg(seed=5, size=40), split="all", progress=False).waveforms
    calls = {}

    class Task:
        class config:  # noqa: N801  (mimics task.config.data.sample_rate)
            class data:  # noqa: N801
                sample_rate = RATE

            class model:  # noqa: N801
                num_classes = 0

    def load_run(path, step=None):
        calls["load"] = (path, step)
        return Task, "state", 1200

    def generate_audio(task, state, num, *, seed=0):
        calls["generate"] = (num, seed)
        return fake[:num]

    monkeypatch.setattr(runs, "load_run", load_run)
    monkeypatch.setattr(generate, "generate_audio", generate_audio)
    result = evaluate(workdir, clf, reference_train=train, num_samples=30, seed=4, ndb_k=10)
    assert calls == {"load": (workdir, None), "generate": (30, 4)}
    assert result["step"] == 1200 and result["num_samples"] == 30
    assert result["source_kind"] == "run" and result["num_silent"] == 0
    assert json.loads((workdir / "eval.json").read_text())["step"] == 1200


def test_wrong_rate_is_an_error_unless_resampling(setup, tmp_path):
    clf, train, _ = setup
    fake = build_dataset(_cfg(seed=9, size=12), split="all", progress=False).waveforms
    folder = _write_clips(tmp_path / "gen", fake)
    sf.write(folder / "odd_rate.wav", fake[0, :2048], 8000, subtype="FLOAT")
    with pytest.raises(EvalError, match=r"odd_rate\.wav \(8000 Hz\).*resample"):
        evaluate(folder, clf, reference_train=train, ndb_k=10)
    result = evaluate(folder, clf, reference_train=train, ndb_k=10, resample=True)
    assert result["num_samples"] == 13


def test_empty_folder_and_silent_clips_are_errors(setup, tmp_path):
    clf, train, _ = setup
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("not audio")
    with pytest.raises(EvalError, match="empty contains no audio files"):
        evaluate(empty, clf, reference_train=train)
    fake = build_dataset(_cfg(seed=9, size=12), split="all", progress=False).waveforms
    folder = _write_clips(tmp_path / "gen", fake)
    sf.write(folder / "quiet.wav", np.zeros(LENGTH, np.float32), RATE)
    with pytest.raises(EvalError, match=r"1 of 13 files are silent.*quiet\.wav"):
        evaluate(folder, clf, reference_train=train)
    with pytest.raises(EvalError, match="does not exist"):
        evaluate(tmp_path / "missing", clf, reference_train=train)


def test_too_few_clips_for_inception_splits(setup, tmp_path):
    clf, train, _ = setup
    fake = build_dataset(_cfg(seed=9, size=5), split="all", progress=False).waveforms
    with pytest.raises(EvalError, match="at least 10 clips"):
        evaluate(_write_clips(tmp_path / "few", fake), clf, reference_train=train)


def test_conditional_accuracy_counts_clips_heard_as_the_requested_label():
    names = ["zero", "one", "two"]
    probs = np.array(
        [[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.6, 0.3, 0.1], [0.1, 0.1, 0.8], [0.3, 0.3, 0.4]]
    )
    requested = ["zero", "one", "one", "two", "zero"]
    # Hand count: clip 0 hit, 1 hit, 2 miss (heard "zero"), 3 hit, 4 miss (heard "two").
    result = conditional_accuracy(probs, requested, names)
    assert result["accuracy"] == pytest.approx(3 / 5)
    assert result["per_class"] == pytest.approx({"zero": 0.5, "one": 0.5, "two": 1.0})
    assert result["n"] == 5
    with pytest.raises(EvalError, match="seven"):
        conditional_accuracy(probs[:1], ["seven"], names)


def test_distances_and_metadata_are_what_ran(setup, monkeypatch):
    """|D| on reference log-mels (classifier space as extra keys), KID's 100 subsets, NDB's α."""
    import functools
    import importlib

    from wavegen.eval.ndb import ndb_score
    from wavegen.eval.similarity import similarity_features

    clf, train, _ = setup
    # The module (wavegen.eval re-exports a function of the same name).
    evaluate_module = importlib.import_module("wavegen.eval.evaluate")
    # NDB's alpha is whatever ndb_score ran with, not a constant of the evaluation.
    monkeypatch.setattr(evaluate_module, "ndb_score", functools.partial(ndb_score, alpha=0.01))
    result = evaluate_real(train, clf, reference_train=train, ndb_k=10)
    assert result["ndb"]["alpha"] == 0.01 and result["ndb"]["k"] == 10
    assert result["kernel_distance"]["num_subsets"] == 100
    # Every clip is in the reference: the log-mel |D|train is exactly 0, the classifier's ~0.
    assert result["nn_train"] == 0.0 and result["nn_train_std"] == 0.0
    assert result["nn_train_classifier"] == pytest.approx(0.0, abs=1e-2)
    assert result["nn_self_classifier"] > 0
    # |D|self: brute-force nearest other clip on the reference features of the same clips.
    feats = similarity_features(train.waveforms, RATE).astype(np.float64)
    dist = np.sqrt(((feats[:, None, :] - feats[None, :, :]) ** 2).sum(-1))
    np.fill_diagonal(dist, np.inf)
    assert result["nn_self"] == pytest.approx(dist.min(axis=1).mean(), rel=1e-6)
    assert result["nn_self_std"] == pytest.approx(dist.min(axis=1).std(), rel=1e-5)
    meta = result["nn_features"]
    assert (meta["frame_length"], meta["frame_step"], meta["n_mels"]) == (2048, 128, 128)
    assert meta["dims"] == feats.shape[1] == 32 * 128  # 4096 samples / hop 128
