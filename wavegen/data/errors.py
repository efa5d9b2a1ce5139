"""The data pipeline's one exception type."""

from __future__ import annotations

from wavegen.errors import WavegenError


class AudioDataError(WavegenError):
    """Bad audio input or data config: the message names the file or key and what was expected.

    A ``ValueError`` so callers that treat bad user input generically (the CLI) report it as one
    clear line instead of a traceback.
    """
