"""Dense models, for any data: the features' x (a table's columns, an image's pixels, a
headline's mean word vector)."""

from __future__ import annotations

import math

from torch import nn

from reprolab.learning.models.layers import dense

MODELS = {
    "linear": {"inputs": None},
    "mlp": {"inputs": None, "keys": ["hidden", "activation", "dropout", "batch_norm"]},
}


def linear(n_in: int | list[int], n_out: int) -> nn.Module:
    if isinstance(n_in, int):
        return nn.Linear(n_in, n_out)
    return nn.Sequential(nn.Flatten(), nn.Linear(math.prod(n_in), n_out))


def mlp(
    n_in: int | list[int],
    n_out: int,
    *,
    hidden: list[int],
    activation: str,
    dropout: float,
    batch_norm: bool = False,
) -> nn.Module:
    layers = dense(math.prod(n_in) if isinstance(n_in, list) else n_in, n_out, hidden, activation, dropout, batch_norm)
    return nn.Sequential(*layers) if isinstance(n_in, int) else nn.Sequential(nn.Flatten(), *layers)
