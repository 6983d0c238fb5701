"""What the models of this folder share: activations, dense layers, the images' normalisation
held as buffers (so a model file carries its own preprocessing), and test-time flips."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

ACTIVATIONS = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}


class Normalize(nn.Module):
    mean: Tensor
    std: Tensor

    def __init__(self, mean: list[float], std: list[float], channels_last: bool = False) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1))
        self.channels_last = channels_last

    def forward(self, x: Tensor) -> Tensor:
        x = (x.float() / 255.0 - self.mean) / self.std
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x


def dense(
    n_in: int, n_out: int, hidden: list[int], activation: str, dropout: float, batch_norm: bool = False
) -> list[nn.Module]:
    """Dense hidden layers ([batch norm], activation, [dropout]), then the output layer."""
    layers: list[nn.Module] = []
    for width in hidden:
        layers.append(nn.Linear(n_in, width, bias=not batch_norm))
        if batch_norm:
            layers.append(nn.BatchNorm1d(width))
        layers.append(ACTIVATIONS[activation]())
        if dropout:
            layers.append(nn.Dropout(dropout))
        n_in = width
    return [*layers, nn.Linear(n_in, n_out)]


class FlipAverage(nn.Module):
    """Test-time flips (`tta: true`): out of training, the mean of the logits of each image and
    of its mirror image, left to right; in training, the model alone."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: Tensor) -> Tensor:
        out = self.model(x)
        return out if self.training else (out + self.model(x.flip(-1))) / 2


def finish(model: nn.Module, config: dict[str, Any], convolutional: bool) -> nn.Module:
    """A built model with what its configuration adds around it: test-time flips, the
    channels-last layout of convolutional models, the images' normalisation."""
    if config.get("tta"):
        model = FlipAverage(model)
    # Convolutions run 1.3-1.8x faster in channels-last layout on the CPU (bench/images.py).
    if convolutional:
        model = model.to(memory_format=torch.channels_last)
    if "normalize" in config:
        model = nn.Sequential(Normalize(**config["normalize"], channels_last=convolutional), model)
    return model
