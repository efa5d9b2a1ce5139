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
from wavegen.train.generate import generate_audio, load_run

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


@pytest.mark.skipif("quickstart" not in MODELS, reason="pretrained/quickstart is not committed")
def test_pretrained_quickstart_meets_its_documented_pitch_numbers():
    task, state, _ = load_run(PRETRAINED / "quickstart")
    claims = json.loads((PRETRAINED / "quickstart" / "meta.json").read_text())["pitch"]
    data = build_dataset(task.config.data, split="train", progress=False)
    reference = PitchReference.from_waves(data.waveforms, data.sample_rate)
    clips = generate_audio(task, state, claims["num_clips"], seed=claims["seed"])
    got = pitch_diversity(clips, data.sample_rate, reference)
    # The same weights, latents and labels give the same clips, so the documented numbers hold;
    # XLA's float rounding differs between CPU types, which can tip a borderline clip across the
    # clean-note thresholds: allow two clips and one pitch either way, and the targets.
    assert got["pitch/clean_fraction"] == pytest.approx(claims["clean_fraction"], abs=2 / 64)
    assert abs(got["pitch/distinct"] - claims["distinct"]) <= 1
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
