#!/usr/bin/env python3
"""Pitch diversity of N clips from a run's final weights (or a published generator), as JSON.

The quickstart's target is measured with this: of 64 clips from the final checkpoint, the
fraction that are a clean note of the training set's pitches and how many of its pitches they
cover (wavegen.eval.pitch, the same measure the training monitor logs).

    .venv/bin/python tools/score_pitch.py runs/quickstart --num 64
    .venv/bin/python tools/score_pitch.py runs/quickstart --write-meta pretrained/quickstart

Conditional models cycle through their labels (clip i asks for label i mod C); latents come
from ``--seed``. Where the label names are notes (MIDI numbers such as the notes set's "60", or
names such as the built-in set's "C4"), "asked" reports the fraction of clean clips that are the
note asked for, and of octave errors among them. ``--write-meta DIR`` stores the result under
"pitch" in DIR/meta.json (a folder written by `wavegen publish`), where
tests/test_pretrained.py checks it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("workdir", help="run directory or published-generator folder")
    p.add_argument("--num", type=int, default=64, help="clips to generate (default 64)")
    p.add_argument("--seed", type=int, default=0, help="latent seed (default 0)")
    p.add_argument("--step", type=int, default=None, help="checkpoint step (default: latest)")
    p.add_argument("--write-meta", default=None, help="published folder whose meta.json gets it")
    args = p.parse_args(argv)

    from wavegen.data import build_dataset
    from wavegen.data.presets import PITCH_SETTINGS
    from wavegen.eval.pitch import (
        PitchReference,
        note_of_clips,
        pitch_diversity,
        pitch_histogram,
    )
    from wavegen.inference.generate import generate_audio
    from wavegen.train.runs import load_run

    task, state, step = load_run(args.workdir, args.step)
    data = build_dataset(task.config.data, split="train", progress=False)
    # The training monitor's estimator settings for this source (notes reach MIDI 96, 2093 Hz).
    f0_kwargs = PITCH_SETTINGS.get(task.config.data.source, {})
    reference = PitchReference.from_waves(data.waveforms, data.sample_rate, **f0_kwargs)
    clips = generate_audio(task, state, args.num, seed=args.seed)
    scores = pitch_diversity(clips, data.sample_rate, reference)
    hist = pitch_histogram(clips, data.sample_rate, reference)
    result = {
        "workdir": str(args.workdir),
        "step": int(step),
        "num_clips": args.num,
        "seed": args.seed,
        "clean_fraction": scores["pitch/clean_fraction"],
        "distinct": int(scores["pitch/distinct"]),
        "num_reference_pitches": int(scores["pitch/num_reference_pitches"]),
        "jsd": scores["pitch/jsd"],
        "histogram": {str(n): int(c) for n, c in zip(hist["notes"], hist["counts"], strict=True)},
        "not_clean": int(hist["other"]),
    }
    num_classes = int(task.config.model.get("num_classes", 0))
    asked = asked_midi(data.label_names, num_classes, args.num)
    if asked is not None:
        notes = note_of_clips(clips, data.sample_rate, **reference.estimator_kwargs())
        result["asked"] = asked_scores(notes.clean, notes.note, asked)
    print(json.dumps(result, indent=2))
    if args.write_meta:
        meta_path = Path(args.write_meta) / "meta.json"
        meta = json.loads(meta_path.read_text())
        meta["pitch"] = {k: v for k, v in result.items() if k != "workdir"}
        # The reference notes, so the documented numbers are checked without the data set.
        meta["pitch"]["reference"] = reference.to_dict()
        meta_path.write_text(json.dumps(meta, indent=2, sort_keys=True))
    return 0


def asked_scores(clean, note, asked) -> dict:
    """Of the clean clips ([N] bool), the fraction whose note ([N] MIDI) is the one asked for
    ([N] MIDI), and the fraction an octave (or octaves) away from it."""
    hit = clean & (note == asked)
    octave = clean & ~hit & ((note - asked) % 12 == 0)
    num_clean = int(clean.sum())
    return {
        "clean_clips": num_clean,
        "note_asked_for": float(hit.sum() / max(1, num_clean)),
        "octave_errors": float(octave.sum() / max(1, num_clean)),
    }


def asked_midi(label_names: list[str], num_classes: int, num: int):
    """[num] MIDI note asked of each clip (labels cycle), or None: unconditional, or the label
    names are not notes."""
    import librosa
    import numpy as np

    if num_classes < 1 or len(label_names) != num_classes:
        return None
    try:
        if all(n.isdigit() for n in label_names):
            midi = [int(n) for n in label_names]
        else:
            midi = [int(librosa.note_to_midi(n)) for n in label_names]
    except (ValueError, librosa.util.exceptions.ParameterError):
        return None
    return np.asarray(midi, np.int64)[np.arange(num) % num_classes]


if __name__ == "__main__":
    sys.exit(main())
