"""What a trained model gives, shared by the training loop, the evaluate stage and
`reprolab predict`: the forward pass by task kind, outputs in batches, the decisions
(class or value) with their scores, and the featurize stage's tensors read back.

No training here: evaluate and predict import this module, not the loop, so an edit to
the loop's optimizer or batching leaves every evaluate stage up to date.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from reprolab.core.files import load_arrays

LOSSES: dict[str, Callable[[], nn.Module]] = {
    "binary": nn.BCEWithLogitsLoss,
    "multiclass": nn.CrossEntropyLoss,
    "regression": nn.MSELoss,
}
EVAL_BATCH = 1024


@dataclass(frozen=True)
class Split:
    x: Tensor
    y: Tensor  # class indices (multiclass), 0./1. (binary) or values (regression)

    def __len__(self) -> int:
        return len(self.y)

    def to(self, device: torch.device) -> Split:
        return Split(self.x.to(device), self.y.to(device))


def forward(model: nn.Module, x: Tensor, kind: str) -> Tensor:
    out = model(x)
    return out if kind == "multiclass" else out.squeeze(-1)


def predicted_class(out: Tensor, kind: str, threshold: float = 0.5) -> Tensor:
    """Binary: class 1 where its probability is above `threshold` (the logit above its logit)."""
    return (out > math.log(threshold / (1.0 - threshold))).long() if kind == "binary" else out.argmax(dim=1)


def decide(out: Tensor, kind: str, threshold: float = 0.5) -> tuple[Tensor, Tensor]:
    """(prediction, score): class and probability of class 1 (binary), class and
    class probabilities (multiclass), or the value twice (regression)."""
    if kind == "binary":
        return predicted_class(out, kind, threshold), torch.sigmoid(out)
    if kind == "multiclass":
        return predicted_class(out, kind), out.softmax(dim=1)
    return out, out


def correct(out: Tensor, y: Tensor, kind: str, threshold: float = 0.5) -> Tensor:
    return (predicted_class(out, kind, threshold) == y.long()).sum()


@torch.no_grad()
def outputs(model: nn.Module, x: Tensor, kind: str) -> Tensor:
    model.eval()
    return torch.cat([forward(model, x[i : i + EVAL_BATCH], kind) for i in range(0, len(x), EVAL_BATCH)])


def load_split(path: Path, key: str = "x") -> tuple[Split, Tensor]:
    """A split written by the featurize stage (data/features/TASK/SPLIT.npz): (inputs `key`
    and targets, row ids)."""
    arrays = load_arrays(path, f"featurize@{Path(path).parent.name}")
    return Split(torch.from_numpy(arrays[key]), torch.from_numpy(arrays["y"])), torch.from_numpy(arrays["id"])
