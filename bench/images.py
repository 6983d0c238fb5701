"""Training throughput (images per second) of each image model, and the effect of
channels-last memory format, on synthetic uint8 batches of the real image sizes.
Run: python -m bench.images
"""

from __future__ import annotations

import time

import torch

from reprolab.models import build
from reprolab.training import LOSSES

MODELS = {
    "mnist linear": ({"name": "linear"}, [1, 28, 28]),
    "mnist mlp": ({"name": "mlp", "hidden": [100]}, [1, 28, 28]),
    "mnist cnn": ({"name": "cnn", "channels": [32, 64], "hidden": [100]}, [1, 28, 28]),
    "cifar10 cnn": ({"name": "cnn", "channels": [32, 64, 128], "batch_norm": True, "hidden": [256]}, [3, 32, 32]),
    "cifar10 resnet18": ({"name": "resnet18"}, [3, 32, 32]),
}
DEFAULTS = {
    "hidden": [],
    "activation": "relu",
    "dropout": 0.0,
    "channels": [],
    "convs_per_block": 1,
    "batch_norm": False,
}


def images_per_second(options: dict, shape: list[int], batch: int, channels_last: bool, seconds: float) -> float:
    torch.manual_seed(0)
    norm = {"mean": [0.5] * shape[0], "std": [0.25] * shape[0]}
    model = build({**DEFAULTS, **options, "n_in": shape, "n_out": 10, "normalize": norm})
    x = torch.randint(0, 256, (batch, *shape), dtype=torch.uint8)
    y = torch.randint(0, 10, (batch,))
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    optimizer, loss_fn = torch.optim.SGD(model.parameters(), lr=0.01), LOSSES["multiclass"]()
    steps, start = 0, None
    while start is None or time.perf_counter() - start < seconds:
        optimizer.zero_grad()
        loss_fn(model(x), y).backward()
        optimizer.step()
        steps += 1
        if start is None and steps == 2:  # the first steps warm up; time the rest
            start, steps = time.perf_counter(), 0
    return steps * batch / (time.perf_counter() - start)


def main(seconds: float = 3.0, batch: int = 128) -> None:
    print(f"threads: {torch.get_num_threads()}, batch {batch}")
    print(f"{'model':<18} {'images/s':>9} {'channels-last':>14} {'ratio':>6}")
    for name, (options, shape) in MODELS.items():
        plain = images_per_second(options, shape, batch, False, seconds)
        last = images_per_second(options, shape, batch, True, seconds)
        print(f"{name:<18} {plain:>9.0f} {last:>14.0f} {last / plain:>6.2f}")


if __name__ == "__main__":
    main()
