"""``python -m wavegen``: the same as the ``wavegen`` command."""

import sys

from wavegen.cli import main

if __name__ == "__main__":
    sys.exit(main())
