"""The project's two error bases; ``wavegen``'s CLI prints these as one line, nothing else.

- :class:`ConfigError`: a config file, variant, key or value is wrong (raised before any data is
  decoded or anything is compiled). Every family's config errors derive from it.
- :class:`WavegenError`: anything else the user can fix — unreadable data, a damaged
  checkpoint, a workdir of another config, a bad argument. ``ConfigError`` is one too.

Any other exception (a library's ``ValueError``, a bug here) is not a ``WavegenError`` and keeps
its traceback. Both derive from ``ValueError`` so code written against the older classes still
catches them.
"""

from __future__ import annotations


class WavegenError(ValueError):
    """Something the user can fix; the message names the file, key or argument and why."""


class ConfigError(WavegenError):
    """A config file, variant, key or override is invalid. The message says which and why."""


__all__ = ["ConfigError", "WavegenError"]
