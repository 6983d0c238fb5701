"""The test suite. In-process tests compute as the stages do: pinned before torch loads."""

from reprolab import kernels

kernels.pin("portable")
