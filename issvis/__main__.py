"""``python -m issvis``: the same command line as ``issvis`` (for an environment whose scripts are not on PATH)."""

import sys

from .cli import main

sys.exit(main())
