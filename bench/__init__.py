"""Benchmarks (not tests): timings printed as ratios against a baseline of the same run.

They compute with the kernels and threads the stages take (reprolab/core/kernels.py), pinned
here before any benchmark loads torch; bench/kernels.py measures what that pin costs.
"""

from reprolab.core import kernels

kernels.pin_configured("bench")
