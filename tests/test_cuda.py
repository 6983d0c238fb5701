"""`device: cuda`: the models train on a GPU unchanged (channels-last convolutions, bfloat16
autocast), under the deterministic settings `pick_device` turns on. Skipped without a GPU."""

from __future__ import annotations

import pytest
import torch

from reprolab.core.params import TrainParams
from reprolab.core.runtime import pick_device, seed_everything
from reprolab.learning.inference import Split, outputs
from reprolab.learning.loop import fit
from reprolab.learning.models import build

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here")

CFG = dict(
    epochs=2, batch_size=32, lr=0.05, optimizer="nesterov", momentum=0.9, weight_decay=5e-4, scheduler="onecycle",
    step_size=1, gamma=1.0, patience=0, threads=0, augment=False, label_smoothing=0.1,
)  # fmt: skip
MODELS = {
    "cnn": ({"channels": [8, 16], "convs_per_block": 2, "batch_norm": True, "hidden": [], "dropout": 0.0}, True),
    "resnet18": ({}, True),
    "mlp": ({"hidden": [16], "dropout": 0.0}, False),
}


def _images(n: int, seed: int) -> Split:
    g = torch.Generator().manual_seed(seed)
    return Split(torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=g), torch.arange(n) % 10)


def _train(name: str, options: dict, augment: bool) -> tuple[torch.nn.Module, list[float]]:
    device = pick_device("cuda")
    generator = seed_everything(0)
    config = {"name": name, "activation": "relu", **options, "n_in": [3, 32, 32], "n_out": 10}
    config["normalize"] = {"mean": [0.5] * 3, "std": [0.25] * 3}
    model = build(config).to(device)
    train, val = _images(128, 1).to(device), _images(32, 2).to(device)
    result = fit(model, "multiclass", train, val, TrainParams(**{**CFG, "augment": augment}), generator)
    return model, [e.train_loss for e in result.history]


@pytest.mark.parametrize("name", MODELS)
def test_a_model_trains_on_cuda_and_repeats_itself(name):
    options, augment = MODELS[name]
    model, losses = _train(name, options, augment)
    assert all(torch.isfinite(torch.tensor(losses)))
    assert next(model.parameters()).is_cuda
    if name in ("cnn", "resnet18"):
        conv = next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d))
        assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    again, losses_again = _train(name, options, augment)
    assert losses_again == losses  # deterministic on the GPU too
    x = _images(16, 3).x.cuda()
    assert torch.equal(outputs(model, x, "multiclass"), outputs(again, x, "multiclass"))


def test_convolutions_run_in_bfloat16_under_autocast():
    seen = []
    model, _ = _train("cnn", MODELS["cnn"][0], False)
    conv = next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d))
    conv.register_forward_hook(lambda module, args, out: seen.append(out.dtype))
    with torch.autocast("cuda", dtype=torch.bfloat16):
        model(_images(4, 5).x.cuda())
    assert seen == [torch.bfloat16]


def test_fasttext_trains_on_cuda():
    device = pick_device("cuda")
    generator = seed_everything(0)
    model = build({"name": "fasttext", "n_in": 1, "n_out": 4, "buckets": 1000, "dim": 16, "dropout": 0.0}).to(device)
    g = torch.Generator().manual_seed(0)
    data = Split(torch.randint(0, 1001, (64, 12), generator=g), torch.arange(64) % 4).to(device)
    cfg = TrainParams(**{**CFG, "optimizer": "adam", "lr": 0.01, "label_smoothing": 0.0})
    result = fit(model, "multiclass", data, data, cfg, generator)
    assert result.history[-1].train_loss < result.history[0].train_loss
