"""Progress bars for long work: shown on a terminal, never in CI."""

from __future__ import annotations

import os
import sys


def quiet() -> bool:
    return bool(os.environ.get("CI")) or not sys.stderr.isatty()
