"""The ``wavegen`` command: a thin layer over the package's functions.

Every subcommand's help has an example. The project's own errors (bad config, bad data, bad
workdir: every :class:`wavegen.errors.WavegenError`) print one clear line and exit 2; anything
else is a bug and keeps its traceback. ``-v`` shows the traceback of every error.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from wavegen.cli.commands import add_command
from wavegen.errors import WavegenError

DESCRIPTION = """Neural raw-audio generation in JAX.

commands:
  train      train a model in a workdir (resumes from its latest checkpoint)
  generate   write WAVs from a trained run (or a published generator, e.g. pretrained/NAME)
  publish    write a run's generator (EMA weights + config) to a small folder generate reads
  export     serialise a run's generator with jax.export (latents → audio) for cpu/cuda/tpu
  describe   parameter counts and FLOPs of a config's networks (JSON)
  compile    AOT-compile the train step for a TPU topology: memory, FLOPs, roofline time
  sweep      train every point of an experiment file's get_sweep() grid, locally or on a TPU pod
  eval       evaluation: classifier, IS/FD/KID/NDB/|D| of runs and real data, result tables
  vae        waveform-VAE runs: encode, decode, reconstruct, interpolate, sample-prior, eval
  data       dataset tools: inspect a folder, build the decode cache ahead of training

Run `wavegen COMMAND --help` for a command's options and an example."""

EPILOG = """examples:
  wavegen train --config experiments/quickstart.py --workdir runs/quickstart
  wavegen train --config experiments/quickstart.py:tiny --workdir runs/t --config.train.num_steps=2
  wavegen generate --workdir runs/quickstart --num 8 --out samples/
  wavegen describe --config experiments/wavegan_sc09.py
  wavegen data inspect ../shared/data/fsdd/recordings
  wavegen train --config experiments/vae_notes.py:tiny --workdir runs/vae_tiny
  wavegen vae reconstruct --workdir runs/vae_tiny in.wav out.wav   # also: vae encode, decode,
      interpolate, sample-prior, eval (waveform-VAE runs; see docs/vae.md)
  wavegen sweep --config experiments/quickstart.py:tiny --root runs/sweep --config.seed=1
"""


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("wavegen")
    except PackageNotFoundError:  # imported from a checkout that was never installed
        return "unknown (not installed)"


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


