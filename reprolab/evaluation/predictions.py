"""The predictions table: one row per input, its id, the label by name and the probability
of each class (regression: the value). The evaluate stage writes it for the test split
(reports/T/predictions.csv) and `reprolab predict` for a user's inputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
from torch import Tensor

from reprolab.learning.inference import decide


def predictions_table(ids: list, out: Tensor, kind: str, classes: list[str], threshold: float = 0.5) -> pd.DataFrame:
    """The predictions as `evaluate` writes them (reports/T/predictions.csv) and `reprolab predict`
    prints them: id, label by name and each class's probability (regression: the value)."""
    pred, score = (t.numpy() for t in decide(out, kind, threshold))
    if kind == "regression":
        return pd.DataFrame({"id": ids, "prediction": pred})
    probabilities = score if kind == "multiclass" else np.stack([1.0 - score, score], axis=1)
    columns = {"id": ids, "label": np.asarray(classes)[pred]}
    columns |= {f"p_{name}": probabilities[:, i] for i, name in enumerate(classes)}
    return pd.DataFrame(columns)
