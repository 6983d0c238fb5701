"""Models by name. A model is built from its params block and the data's shape."""

from __future__ import annotations

from typing import Any

from torch import nn

ACTIVATIONS = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}


def linear(n_in: int, n_out: int, **_: Any) -> nn.Module:
    return nn.Linear(n_in, n_out)


def mlp(n_in: int, n_out: int, *, hidden: list[int], activation: str, dropout: float, **_: Any) -> nn.Module:
    layers: list[nn.Module] = []
    for width in hidden:
        layers += [nn.Linear(n_in, width), ACTIVATIONS[activation]()]
        if dropout:
            layers.append(nn.Dropout(dropout))
        n_in = width
    return nn.Sequential(*layers, nn.Linear(n_in, n_out))


MODELS = {"linear": linear, "mlp": mlp}


def build(config: dict[str, Any]) -> nn.Module:
    """config: the task's model params plus n_in and n_out (as saved in the checkpoint)."""
    options = {key: value for key, value in config.items() if key != "name"}
    return MODELS[config["name"]](**options)
