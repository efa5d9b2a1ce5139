#!/usr/bin/env python3
"""WaveGAN-Table-1-style results table from evaluated runs (same as ``wavegen eval table``).

Inputs, rows in the given order: run directories holding eval.json, eval JSON files (e.g. from
``wavegen eval real --out``), sweep roots (their sweep.json order) or folders of evaluated runs.

    .venv/bin/python tools/make_table.py runs/real_train.json runs/real_test.json runs/sweep \
        --markdown docs/table.md --latex docs/table.tex

Prints the Markdown table when neither --markdown nor --latex is given.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Markdown/LaTeX table (IS ± std, FD, NDB/K, |D|self, |D|train on log-mels "
        "as the WaveGAN reference, |D|self and |D|train in classifier space) from eval.json files.",
        epilog="example:\n  tools/make_table.py runs/real_test.json runs/sweep "
        "--markdown out.md --latex out.tex",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("inputs", nargs="+", metavar="RUN_OR_ROOT")
    parser.add_argument("--markdown", default=None, help="write the Markdown table here")
    parser.add_argument("--latex", default=None, help="write the LaTeX tabular here")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO))  # run from a checkout without installing the package
    from wavegen.eval.tables import make_tables

    try:
        markdown, _ = make_tables(args.inputs, markdown=args.markdown, latex=args.latex)
    except ValueError as e:  # TableError: a missing or unreadable input, named in the message
        print(f"make_table: error: {e}", file=sys.stderr)
        return 2
    if args.markdown is None and args.latex is None:
        print(markdown, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