_positive_int.__name__ = "int"  # argparse names the type in its "invalid int value" message


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
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="debug logging; tracebacks for every error"
    )
    parser.add_argument(
        "--version", action="version", version=f"wavegen {_version()}", help="print the version"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = add_command(
        sub,
        """train: train a model in a workdir (resumes if it has checkpoints)

        Train a model from an experiment config; resumes from the workdir's latest checkpoint.
        SIGTERM/Ctrl-C saves a checkpoint and exits 0.

        example:
          wavegen train --config experiments/quickstart.py --workdir runs/qs \\
              --config.train.num_steps=20
        """,
    )
    _add_config_args(p)
    p.add_argument("--workdir", required=True, help="run directory (config, checkpoints, events)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")

    p = add_command(
        sub,
        """generate: write WAVs from a trained run

        Generate audio from a run's latest (or given) checkpoint as 16-bit WAVs.

        example:
          wavegen generate --workdir runs/qs --num 4 --out samples/ --seed 1
        """,
    )
    p.add_argument("--workdir", required=True, help="run directory written by wavegen train")
    p.add_argument("--num", type=_positive_int, default=16, help="number of clips")
    p.add_argument("--out", required=True, help="output folder for the WAVs")
    p.add_argument("--seed", type=int, default=0, help="seed of the latents / samples (default 0)")
    p.add_argument("--step", type=int, default=None, help="checkpoint step (default: latest)")
    p.add_argument("--interpolate", action="store_true", help="a latent interpolation sequence")
    p.add_argument("--label", type=int, default=None, help="class index (conditional models)")

    p = add_command(
        sub,
        """publish: write a run's generator (EMA weights + config) to a folder generate reads

        Copy what inference needs out of a run: the resolved config, the weights (a GAN's sampling
        weights, the EMA when the run keeps one; a VAE's encoder and decoder; a latent prior's
        network, with its VAE) as plain .npz arrays and meta.json. `wavegen generate --workdir OUT`
        (and `wavegen vae ... --workdir OUT`) then work without the run's checkpoints.

        example:
          wavegen publish --workdir runs/quickstart --out pretrained/quickstart
        """,
    )
    p.add_argument("--workdir", required=True, help="run directory written by wavegen train")
    p.add_argument("--out", required=True, help="output folder (created)")
    p.add_argument("--step", type=int, default=None, help="checkpoint step (default: latest)")
    p.add_argument(
        "--vae",
        default=None,
        help="latent priors: a published folder of the prior's VAE to point to instead of "
        "copying the VAE into OUT/vae",
    )

    p = add_command(
        sub,
        """export: serialise a run's generator with jax.export for use without wavegen

        Write OUT/generator.jax (jax.export of the generator with its sampling weights: latents
        [, labels] → audio; VAE: the decoder, plus encoder.jax) and OUT/generator.json (inputs,
        output, sample rate, platforms, step). A process with only jax loads it:
        jax.export.deserialize(bytearray(open(F, 'rb').read())).call(*inputs).

        examples:
          wavegen export --workdir runs/qs --out exported/qs
          wavegen export --workdir pretrained/NAME --out exported/NAME --platforms cpu,cuda,tpu
        """,
    )
    p.add_argument("--workdir", required=True, help="run directory or published generator")
    p.add_argument("--out", required=True, help="output folder (created)")
    p.add_argument("--step", type=int, default=None, help="checkpoint step (default: latest)")
    p.add_argument(
        "--platforms", default="cpu", help="comma-separated: cpu, cuda, rocm, tpu (default cpu)"
    )
    p.add_argument(
        "--batch", type=_positive_int, default=8, help="the artifact's fixed batch (default 8)"
    )
    p.add_argument(
        "--onnx", action="store_true", help="also write generator.onnx (jax2onnx; docs/scaling.md)"
    )

    p = add_command(
        sub,
        """describe: parameter counts and FLOPs of a config's networks (JSON)

        Print parameter counts and forward GFLOPs per example of G and D as JSON.

        example:
          wavegen describe --config experiments/wavegan_sc09.py
        """,
    )
    _add_config_args(p)

    p = add_command(
        sub,
        """compile: AOT-compile the train step and sampler for a TPU topology (needs the aot extra)

        Compile the train step (and the sampler) for a TPU slice on this host with libtpu
        (pip install -e .[aot]); report per-device memory against HBM, FLOPs, a roofline step time
        and the projected time of train.num_steps. Exits 1 when the step does not fit or the
        topology is unknown.

        example:
          wavegen compile --config experiments/wavegan_sc09.py --topology v4:2x2x1
        topologies: v4:2x2x1 (v4-8), v4:2x2x4 (v4-32), v5e:2x2, v5e:2x4 (v5e-8), v5e:4x4,
          v5p:2x2x1 (v5p-8), ...
        """,
    )
    _add_config_args(p)
    p.add_argument("--topology", required=True, help="e.g. v4:2x2x1, v4-32, v5e:4x4, v5p-8")
    p.add_argument("--json", action="store_true", help="print the full report as JSON")
    p.add_argument("--no-sampler", action="store_true", help="compile the train step only")
    p.add_argument(
        "--hbm-gib", type=float, default=None, help="HBM per chip to check (default: the chip's)"
    )

    p = add_command(
        sub,
        """sweep: run an experiment file's get_sweep() grid (locally or on a TPU pod)

        Expand get_sweep() into named runs under --root, each with its resolved config; train the
        unfinished ones (finished runs are skipped, unfinished ones resume), or print/launch the
        gcloud commands for a TPU pod slice.

        examples:
          wavegen sweep --config experiments/quickstart.py:tiny --root runs/sweep --parallel 2
          wavegen sweep --config experiments/quickstart.py --root runs/qs_mine \\
              --config.data.source=folder --config.data.path=~/my_clips
          wavegen sweep --config experiments/wavegan_sc09.py --root gs-mounted/sweep \\
              --tpu my-pod --zone us-central2-b --dry-run
        """,
    )
    p.add_argument(
        "--config",
        required=True,
        help="experiment file with get_sweep() and an optional variant, e.g. "
        "experiments/quickstart.py:tiny",
    )
    p.epilog += (
        "\nOverride any config key of every point with --config.KEY=VALUE (a key the sweep varies "
        "cannot be overridden); unknown keys are errors."
    )
    p.add_argument("--root", required=True, help="folder holding one workdir per run")
    p.add_argument("--parallel", type=_positive_int, default=1, help="local runs at a time")
    p.add_argument("--tpu", default=None, help="TPU VM name: launch there with gcloud")
    p.add_argument("--zone", default=None, help="TPU zone (with --tpu)")
    p.add_argument("--project", default=None, help="GCP project (with --tpu)")
    p.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")

    from wavegen.cli.eval import add_eval_parser

    add_eval_parser(sub)

    from wavegen.cli.vae import add_vae_parsers

    add_vae_parsers(sub)

    p = add_command(
        sub,
        """data: dataset tools: inspect a folder, build the decode cache ahead of training

        Dataset tools.

        example:
          wavegen data inspect ../shared/data/fsdd/recordings
        """,
    )
    dsub = p.add_subparsers(dest="data_command", required=True, metavar="DATA_COMMAND")
    pi = add_command(
        dsub,
        """inspect: files, labels, durations, rates, channels and bad files of a folder

        Summarise an audio folder before training on it.

        example:
          wavegen data inspect ../shared/data/notes --json
        """,
    )
    pi.add_argument("path", help="audio folder (searched recursively)")
    pi.add_argument("--pattern", default=None, help="label regex with a (?P<label>…) group")
    pi.add_argument("--json", action="store_true", help="print JSON instead of a report")
    pc = add_command(
        dsub,
        """cache: decode a config's data into the cache ahead of training

        Build the decode cache of the config's data section (the train split, and the test split
        when the source has one) so training starts without decoding; run it on every worker of a
        pod before the run. Prints clips, cache folder and seconds.

        example:
          wavegen data cache --config experiments/wavegan_fsdd.py \\
              --config.data.path=../shared/data/fsdd/recordings
        """,
    )
    _add_config_args(pc)
    pc.add_argument("--no-progress", action="store_true", help="no progress bar while decoding")
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
    takes_config = args.command in ("train", "describe", "compile", "sweep") or (
        args.command == "data" and args.data_command == "cache"
    )
    if overrides and not takes_config:
        print(f"{_name(args)}: --config.KEY overrides are not accepted", file=sys.stderr)
        return 2
    from wavegen.train.host_memory import retain_freed_memory

    retain_freed_memory()  # XLA:CPU re-allocates its buffers every call; see that module
    try:
        return _dispatch(args, overrides)
    except KeyboardInterrupt:
        return 130
    except Exception as e:  # ours: one clear line (-v: traceback); anything else: traceback
        if _is_user_error(e) and not args.verbose:
            print(f"{_name(args)}: error: {e}", file=sys.stderr)
            return 2
        raise


def _name(args: argparse.Namespace) -> str:
    """``wavegen COMMAND [SUBCOMMAND]`` of a parsed command line, for messages."""
    sub = {"eval": "eval_command", "vae": "vae_command", "data": "data_command"}.get(args.command)
    return " ".join(["wavegen", args.command] + ([getattr(args, sub)] if sub else []))


def user_error_classes() -> tuple[type[Exception], ...]:
    """The project's own errors: what ``wavegen`` prints as one line, not a traceback.

    Every one derives from :class:`wavegen.errors.WavegenError` (config errors from its
    ``ConfigError``) and is raised for something the user can fix (a config, data, a workdir, a
    checkpoint, an argument); any other exception (a ``ValueError`` from a library or a bug here
    included) keeps its traceback.
    """
    return (WavegenError,)


def _is_user_error(e: Exception) -> bool:
    return isinstance(e, user_error_classes())


def _dispatch(args: argparse.Namespace, overrides: list[str]) -> int:
    if args.command == "train":
        from wavegen.config import load_config
        from wavegen.train import train_and_evaluate
        from wavegen.train.parallel import enable_compilation_cache, maybe_initialize_distributed

        config = load_config(args.config, overrides)
        maybe_initialize_distributed(config.train.distributed)
        enable_compilation_cache()
        from wavegen.eval.monitors import build_monitors

        monitors = build_monitors(config)  # bad monitor keys fail here, before data is decoded
        train_and_evaluate(config, args.workdir, progress=not args.no_progress, monitors=monitors)
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
        from wavegen.inference.generate import generate_audio, write_wavs
        from wavegen.train.runs import load_run

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
    if args.command == "publish":
        from wavegen.train.publish import publish_generator

        out = publish_generator(args.workdir, args.out, args.step, vae=args.vae)
        print(f"published the generator of {args.workdir} to {out}")
        return 0
    if args.command == "export":
        from wavegen.inference.export import export_run

        meta = export_run(
            args.workdir,
            args.out,
            step=args.step,
            platforms=args.platforms,
            batch=args.batch,
            onnx=args.onnx,
        )
        print(
            f"exported the {meta['model']} generator (step {meta['step']}, batch {meta['batch']}, "
            f"{','.join(meta['platforms'])}) to {args.out}: {', '.join(meta['files'])}"
        )
        return 0
    if args.command == "describe":
        from wavegen.config import load_config
        from wavegen.train import build_task

        info = build_task(load_config(args.config, overrides)).describe()
        print(json.dumps(info, indent=2))
        return 0
    if args.command == "compile":
        return _compile(args, overrides)
    if args.command == "sweep":
        return _sweep(args, overrides)
    if args.command == "eval":
        from wavegen.cli.eval import run_eval_command

        return run_eval_command(args)
    if args.command == "vae":
        from wavegen.cli.vae import run_vae_command

        return run_vae_command(args)
    if args.command == "data" and args.data_command == "inspect":
        from wavegen.data.inspect import format_report, inspect_folder

        report = inspect_folder(args.path, pattern=args.pattern)
        print(json.dumps(report, indent=2) if args.json else format_report(report))
        return 0
    if args.command == "data" and args.data_command == "cache":
        return _data_cache(args, overrides)
    raise AssertionError(args.command)


def _data_cache(args: argparse.Namespace, overrides: list[str]) -> int:
    """``wavegen data cache``: builds (or finds) the cache entry of every split training reads."""
    import time

    from wavegen.config import load_config
    from wavegen.data import build_dataset
    from wavegen.data.presets import SPLIT_RULES

    data = load_config(args.config, overrides).data
    if data.source == "synthetic":
        print("data.source='synthetic' is generated in memory at the start of training; no cache")
        return 0
    # Training reads 'train'; the VAE/RNN held-out summaries and eval read 'test' where a
    # preset defines one (a plain folder has no test split).
    for split in ["train"] + (["test"] if data.source in SPLIT_RULES else []):
        start = time.perf_counter()
        ds = build_dataset(data, split=split, progress=not args.no_progress)
        skipped = f" ({len(ds.skipped)} files skipped)" if ds.skipped else ""
        print(
            f"{split}: {len(ds)} clips{skipped} in {ds.cache_path} "
            f"({time.perf_counter() - start:.1f} s)"
        )
    return 0


def _compile(args: argparse.Namespace, overrides: list[str]) -> int:
    """``wavegen compile``: the report of :func:`wavegen.train.aot.compile_for_topology`."""
    from wavegen.config import load_config
    from wavegen.train import aot

    config = load_config(args.config, overrides)
    hbm = None if args.hbm_gib is None else int(args.hbm_gib * aot.GiB)
    try:
        report = aot.compile_for_topology(
            config,
            args.topology,
            hbm_bytes=hbm,
            sampler=not args.no_sampler,
            config_name=args.config,
        )
    except aot.CompileError as err:
        partial = getattr(err, "report", None)
        if partial is not None:
            print(json.dumps(partial, indent=2) if args.json else aot.format_report(partial))
        print(f"wavegen compile: error: {err}", file=sys.stderr)
        return 1
    print(json.dumps(report, indent=2) if args.json else aot.format_report(report))
    return 0


def _sweep(args: argparse.Namespace, overrides: list[str]) -> int:
    import shlex
    import subprocess

    from wavegen.train import sweep

    runs = sweep.expand(args.config, args.root, overrides)
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
