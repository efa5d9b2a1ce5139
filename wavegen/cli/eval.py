"""The ``wavegen eval`` subcommands: train-classifier, run, real, table.

``wavegen.cli`` calls :func:`add_eval_parser` on its subparsers and :func:`run_eval_command` for
``args.command == 'eval'``. User errors (missing folders, wrong rates, bad classifier dirs) are
``ValueError`` subclasses, which the main CLI prints as one line.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from wavegen.cli.commands import add_command
from wavegen.data.presets import CLIP_FORMATS, PITCH_SETTINGS
from wavegen.errors import WavegenError


class EvalUsageError(WavegenError):
    """A bad combination of ``wavegen eval`` arguments."""


def preset_data_config(preset: str, path: str, **overrides: Any):
    """The ``data`` config of a preset on the files at ``path``.

    Args:
        preset: 'fsdd', 'sc09', 'nsynth', 'notes' or 'drums' (labels and splits come from
            ``wavegen.data.presets``; rate, length and normalisation from :data:`CLIP_FORMATS`).
        path: the dataset folder.
        **overrides: data keys to change (``None`` values are ignored).

    Returns:
        A ``wavegen.defaults.data_config()`` with the preset applied.
    """
    from wavegen.defaults import data_config

    if preset not in CLIP_FORMATS:
        raise EvalUsageError(f"--preset must be one of {sorted(CLIP_FORMATS)}; got {preset!r}")
    cfg = data_config()
    cfg.source = preset
    cfg.path = path
    # A deterministic crop: the reference set must be the same every time it is built.
    cfg.crop = "start"
    for key, value in CLIP_FORMATS[preset].items():
        cfg[key] = value
    for key, value in overrides.items():
        if value is not None:
            cfg[key] = value
    return cfg


def _add_data_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", required=True, help="dataset folder, e.g. ../shared/data/fsdd/...")
    p.add_argument("--preset", required=True, choices=sorted(CLIP_FORMATS), help="dataset layout")
    p.add_argument(
        "--label-column",
        default=None,
        help="metadata column (notes/drums: pitch...; nsynth: an examples.json field)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def _add_scoring_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--classifier", required=True, help="classifier folder (train-classifier)")
    _add_data_args(p)
    p.add_argument("--seed", type=int, default=0, help="sampling / shuffling / k-means seed")
    p.add_argument("--ndb-k", type=int, default=50, help="NDB bins (default 50)")
    p.add_argument("--no-test-reference", action="store_true", help="skip the *_test distances")
    p.add_argument(
        "--pitch",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="add pitch-diversity metrics (YIN notes vs the training notes); default: on for "
        f"the pitched presets {', '.join(sorted(PITCH_SETTINGS))}",
    )


def add_eval_parser(subparsers: Any) -> None:
    """Adds ``eval`` with sub-subcommands to the main parser's ``subparsers``."""
    p = add_command(
        subparsers,
        """eval: evaluation: classifier, metrics of runs / real data, result tables

        Score generated audio with a dataset classifier (IS, FD, KID, NDB/K, |D|self, |D|train) and
        assemble WaveGAN-Table-1-style tables.

        examples:
          wavegen eval train-classifier --data ../shared/data/fsdd/recordings --preset fsdd \\
              --out runs/clf_fsdd
          wavegen eval run --source runs/wavegan_fsdd --classifier runs/clf_fsdd \\
              --data ../shared/data/fsdd/recordings --preset fsdd
          wavegen eval table runs/wavegan_fsdd runs/real_test.json --markdown table.md
        """,
    )
    sub = p.add_subparsers(dest="eval_command", required=True, metavar="EVAL_COMMAND")

    q = add_command(
        sub,
        """train-classifier: train the evaluation classifier on a dataset's train split

        Train the log-mel CNN on the preset's train split, report its test-split accuracy, and save
        it (orbax params + classifier.json). Keep --out out of git.

        example:
          wavegen eval train-classifier --data ../shared/data/fsdd/recordings --preset fsdd \\
              --out runs/clf_fsdd
        """,
    )
    _add_data_args(q)
    q.add_argument("--out", required=True, help="folder for the classifier")
    q.add_argument("--epochs", type=int, default=20, help="passes over the train split (20)")
    q.add_argument("--batch-size", type=int, default=64, help="clips per step (64)")
    q.add_argument("--seed", type=int, default=0, help="initialisation / shuffling seed (0)")

    q = add_command(
        sub,
        """run: score a training run (generates clips) or a folder of WAVs

        Score a run directory (generates --num clips from its latest checkpoint) or a folder of
        audio files against the real train split. Writes eval.json into the source folder, or --out.

        example:
          wavegen eval run --source runs/wavegan_fsdd --classifier runs/clf_fsdd \\
              --data ../shared/data/fsdd/recordings --preset fsdd --num 1000
        """,
    )
    q.add_argument("--source", required=True, help="run workdir or folder of audio files")
    _add_scoring_args(q)
    q.add_argument("--num", type=int, default=1000, help="clips generated from a run")
    q.add_argument("--step", type=int, default=None, help="checkpoint step (default: latest)")
    q.add_argument("--name", default=None, help="row name in tables (default: folder name)")
    q.add_argument("--resample", action="store_true", help="resample WAVs at other rates")
    q.add_argument("--out", default=None, help="JSON path (default: SOURCE/eval.json)")

    q = add_command(
        sub,
        """real: score a real split (the table's ceiling rows)

        Score real clips of the train or test split as if generated: the 'Real (train)' /
        'Real (test)' rows of the table.

        example:
          wavegen eval real --split test --classifier runs/clf_fsdd \\
              --data ../shared/data/fsdd/recordings --preset fsdd --out runs/real_test.json
        """,
    )
    q.add_argument("--split", required=True, choices=("train", "test"), help="which real split")
    _add_scoring_args(q)
    q.add_argument("--num", type=int, default=None, help="random subset size (default: all)")
    q.add_argument("--out", required=True, help="JSON path")

    q = add_command(
        sub,
        """table: Markdown/LaTeX table from eval.json files, run dirs or sweep roots

        Assemble a WaveGAN-Table-1-style table (IS ± std, FD, NDB/K, |D|self, |D|train) from run
        directories, eval JSON files or sweep roots, rows in the given order; prints Markdown unless
        --markdown/--latex are given.

        example:
          wavegen eval table runs/real_train.json runs/real_test.json runs/sweep \\
              --markdown results.md --latex results.tex
        """,
    )
    q.add_argument("inputs", nargs="+", metavar="RUN_OR_ROOT", help="run dir, JSON or root")
    q.add_argument("--markdown", default=None, help="write the Markdown table here")
    q.add_argument("--latex", default=None, help="write the LaTeX tabular here")


