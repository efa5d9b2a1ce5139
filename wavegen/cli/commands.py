"""A subcommand declared by one block of text: its help line, its description, its examples.

Every ``wavegen`` command (and command group) is declared this way, so a command's help reads
in the source as it prints, and the parsers differ only in their options.
"""

from __future__ import annotations

import argparse
import inspect
from typing import Any


def add_command(subparsers: Any, doc: str) -> argparse.ArgumentParser:
    """Adds the subcommand ``doc`` declares and returns its parser.

    ``doc`` is read as a docstring (its indentation removed)::

        NAME: the one-line help that the parent's --help lists

        The description: paragraphs, printed as written.

        example:
          wavegen NAME ...

    The last paragraph is the epilog when it starts with "example" (it may go on with other
    lines, e.g. a list of accepted values); without a description paragraph the help line is
    the description.

    Args:
        subparsers: what ``ArgumentParser.add_subparsers`` returned.
        doc: the block above.

    Returns:
        The new subcommand's parser (RawDescriptionHelpFormatter: line breaks kept).

    Raises:
        ValueError: the first line is not ``NAME: help`` (a bug in the declaration).
    """
    text = inspect.cleandoc(doc)
    head, _, rest = text.partition("\n")
    name, sep, help_text = head.partition(": ")
    if not sep or not name or " " in name or not help_text:
        raise ValueError(f"a command's first line must be 'NAME: help'; got {head!r}")
    blocks = [b for b in rest.strip("\n").split("\n\n") if b.strip()]
    epilog = blocks.pop() if blocks and blocks[-1].startswith("example") else None
    return subparsers.add_parser(
        name,
        help=help_text,
        description="\n\n".join(blocks) or help_text,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
