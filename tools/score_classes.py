#!/usr/bin/env python3
"""Classifier diversity of N clips from a run's final weights (or a published generator), as JSON.

The FSDD recipes' targets are measured with this: of N clips from the final checkpoint, the
evaluation classifier's predicted-digit histogram, its entropy (bits) and largest share over
the uniform share, the one-split Inception Score and, for a conditional model, the fraction of
clips heard as the digit asked for (wavegen.eval.monitors.ClassifierMonitor, the measure the
training monitor logs).

    .venv/bin/python tools/score_classes.py runs/fsdd_fast_cond --classifier runs/clf_fsdd
    .venv/bin/python tools/score_classes.py runs/fsdd_fast_cond --classifier runs/clf_fsdd \
        --write-meta pretrained/fsdd_digits

Clips take the task's default labels (class-conditional: clip i asks for label i mod C;
self-conditioned: clusters drawn from the training shares with ``--seed``); latents come from
``--seed``. ``--write-meta DIR`` stores the result under "classes" in DIR/meta.json (a folder
written by `wavegen publish`), where tests/test_pretrained.py checks it.
"""

from __future__ import annotations

import argparse
import json
import sys
import types
from pathlib import Path


def score(workdir: str, classifier: str, num: int, seed: int, step: int | None = None) -> dict:
    """The classifier statistics of ``num`` clips of ``workdir`` (see the module docstring)."""
    import numpy as np

    from wavegen.eval.evaluate import fit_length
    from wavegen.eval.monitors import ClassifierMonitor
    from wavegen.inference.generate import generate_audio
    from wavegen.train.runs import load_run

    task, state, step = load_run(workdir, step)
    labels = task.default_labels(num, seed) if task.conditional else None
    clips = generate_audio(task, state, num, seed=seed)
    monitor = ClassifierMonitor(classifier)
    names = list(getattr(task, "label_names", []))
    monitor.setup(
        types.SimpleNamespace(sample_rate=task.config.data.sample_rate, label_names=names)
    )
    scalars = monitor(clips, labels)
    pred = monitor.classifier.predict(np.nan_to_num(fit_length(clips, monitor.classifier.length)))
    hist = np.bincount(pred, minlength=len(monitor.classifier.label_names))
    return {
        "step": int(step),
        "num_clips": num,
        "seed": seed,
        "inception_score": scalars["class/inception_score"],
        "entropy_bits": scalars["class/entropy"],
        "max_share_ratio": scalars["class/max_share_ratio"],
        "accuracy": scalars.get("class/accuracy"),
        "histogram": {n: int(c) for n, c in zip(monitor.classifier.label_names, hist, strict=True)},
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("workdir", help="run directory or published-generator folder")
    p.add_argument("--classifier", required=True, help="folder of `wavegen eval train-classifier`")
    p.add_argument("--num", type=int, default=200, help="clips to generate (default 200)")
    p.add_argument("--seed", type=int, default=0, help="latent seed (default 0)")
    p.add_argument("--step", type=int, default=None, help="checkpoint step (default: latest)")
    p.add_argument("--write-meta", default=None, help="published folder whose meta.json gets it")
    args = p.parse_args(argv)
    result = score(args.workdir, args.classifier, args.num, args.seed, args.step)
    print(json.dumps({"workdir": str(args.workdir), **result}, indent=2))
    if args.write_meta:
        meta_path = Path(args.write_meta) / "meta.json"
        meta = json.loads(meta_path.read_text())
        meta["classes"] = result
        meta_path.write_text(json.dumps(meta, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
