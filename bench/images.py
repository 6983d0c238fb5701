"""Training throughput (images per second) of reprolab's training loop for each image
model, as shipped (convolutions in channels-last layout) and with the plain layout,
on synthetic uint8 images of the real sizes. Run: python -m bench.images
"""

from __future__ import annotations

import time

import torch

from reprolab.core.params import TrainParams
from reprolab.learning.inference import Split
from reprolab.learning.loop import fit
from reprolab.learning.models import build, entry
from reprolab.learning.models.layers import Normalize

MODELS = {
    "mnist linear": ({"name": "linear"}, [1, 28, 28], False),
    "mnist mlp": ({"name": "mlp", "hidden": [100]}, [1, 28, 28], False),
    "mnist cnn": ({"name": "cnn", "channels": [32, 64], "hidden": [100]}, [1, 28, 28], False),
    "cifar10 cnn": ({"name": "cnn", "channels": [32, 64, 128], "batch_norm": True, "hidden": [256]}, [3, 32, 32], True),
    "cifar10 resnet18": ({"name": "resnet18"}, [3, 32, 32], True),
}
DEFAULTS = {
    "hidden": [],
    "activation": "relu",
    "dropout": 0.0,
    "channels": [],
    "convs_per_block": 1,
    "batch_norm": False,
}


def images_per_second(options: dict, shape: list[int], augment: bool, channels_last: bool, rows: int) -> float:
    torch.manual_seed(0)
    norm = {"mean": [0.5] * shape[0], "std": [0.25] * shape[0]}
    model = build({**DEFAULTS, **options, "n_in": shape, "n_out": 10, "normalize": norm})
    if not channels_last:
        model = model.to(memory_format=torch.contiguous_format)
        next(m for m in model.modules() if isinstance(m, Normalize)).channels_last = False
    g = torch.Generator().manual_seed(0)
    data = Split(torch.randint(0, 256, (rows, *shape), dtype=torch.uint8, generator=g), torch.arange(rows) % 10)
    cfg = TrainParams(
        epochs=1, batch_size=128, lr=0.01, optimizer="momentum", momentum=0.9, weight_decay=0.0,
        scheduler="none", step_size=1, gamma=1.0, patience=0, threads=0, augment=augment, processes=1,
    )  # fmt: skip
    tiny = Split(data.x[:8], data.y[:8])
    fit(model, "multiclass", Split(data.x[:256], data.y[:256]), tiny, cfg, g)  # warm-up
    start = time.perf_counter()
    fit(model, "multiclass", data, tiny, cfg, g)
    return rows / (time.perf_counter() - start)


def main() -> None:
    print(f"threads: {torch.get_num_threads()}, batch 128, one epoch of the training loop")
    print(f"{'model':<18} {'augment':>7} {'images/s':>9} {'plain layout':>13} {'ratio':>6}")
    for name, (options, shape, augment) in MODELS.items():
        rows = 512 if "resnet" in name else 4096
        shipped = images_per_second(options, shape, augment, True, rows)
        if entry(options["name"]).inputs != "image":  # dense models: the layout does not apply
            print(f"{name:<18} {augment!s:>7} {shipped:>9.0f} {'-':>13} {'-':>6}")
            continue
        plain = images_per_second(options, shape, augment, False, rows)
        print(f"{name:<18} {augment!s:>7} {shipped:>9.0f} {plain:>13.0f} {shipped / plain:>6.2f}")


if __name__ == "__main__":
    main()