def _data_config(args: argparse.Namespace):
    return preset_data_config(args.preset, args.data, label_column=args.label_column)


def _references(args: argparse.Namespace, classifier: Any) -> tuple[Any, Any]:
    from wavegen.data import build_dataset

    cfg = _data_config(args)
    if int(cfg.sample_rate) != classifier.sample_rate:
        raise EvalUsageError(
            f"--preset {args.preset} is {cfg.sample_rate} Hz but the classifier {args.classifier} "
            f"expects {classifier.sample_rate} Hz"
        )
    progress = not args.no_progress
    train = build_dataset(cfg, split="train", progress=progress)
    test = None if args.no_test_reference else build_dataset(cfg, "test", progress=progress)
    return train, test


def _summary(result: dict) -> str:
    is_ = result["inception_score"]
    return (
        f"{result['name']}: IS {is_['mean']:.2f} ± {is_['std']:.2f} (n={is_['n']}, "
        f"{is_['num_splits']} splits), FD {result['frechet_distance']:.3f}, "
        f"KID {result['kernel_distance']['mean']:.4f}, NDB/K {result['ndb']['ndb_k']:.2f}, "
        f"|D|self {result['nn_self']:.3f}, |D|train {result['nn_train']:.3f} "
        f"(n={result['nn_n']})"
    ) + _pitch_summary(result.get("pitch"))


def _pitch_summary(section: dict | None) -> str:
    if not section or "pitch/distinct" not in section:
        return ""
    return (
        f", pitch: {section['pitch/clean_fraction']:.0%} clean notes, "
        f"{section['pitch/distinct']:.0f}/{section['pitch/num_reference_pitches']:.0f} notes, "
        f"JSD {section['pitch/jsd']:.3f}"
    )


def run_eval_command(args: argparse.Namespace) -> int:
    """Runs a parsed ``wavegen eval ...`` command; returns the exit status."""
    if args.eval_command == "train-classifier":
        from wavegen.eval.classifier import train_classifier

        metrics = train_classifier(
            _data_config(args),
            args.out,
            epochs=args.epochs,
            batch_size=args.batch_size,
            seed=args.seed,
            progress=not args.no_progress,
        )
        print(json.dumps(metrics, indent=2))
        return 0
    if args.eval_command in ("run", "real"):
        from wavegen.eval.classifier import load_classifier
        from wavegen.eval.evaluate import evaluate, evaluate_real

        classifier = load_classifier(args.classifier)
        train, test = _references(args, classifier)
        pitch = args.preset in PITCH_SETTINGS if args.pitch is None else bool(args.pitch)
        common = dict(
            reference_train=train, reference_test=test, seed=args.seed, ndb_k=args.ndb_k,
            pitch=pitch, pitch_source=args.preset,
        )  # fmt: skip
        if args.eval_command == "run":
            result = evaluate(
                args.source, classifier, num_samples=args.num, step=args.step, name=args.name,
                resample=args.resample, out=args.out, **common,
            )  # fmt: skip
        else:
            split_data = train if args.split == "train" else test
            if split_data is None:
                from wavegen.data import build_dataset

                split_data = build_dataset(_data_config(args), "test", progress=False)
            name = f"Real ({args.split})"
            result = evaluate_real(
                split_data, classifier, num_samples=args.num, name=name, out=args.out, **common
            )
        print(_summary(result))
        print(f"wrote {result['output']}")
        return 0
    if args.eval_command == "table":
        from wavegen.eval.tables import make_tables

        markdown, _ = make_tables(args.inputs, markdown=args.markdown, latex=args.latex)
        if args.markdown is None and args.latex is None:
            print(markdown, end="")
        for path in (args.markdown, args.latex):
            if path is not None:
                print(f"wrote {path}")
        return 0
    raise EvalUsageError(f"unknown eval command {args.eval_command!r}")
