"""The model file, models/T.pt: the weights and everything prediction needs (the task's kind
and class names, the table encoder, the vocabulary and word vectors, the image shape), as
tensors and plain types that `torch.load(..., weights_only=True)` reads. Nothing in data/ is
needed to use it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from reprolab.core import paths
from reprolab.core.errors import UserError
from reprolab.core.files import load_arrays, load_tensors, save_tensors
from reprolab.data.tasks.base import Task
from reprolab.learning.models import build

FORMAT = 4  # 1: {"config", "kind", "state_dict"}, preprocessing left in data/features/; 2: text unencoded;
# 3: no table layout, image form or text column (the classic tasks' own modules held them)


def text_encoder(path: Path, written_by: str) -> dict[str, Any]:
    """The text encoder's dict (TextEncoder.to_dict) from the file featurize saved it to
    (reprolab/data/features/text.py: save_encoder), its vectors a tensor."""
    saved = load_arrays(path, written_by)
    return json.loads(saved["settings"].item()) | {"vectors": torch.from_numpy(saved["vectors"])}


def bundle(task: Task, config: dict, model: nn.Module, meta: dict, features: Path) -> dict[str, Any]:
    """What the train stage saves: `meta` is the featurize stage's meta.json, `features` its folder."""
    preprocess: dict[str, Any] = {}
    if task.modality == "table":  # the table's encoder, fit by featurize (reprolab/data/features/table.py)
        preprocess["encoder"] = meta["encoder"]
        preprocess["layout"] = {  # how a file of rows is read (reprolab/prediction/apply.py)
            "headerless": list(task.headerless),
            "features": list(task.features),
            "nonnegative": list(task.nonnegative),
        }
    elif task.modality == "text":  # the text's (reprolab/data/features/text.py)
        preprocess["encoder"] = text_encoder(features / paths.TEXT_ENCODER, f"featurize@{task.name}")
        preprocess["text"] = task.text
    else:
        preprocess["image_shape"] = list(task.image_shape or ())
        preprocess["image_form"] = task.image_form
    return {
        "format": FORMAT,
        "task": task.name,
        "kind": task.kind,
        "modality": task.modality,
        "classes": list(task.classes),
        "config": config,
        "state_dict": {name: tensor.cpu() for name, tensor in model.state_dict().items()},
        "preprocess": preprocess,
    }


def load(path: Path, task: str) -> tuple[dict[str, Any], nn.Module]:
    """The saved bundle and its model, ready to predict (eval mode)."""
    saved = load_tensors(path, f"train@{task}")
    if not isinstance(saved, dict) or saved.get("format") != FORMAT:
        raise UserError(f"{path}: a model file of an older layout; run: dvc repro --force train@{task}")
    saved["config"].setdefault("threshold", 0.5)  # saved before models had one: the plain rule
    model = build(saved["config"])
    model.load_state_dict(saved["state_dict"])
    return saved, model.eval()


def save(path: Path, saved: dict[str, Any]) -> None:
    save_tensors(path, saved)
