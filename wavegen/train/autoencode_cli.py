"""The VAE subcommands of ``wavegen``: encode, decode, reconstruct, interpolate, sample-prior,
eval-recon.

``wavegen.cli`` calls :func:`add_vae_parsers` on its subparsers and :func:`run_vae_command` when
``args.command`` is in :data:`COMMANDS`. Each command parses, calls one function of
:mod:`wavegen.train.autoencode` and prints one line; user errors (missing files, a workdir that
is not a VAE run, bad latents) are ``ValueError`` / ``CheckpointError``, which the main CLI
prints as one line and exit status 2.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

COMMANDS = ("encode", "decode", "reconstruct", "interpolate", "sample-prior", "eval-recon")


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--workdir", required=True, help="a VAE run directory (wavegen train)")
    p.add_argument("--step", type=int, default=None, help="checkpoint step (default: latest)")


def add_vae_parsers(subparsers: Any) -> None:
    """Adds the VAE subcommands to the main parser's ``subparsers``."""
    fmt = argparse.RawDescriptionHelpFormatter
    resampled = "Inputs of any length and rate are resampled to the run's rate."

    p = subparsers.add_parser(
        "encode",
        help="VAE: audio files → posterior-mean latents (.npy)",
        description="Encode audio files with a trained VAE into one .npy array of posterior "
        "means [N, ceil(T / compression), latent_dim]. " + resampled + " Shorter files are "
        "zero-padded to the longest.",
        epilog="example:\n  wavegen encode --workdir runs/vae a.wav b.wav --out z.npy",
        formatter_class=fmt,
    )
    _common(p)
    p.add_argument("inputs", nargs="+", metavar="IN.wav", help="audio files")
    p.add_argument("--out", required=True, help="output .npy file")

    p = subparsers.add_parser(
        "decode",
        help="VAE: latents (.npy) → WAVs",
        description="Decode a latents .npy file [N, L, latent_dim] (as written by encode) into "
        "N WAVs of L · compression samples, DIR/decoded_0000.wav ...",
        epilog="example:\n  wavegen decode --workdir runs/vae z.npy --out decoded/",
        formatter_class=fmt,
    )
    _common(p)
    p.add_argument("latents", metavar="Z.npy", help="latents file")
    p.add_argument("--out", required=True, help="output folder")

    p = subparsers.add_parser(
        "reconstruct",
        help="VAE: encode and decode one file",
        description="Encode and decode one audio file (posterior mean); the output WAV has the "
        "input's duration at the run's sample rate. " + resampled,
        epilog="example:\n  wavegen reconstruct --workdir runs/vae in.wav out.wav",
        formatter_class=fmt,
    )
    _common(p)
    p.add_argument("input", metavar="IN.wav")
    p.add_argument("output", metavar="OUT.wav")

    p = subparsers.add_parser(
        "interpolate",
        help="VAE: a straight line between the latents of two files",
        description="Decode NUM clips on the straight line between the latent sequences of A and "
        "B (the first is A's reconstruction, the last B's), DIR/interp_0000.wav ... " + resampled,
        epilog="example:\n  wavegen interpolate --workdir runs/vae a.wav b.wav --num 8 "
        "--out interp/",
        formatter_class=fmt,
    )
    _common(p)
    p.add_argument("a", metavar="A.wav")
    p.add_argument("b", metavar="B.wav")
    p.add_argument("--num", type=int, default=8, help="clips including both ends (>= 2)")
    p.add_argument("--out", required=True, help="output folder")

    p = subparsers.add_parser(
        "sample-prior",
        help="VAE: decode latent frames drawn from the prior",
        description="Decode NUM latent sequences whose frames are drawn independently from "
        "N(0, temperature² I), DIR/prior_0000.wav ... (what the decoder makes of the prior, "
        "not a model of latent dynamics).",
        epilog="example:\n  wavegen sample-prior --workdir runs/vae --num 4 --seconds 2 "
        "--out prior/ --temperature 0.8",
        formatter_class=fmt,
    )
    _common(p)
    p.add_argument("--num", type=int, default=4, help="number of clips")
    p.add_argument("--seconds", type=float, required=True, help="duration of each clip")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--temperature", type=float, default=1.0, help="prior standard deviation")
    p.add_argument("--seed", type=int, default=0)

    p = subparsers.add_parser(
        "eval-recon",
        help="VAE: held-out reconstruction metrics (STFT, mel, SI-SDR)",
        description="Reconstruct a split of the run's dataset from posterior means and report "
        "the multi-resolution STFT distance, the mel distance (lower is better) and SI-SDR.",
        epilog="example:\n  wavegen eval-recon --workdir runs/vae --json runs/vae/recon.json",
        formatter_class=fmt,
    )
    _common(p)
    p.add_argument("--split", default="test", help="dataset split (default: test)")
    p.add_argument("--max-examples", type=int, default=None, help="only the first N clips")
    p.add_argument("--json", default=None, metavar="OUT", help="also write the metrics there")


def run_vae_command(args: argparse.Namespace) -> int:
    """Runs one VAE subcommand; prints one line. Returns the exit status."""
    from wavegen.train import autoencode as ae

    if args.command == "encode":
        z = ae.encode_files(args.workdir, args.inputs, args.out, step=args.step)
        print(f"wrote {args.out}: posterior means {list(z.shape)} of {len(args.inputs)} file(s)")
    elif args.command == "decode":
        paths = ae.decode_file(args.workdir, args.latents, args.out, step=args.step)
        print(f"wrote {len(paths)} WAVs to {args.out}")
    elif args.command == "reconstruct":
        path = ae.reconstruct_file(args.workdir, args.input, args.output, step=args.step)
        print(f"wrote {path}")
    elif args.command == "interpolate":
        paths = ae.interpolate_files(
            args.workdir, args.a, args.b, args.num, args.out, step=args.step
        )
        print(f"wrote {len(paths)} WAVs ({args.a} → {args.b}) to {args.out}")
    elif args.command == "sample-prior":
        paths = ae.sample_prior(
            args.workdir,
            args.num,
            args.seconds,
            args.out,
            seed=args.seed,
            temperature=args.temperature,
            step=args.step,
        )
        print(f"wrote {len(paths)} WAVs of {args.seconds:g} s to {args.out}")
    elif args.command == "eval-recon":
        m = ae.evaluate_reconstruction(
            args.workdir,
            args.split,
            step=args.step,
            max_examples=args.max_examples,
            out_json=args.json,
        )
        where = f"; written to {args.json}" if args.json else ""
        print(json.dumps(m) + where)
    else:
        raise AssertionError(args.command)
    return 0
