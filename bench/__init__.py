"""Benchmarks (not tests): timings printed as ratios against a baseline of the same run.

They compute with the kernels and threads the stages take (reprolab/kernels.py), pinned
here before any benchmark loads torch; bench/kernels.py measures what that pin costs.
"""

import sys

from reprolab import kernels

try:
    kernels.pin(kernels.configured())
except kernels.KernelError as err:
    sys.exit(f"error: bench: {err}")
