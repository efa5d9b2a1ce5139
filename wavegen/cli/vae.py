"""The ``wavegen vae`` subcommands: encode, decode, reconstruct, interpolate, sample-prior, eval.

``wavegen.cli`` calls :func:`add_vae_parsers` on its subparsers and :func:`run_vae_command` for
``args.command == 'vae'`` (the subcommand is ``args.vae_command``, one of :data:`COMMANDS`). Each
command parses, calls one function of :mod:`wavegen.inference.autoencode` and prints one line; user
errors (missing files, a workdir that is not a VAE run, bad latents) are ``AutoencodeError`` /
``CheckpointError``, which the main CLI prints as one line and exit status 2.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from wavegen.cli.commands import add_command

COMMANDS = ("encode", "decode", "reconstruct", "interpolate", "sample-prior", "eval")


def _int_at_least(low: int) -> Any:
    """An argparse ``type`` accepting integers >= ``low``."""

    def parse(text: str) -> int:
        value = int(text)
        if value < low:
            raise argparse.ArgumentTypeError(f"must be >= {low}, got {value}")
        return value

    parse.__name__ = "int"  # argparse names the type in its "invalid int value" message
    return parse


_positive_int = _int_at_least(1)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--workdir", required=True, help="a VAE run directory (wavegen train)")
    p.add_argument("--step", type=int, default=None, help="checkpoint step (default: latest)")


def add_vae_parsers(subparsers: Any) -> None:
    """Adds ``vae`` with its sub-subcommands to the main parser's ``subparsers``.

    Args:
        subparsers: what ``ArgumentParser.add_subparsers`` returned for the main parser.
    """
    group = add_command(
        subparsers,
        """vae: waveform-VAE runs: encode, decode, reconstruct, interpolate, sample-prior, eval

        Use a trained waveform-VAE run (experiments/vae_notes.py; see docs/vae.md): audio to latents
        and back, interpolation, prior samples, reconstruction metrics.

        examples:
          wavegen vae reconstruct --workdir runs/vae in.wav out.wav
          wavegen vae eval --workdir runs/vae --json runs/vae/recon.json
        """,
    )
    subparsers = group.add_subparsers(dest="vae_command", required=True, metavar="VAE_COMMAND")

    p = add_command(
        subparsers,
        """encode: VAE: audio files → posterior-mean latents (.npy)

        Encode audio files with a trained VAE into one .npy array of posterior means
        [N, ceil(T / compression), latent_dim]. Inputs of any length and rate are resampled to
        the run's rate. Shorter files are zero-padded to the longest.

        example:
          wavegen vae encode --workdir runs/vae a.wav b.wav --out z.npy
        """,
    )
    _common(p)
    p.add_argument("inputs", nargs="+", metavar="IN.wav", help="audio files")
    p.add_argument("--out", required=True, help="output .npy file")

    p = add_command(
        subparsers,
        """decode: VAE: latents (.npy) → WAVs

        Decode a latents .npy file [N, L, latent_dim] (as written by encode) into N WAVs of
        L · compression samples, DIR/decoded_0000.wav ...

        example:
          wavegen vae decode --workdir runs/vae z.npy --out decoded/
        """,
    )
    _common(p)
    p.add_argument("latents", metavar="Z.npy", help="latents file")
    p.add_argument("--out", required=True, help="output folder")

    p = add_command(
        subparsers,
        """reconstruct: VAE: encode and decode one file

        Encode and decode one audio file (posterior mean); the output WAV has the input's
        duration at the run's sample rate. Inputs of any length and rate are resampled to the
        run's rate.

        example:
          wavegen vae reconstruct --workdir runs/vae in.wav out.wav
        """,
    )
    _common(p)
    p.add_argument("input", metavar="IN.wav", help="audio file to reconstruct")
    p.add_argument("output", metavar="OUT.wav", help="output WAV")

    p = add_command(
        subparsers,
        """interpolate: VAE: a straight line between the latents of two files

        Decode NUM clips on the straight line between the latent sequences of A and B (the first is
        A's reconstruction, the last B's), DIR/interp_0000.wav ... Inputs of any length and rate are
        resampled to the run's rate.

        example:
          wavegen vae interpolate --workdir runs/vae a.wav b.wav --num 8 --out interp/
        """,
    )
    _common(p)
    p.add_argument("a", metavar="A.wav", help="audio file at the start of the line")
    p.add_argument("b", metavar="B.wav", help="audio file at the end of the line")
    p.add_argument(
        "--num", type=_int_at_least(2), default=8, help="clips including both ends (>= 2)"
    )
    p.add_argument("--out", required=True, help="output folder")

    p = add_command(
        subparsers,
        """sample-prior: VAE: decode latent frames drawn from the prior (or a learned prior)

        Decode NUM latent sequences whose frames are drawn independently from N(0, temperature² I),
        DIR/prior_0000.wav ... (what the decoder makes of the prior, not a model of latent
        dynamics); with --prior, sequences sampled from a learned autoregressive prior (a
        latent_prior run over this VAE, experiments/prior_notes.py), its predicted scales
        multiplied by the temperature.

        examples:
          wavegen vae sample-prior --workdir runs/vae --num 4 --seconds 2 --out prior/ \\
              --temperature 0.8
          wavegen vae sample-prior --workdir runs/vae --prior runs/prior --num 4 --seconds 1 \\
              --out prior/
        """,
    )
    _common(p)
    p.add_argument("--num", type=_positive_int, default=4, help="number of clips")
    p.add_argument("--seconds", type=float, required=True, help="duration of each clip")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument(
        "--temperature",
        type=float,
        default=1.0,
        help="standard deviation of N(0, I) draws, or the learned prior's scale multiplier",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the prior draws (default 0)")
    p.add_argument(
        "--prior",
        default=None,
        metavar="PRIOR_RUN",
        help="a latent_prior run over this VAE to sample from (default: N(0, I) frames)",
    )

    p = add_command(
        subparsers,
        """eval: VAE: held-out reconstruction metrics (STFT, mel, SI-SDR, f0, loudness)

        Reconstruct a split of the run's dataset from posterior means and report the
        multi-resolution STFT distance, the mel distance (lower is better), SI-SDR, the fraction of
        pitched clips reconstructed within 50 cents of their f0 and the median f0 error in cents
        (over f0_num_clips clips), and the loudness-envelope correlation.

        example:
          wavegen vae eval --workdir runs/vae --json runs/vae/recon.json
        """,
    )
    _common(p)
    p.add_argument("--split", default="test", help="dataset split (default: test)")
    p.add_argument("--max-examples", type=int, default=None, help="only the first N clips")
    p.add_argument("--json", default=None, metavar="OUT", help="also write the metrics there")


def run_vae_command(args: argparse.Namespace) -> int:
    """Runs one ``wavegen vae`` subcommand and prints one line.

    Args:
        args: the parsed command line (``args.vae_command`` names the subcommand).

    Returns:
        The exit status (0).
    """
    from wavegen.eval.reconstruction import evaluate_reconstruction
    from wavegen.inference import autoencode as ae

    if args.vae_command == "encode":
        z = ae.encode_files(args.workdir, args.inputs, args.out, step=args.step)
        print(f"wrote {args.out}: posterior means {list(z.shape)} of {len(args.inputs)} file(s)")
    elif args.vae_command == "decode":
        paths = ae.decode_file(args.workdir, args.latents, args.out, step=args.step)
        print(f"wrote {len(paths)} WAVs to {args.out}")
    elif args.vae_command == "reconstruct":
        path = ae.reconstruct_file(args.workdir, args.input, args.output, step=args.step)
        print(f"wrote {path}")
    elif args.vae_command == "interpolate":
        paths = ae.interpolate_files(
            args.workdir, args.a, args.b, args.num, args.out, step=args.step
        )
        print(f"wrote {len(paths)} WAVs ({args.a} → {args.b}) to {args.out}")
    elif args.vae_command == "sample-prior":
        paths = ae.sample_prior(
            args.workdir,
            args.num,
            args.seconds,
            args.out,
            seed=args.seed,
            temperature=args.temperature,
            step=args.step,
            prior=args.prior,
        )
        source = f" from the prior {args.prior}" if args.prior else ""
        print(f"wrote {len(paths)} WAVs of {args.seconds:g} s{source} to {args.out}")
    elif args.vae_command == "eval":
        m = evaluate_reconstruction(
            args.workdir,
            args.split,
            step=args.step,
            max_examples=args.max_examples,
            out_json=args.json,
        )
        where = f"; written to {args.json}" if args.json else ""
        print(json.dumps(m) + where)
    else:
        raise AssertionError(args.vae_command)
    return 0
