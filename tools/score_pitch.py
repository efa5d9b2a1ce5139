#!/usr/bin/env python3
"""Pitch diversity of N clips from a run's final weights (or a published generator), as JSON.

The quickstart's target is measured with this: of 64 clips from the final checkpoint, the
fraction that are a clean note of the training set's pitches and how many of its pitches they
cover (wavegen.eval.pitch, the same measure the training monitor logs).

    .venv/bin/python tools/score_pitch.py runs/quickstart --num 64
    .venv/bin/python tools/score_pitch.py runs/quickstart --write-meta pretrained/quickstart

Conditional models cycle through their labels (clip i asks for label i mod C); latents come
from ``--seed``. ``--write-meta DIR`` stores the result under "pitch" in DIR/meta.json (a folder
written by `wavegen publish`), where tests/test_pretrained.py checks it.
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
    from wavegen.eval.pitch import PitchReference, pitch_diversity, pitch_histogram
    from wavegen.inference.generate import generate_audio
    from wavegen.train.runs import load_run

    task, state, step = load_run(args.workdir, args.step)
    data = build_dataset(task.config.data, split="train", progress=False)
    reference = PitchReference.from_waves(data.waveforms, data.sample_rate)
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
    print(json.dumps(result, indent=2))
    if args.write_meta:
        meta_path = Path(args.write_meta) / "meta.json"
        meta = json.loads(meta_path.read_text())
        meta["pitch"] = {k: v for k, v in result.items() if k != "workdir"}
        meta_path.write_text(json.dumps(meta, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
