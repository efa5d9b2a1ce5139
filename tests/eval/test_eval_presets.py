"""`wavegen eval` knows every data preset: NSynth's layout builds its reference splits."""

import argparse
import json

import numpy as np
import soundfile as sf

from wavegen.cli.eval import add_eval_parser, preset_data_config
from wavegen.data import build_dataset
from wavegen.data.presets import CLIP_FORMATS, PRESETS


def _nsynth(root):
    """Two train notes and one test note in NSynth's folders, labelled by examples.json."""
    for split, notes in (
        ("train", ["guitar_acoustic_000-060-100", "bass_synthetic_001-040-050"]),
        ("test", ["guitar_acoustic_002-061-075"]),
    ):
        folder = root / f"nsynth-{split}"
        (folder / "audio").mkdir(parents=True)
        meta = {}
        for note in notes:
            pitch = int(note.split("-")[1])
            hz = 440.0 * 2 ** ((pitch - 69) / 12)
            # NSynth notes are 4 s at 16 kHz.
            sf.write(folder / "audio" / f"{note}.wav", 0.5 * np.sin(2 * np.pi * hz *
                     np.arange(64000) / 16000), 16000)  # fmt: skip
            meta[note] = {"pitch": pitch, "instrument_family_str": note.split("_")[0]}
        (folder / "examples.json").write_text(json.dumps(meta))


def test_every_data_preset_is_an_eval_preset():
    assert set(PRESETS) <= set(CLIP_FORMATS)


def test_nsynth_preset_builds_train_and_test_references(tmp_path):
    _nsynth(tmp_path / "nsynth")
    cfg = preset_data_config("nsynth", str(tmp_path / "nsynth"), cache_dir=str(tmp_path / "c"))
    assert (cfg.source, cfg.sample_rate, cfg.length) == ("nsynth", 16000, 16384)
    train = build_dataset(cfg, "train", progress=False)
    test = build_dataset(cfg, "test", progress=False)
    assert train.waveforms.shape == (2, 16384) and test.waveforms.shape == (1, 16384)
    assert [test.label_names[i] for i in test.labels] == ["61"]  # NSynth's pitch field
    parser = argparse.ArgumentParser()
    add_eval_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(
        ["eval", "real", "--split", "test", "--classifier", "clf", "--data", "d",
         "--preset", "nsynth", "--out", "o.json"]
    )  # fmt: skip
    assert args.preset == "nsynth"
