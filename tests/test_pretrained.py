"""The committed generators under pretrained/: each generates on a fresh clone, no training.

Each folder is what `wavegen publish` wrote (config.json, generator.npz, meta.json). The test
runs `wavegen generate` on it as a user would, and scores the quickstart generator with the
pitch monitor against the numbers docs/results.md states for it.
"""

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from wavegen import cli
from wavegen.data import build_dataset
from wavegen.eval.pitch import PitchReference, pitch_diversity
from wavegen.inference.generate import generate_audio
from wavegen.train.runs import load_run

PRETRAINED = Path(__file__).resolve().parents[1] / "pretrained"
MODELS = sorted(p.name for p in PRETRAINED.iterdir() if (p / "meta.json").is_file())


def test_the_budget_holds():
    total = sum(f.stat().st_size for f in PRETRAINED.rglob("*") if f.is_file())
    assert total <= 20 * 2**20, f"pretrained/ holds {total / 2**20:.1f} MB > 20 MB"
    assert MODELS, "no pretrained generators committed"


@pytest.mark.parametrize("name", MODELS)
def test_generate_from_a_pretrained_folder(name, tmp_path):
    folder = PRETRAINED / name
    config = json.loads((folder / "config.json").read_text())
    argv = ["generate", "--workdir", str(folder), "--num", "3", "--out", str(tmp_path)]
    if config["model"]["num_classes"] > 0:
        argv += ["--label", "1"]
    assert cli.main(argv) == 0
    wavs = sorted(tmp_path.glob("*.wav"))
    assert len(wavs) == 3
    for w in wavs:
        audio, sr = sf.read(w)
        assert sr == config["data"]["sample_rate"] and len(audio) == config["data"]["length"]
        assert np.abs(audio).max() > 0.01  # not silence


PITCHED = [m for m in MODELS if "pitch" in json.loads((PRETRAINED / m / "meta.json").read_text())]


@pytest.mark.skipif(not PITCHED, reason="no pretrained generator documents pitch scores")
@pytest.mark.parametrize("name", PITCHED)
def test_pretrained_pitched_models_meet_their_documented_pitch_numbers(name):
    """Regenerates the documented clips (tools/score_pitch.py's) and scores them with the pitch
    monitor against the reference notes the documented numbers were scored against."""
    task, state, _ = load_run(PRETRAINED / name)
    claims = json.loads((PRETRAINED / name / "meta.json").read_text())["pitch"]
    if "reference" in claims:  # stored with the claims: no data set needed
        reference = PitchReference.from_dict(claims["reference"])
    else:  # the built-in set: rebuilt from its definition
        data = build_dataset(task.config.data, split="train", progress=False)
        reference = PitchReference.from_waves(data.waveforms, data.sample_rate)
    clips = generate_audio(task, state, claims["num_clips"], seed=claims["seed"])
    got = pitch_diversity(clips, reference.sample_rate, reference)
    n = claims["num_clips"]
    # The same weights, latents and labels give the same clips, so the documented numbers hold;
    # XLA's float rounding differs between CPU types, which can tip a borderline clip across the
    # clean-note thresholds: allow 3% of the clips (at least two) and one pitch either way.
    assert got["pitch/clean_fraction"] == pytest.approx(
        claims["clean_fraction"], abs=max(2, 0.03 * n) / n
    )
    assert abs(got["pitch/distinct"] - claims["distinct"]) <= 1
    if name == "quickstart":  # issue 16's targets for the README's main job
        assert got["pitch/clean_fraction"] >= 0.8 and got["pitch/distinct"] >= 15


CLASSIFIED = [
    m for m in MODELS if "classes" in json.loads((PRETRAINED / m / "meta.json").read_text())
]


@pytest.mark.skipif(not CLASSIFIED, reason="no pretrained generator documents classifier scores")
@pytest.mark.parametrize("name", CLASSIFIED)
def test_pretrained_digit_models_meet_their_documented_classifier_numbers(name):
    """Regenerates the documented clips and scores them with the committed evaluation
    classifier (pretrained/clf_fsdd, the one docs/results.md scores with)."""
    import sys

    sys.path.insert(0, str(PRETRAINED.parent / "tools"))
    from score_classes import score

    claims = json.loads((PRETRAINED / name / "meta.json").read_text())["classes"]
    got = score(
        str(PRETRAINED / name), str(PRETRAINED / "clf_fsdd"), claims["num_clips"], claims["seed"]
    )
    n = claims["num_clips"]
    # Same weights, latents and labels → the same clips up to XLA's CPU-type rounding, which can
    # flip a borderline clip's predicted digit: allow 2% of the clips either way.
    for digit, count in claims["histogram"].items():
        assert abs(got["histogram"][digit] - count) <= max(2, 0.02 * n), digit
    if claims["accuracy"] is not None:
        assert got["accuracy"] == pytest.approx(claims["accuracy"], abs=0.02)
    assert got["entropy_bits"] == pytest.approx(claims["entropy_bits"], abs=0.05)


@pytest.mark.skipif("vae_notes" not in MODELS, reason="pretrained/vae_notes is not committed")
def test_pretrained_vae_reconstructs_the_pitch_of_synthetic_notes():
    """The notes VAE on clips it never saw (the built-in synthetic set: other timbres, known
    notes C3..B5): reconstructions are within 50 cents of the note they were made from
    (measured: 24 of 24; the bound leaves room for CPU-type rounding near a threshold)."""
    from wavegen.data.synthetic import OCTAVES, PITCH_CLASSES
    from wavegen.defaults import base_config
    from wavegen.eval.pitch import note_of_clips
    from wavegen.train import runs

    task, state, _ = runs.load_vae_run(PRETRAINED / "vae_notes")
    data_cfg = base_config().data
    data_cfg.update(dict(sample_rate=16000, length=16384, synthetic_labels="note"))
    test = build_dataset(data_cfg, split="test", progress=False)
    x = np.asarray(test.waveforms[:24], np.float32)
    midi = {
        f"{n}{o}": 12 * (o + 1) + pc for n, pc in PITCH_CLASSES.items() for o in OCTAVES
    }  # C4 = 60
    truth = np.array([midi[test.label_names[i]] for i in test.labels[:24]], np.float64)
    y = runs.reconstruct(task, state, x)
    got = note_of_clips(y, 16000, fmin=40.0, fmax=2200.0).midi  # median f0 of voiced frames
    cents = 100 * np.abs(got - truth)
    assert np.mean(cents <= 50) >= 0.9, np.round(cents)


@pytest.mark.skipif("vae_notes" not in MODELS, reason="pretrained/vae_notes is not committed")
def test_vae_reconstruct_command_works_on_the_pretrained_folder(tmp_path):
    t = np.arange(12000) / 16000  # any length: padded to whole latent frames and cut back
    sf.write(tmp_path / "in.wav", 0.3 * np.sin(2 * np.pi * 330.0 * t), 16000)
    argv = ["vae", "reconstruct", "--workdir", str(PRETRAINED / "vae_notes")]
    assert cli.main([*argv, str(tmp_path / "in.wav"), str(tmp_path / "out.wav")]) == 0
    out, sr = sf.read(tmp_path / "out.wav")
    assert sr == 16000 and len(out) == len(t)
    spec = np.abs(np.fft.rfft(out * np.hanning(len(out))))
    peak = np.fft.rfftfreq(len(out), 1 / sr)[np.argmax(spec)]
    assert abs(peak - 330.0) < 3.0  # the tone comes back at its own pitch
