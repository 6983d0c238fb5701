"""Feature transforms, one module per modality, each fit on the training split only."""

from __future__ import annotations

import numpy as np


def divisor(std: np.ndarray) -> np.ndarray:
    """What to divide by when standardizing: the deviation, or 1 where a feature is constant."""
    return np.where(std > 0, std, 1.0)
