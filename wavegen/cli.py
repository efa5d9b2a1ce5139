"""The ``wavegen`` command: a thin layer over the package's functions.

Every subcommand's help has an example. Errors that are the user's (bad config, bad data, bad
workdir) print one clear line and exit 2, not a traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

EPILOG = """examples:
  wavegen train --config experiments/quickstart.py --workdir runs/quickstart
  wavegen train --config experiments/quickstart.py:tiny --workdir runs/t --config.train.num_steps=2
  wavegen generate --workdir runs/quickstart --num 8 --out samples/
  wavegen describe --config experiments/wavegan_sc09.py
  wavegen data inspect ../shared/data/fsdd/recordings
  wavegen train --config experiments/vae_notes.py:tiny --workdir runs/vae_tiny
  wavegen reconstruct --workdir runs/vae_tiny in.wav out.wav   # also: encode, decode,
      interpolate, sample-prior, eval-recon (waveform-VAE runs; see docs/vae.md)
"""


def _add_config_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--config",
        required=True,
        help="experiment file with an optional variant, e.g. experiments/wavegan_fsdd.py:tiny",
    )
    p.epilog = (p.epilog or "") + (
        "\nOverride any config key with --config.KEY=VALUE (e.g. --config.train.num_steps=20); "
        "unknown keys are errors."
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wavegen",
        description="Neural raw-audio generation in JAX: train, generate, describe, inspect data.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    fmt = argparse.RawDescriptionHelpFormatter

    p = sub.add_parser(
        "train",
        help="train a model in a workdir (resumes if it has checkpoints)",
        description="Train a model from an experiment config; resumes from the workdir's latest "
        "checkpoint. SIGTERM/Ctrl-C saves a checkpoint and exits 0.",
        epilog="example:\n  wavegen train --config experiments/quickstart.py --workdir runs/qs "
        "--config.train.num_steps=20",
        formatter_class=fmt,
    )
    _add_config_args(p)
    p.add_argument("--workdir", required=True, help="run directory (config, checkpoints, events)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")

    p = sub.add_parser(
        "generate",
        help="write WAVs from a trained run",
        description="Generate audio from a run's latest (or given) checkpoint as 16-bit WAVs.",
        epilog="example:\n  wavegen generate --workdir runs/qs --num 4 --out samples/ --seed 1",
        formatter_class=fmt,
    )
    p.add_argument("--workdir", required=True)
    p.add_argument("--num", type=int, default=16, help="number of clips")
    p.add_argument("--out", required=True, help="output folder for the WAVs")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--step", type=int, default=None, help="checkpoint step (default: latest)")
    p.add_argument("--interpolate", action="store_true", help="a latent interpolation sequence")
    p.add_argument("--label", type=int, default=None, help="class index (conditional models)")

    p = sub.add_parser(
        "describe",
        help="parameter counts and FLOPs of a config's networks (JSON)",
        description="Print parameter counts and forward GFLOPs per example of G and D as JSON.",
        epilog="example:\n  wavegen describe --config experiments/wavegan_sc09.py",
        formatter_class=fmt,
    )
    _add_config_args(p)

    p = sub.add_parser(
        "sweep",
        help="run an experiment file's get_sweep() grid (locally or on a TPU pod)",
        description="Expand get_sweep() into named runs under --root, each with its resolved "
        "config; train the unfinished ones (finished runs are skipped, unfinished ones resume), "
        "or print/launch the gcloud commands for a TPU pod slice.",
        epilog="examples:\n  wavegen sweep experiments/quickstart.py:tiny --root runs/sweep "
        "--parallel 2\n  wavegen sweep experiments/wavegan_sc09.py --root gs-mounted/sweep "
        "--tpu my-pod --zone us-central2-b --dry-run",
        formatter_class=fmt,
    )
    p.add_argument("config", help="experiment file with get_sweep(), optional :ARG")
    p.add_argument("--root", required=True, help="folder holding one workdir per run")
    p.add_argument("--parallel", type=int, default=1, help="local runs at a time")
    p.add_argument("--tpu", default=None, help="TPU VM name: launch there with gcloud")
    p.add_argument("--zone", default=None, help="TPU zone (with --tpu)")
    p.add_argument("--project", default=None, help="GCP project (with --tpu)")
    p.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")

    from wavegen.eval.cli import add_eval_parser

    add_eval_parser(sub)

    from wavegen.train.autoencode_cli import add_vae_parsers

    add_vae_parsers(sub)

    p = sub.add_parser(
        "data",
        help="dataset tools (inspect)",
        description="Dataset tools.",
        epilog="example:\n  wavegen data inspect ../shared/data/fsdd/recordings",
        formatter_class=fmt,
    )
    dsub = p.add_subparsers(dest="data_command", required=True, metavar="DATA_COMMAND")
    pi = dsub.add_parser(
        "inspect",
        help="files, labels, durations, rates, channels and bad files of a folder",
        description="Summarise an audio folder before training on it.",
        epilog="example:\n  wavegen data inspect ../shared/data/notes --json",
        formatter_class=fmt,
    )
    pi.add_argument("path")
    pi.add_argument("--pattern", default=None, help="label regex with a (?P<label>…) group")
    pi.add_argument("--json", action="store_true", help="print JSON instead of a report")
    return parser


def _split_overrides(argv: list[str]) -> tuple[list[str], list[str]]:
    rest, overrides = [], []
    for a in argv:
        (overrides if a.startswith("--config.") else rest).append(a)
    return rest, overrides


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    rest, overrides = _split_overrides(argv)
    args = build_parser().parse_args(rest)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not args.verbose:  # orbax logs every save step at INFO through absl
        logging.getLogger("absl").setLevel(logging.WARNING)
    if overrides and args.command not in ("train", "describe"):
        print(f"wavegen {args.command}: --config.KEY overrides are not accepted", file=sys.stderr)
        return 2
    from wavegen.train.host_memory import retain_freed_memory

    retain_freed_memory()  # XLA:CPU re-allocates its buffers every call; see that module
    try:
        return _dispatch(args, overrides)
    except KeyboardInterrupt:
        return 130
    except Exception as e:  # user errors: one clear line; anything else: re-raise with traceback
        if _is_user_error(e):
            print(f"wavegen {args.command}: error: {e}", file=sys.stderr)
            return 2
        raise


def _is_user_error(e: Exception) -> bool:
    from wavegen.config import ConfigError
    from wavegen.data import AudioDataError
    from wavegen.train.checkpoint import CheckpointError
    from wavegen.train.loop import TrainingDiverged

    return isinstance(
        e, (ConfigError, AudioDataError, CheckpointError, TrainingDiverged, ValueError)
    )


def _dispatch(args: argparse.Namespace, overrides: list[str]) -> int:
    if args.command == "train":
        from wavegen.config import load_config
        from wavegen.train import train_and_evaluate
        from wavegen.train.parallel import enable_compilation_cache, maybe_initialize_distributed

        config = load_config(args.config, overrides)
        maybe_initialize_distributed(config.train.distributed)
        enable_compilation_cache()
        train_and_evaluate(config, args.workdir, progress=not args.no_progress)
        workdir = Path(args.workdir)
        if (workdir / "done.json").is_file():
            print(f"\ndone. run directory: {workdir}")
        else:
            print(
                f"\nstopped before the last step; run the same command again to resume ({workdir})"
            )
        print(
            f"  samples:     wavegen generate --workdir {workdir} --num 8 --out {workdir}/samples"
        )
        print(f"  TensorBoard: tensorboard --logdir {workdir}  (then open http://localhost:6006)")
        return 0
    if args.command == "generate":
        from wavegen.train.generate import generate_audio, load_run, write_wavs

        task, state, step = load_run(args.workdir, args.step)
        clips = generate_audio(
            task, state, args.num, seed=args.seed, interpolate=args.interpolate, label=args.label
        )
        paths = write_wavs(clips, args.out, task.config.data.sample_rate)
        print(
            f"wrote {len(paths)} WAVs (step {step}, {task.config.data.sample_rate} Hz) "
            f"to {args.out}"
        )
        return 0
    if args.command == "describe":
        from wavegen.config import load_config
        from wavegen.models import MODELS, describe, describe_task

        config = load_config(args.config, overrides)
        info = describe(config) if config.model.name in MODELS else describe_task(config)
        print(json.dumps(info, indent=2))
        return 0
    if args.command == "sweep":
        return _sweep(args)
    if args.command == "eval":
        from wavegen.eval.cli import run_eval_command

        return run_eval_command(args)
    from wavegen.train.autoencode_cli import COMMANDS as VAE_COMMANDS

    if args.command in VAE_COMMANDS:
        from wavegen.train.autoencode_cli import run_vae_command

        return run_vae_command(args)
    if args.command == "data" and args.data_command == "inspect":
        from wavegen.data.inspect import format_report, inspect_folder

        report = inspect_folder(args.path, pattern=args.pattern)
        print(json.dumps(report, indent=2) if args.json else format_report(report))
        return 0
    raise AssertionError(args.command)


def _sweep(args: argparse.Namespace) -> int:
    import shlex
    import subprocess

    from wavegen.train import sweep

    runs = sweep.expand(args.config, args.root)
    if args.tpu:
        if not args.zone:
            print("wavegen sweep: --tpu needs --zone", file=sys.stderr)
            return 2
        cmds = sweep.tpu_commands(
            args.config, runs, tpu=args.tpu, zone=args.zone, project=args.project
        )
        for cmd in cmds:
            print(" ".join(shlex.quote(c) for c in cmd))
            if not args.dry_run:
                subprocess.run(cmd, check=True)
        return 0
    if args.dry_run:
        for run in runs:
            print(" ".join(shlex.quote(c) for c in sweep.train_command(args.config, run)))
        return 0
    sweep.write_manifest(args.config, runs, Path(args.root))
    status = sweep.run_local(args.config, runs, parallel=args.parallel)
    failed = [name for name, s in status.items() if s.startswith("failed")]
    print(
        f"sweep: {len(runs)} runs, {sum(s == 'skipped' for s in status.values())} skipped, "
        f"{len(failed)} failed"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
