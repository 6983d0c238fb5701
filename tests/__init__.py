"""The test suite. In-process tests compute as the stages do: pinned before torch loads."""

from reprolab.core import kernels

kernels.pin("portable")
