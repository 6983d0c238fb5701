"""Epoch time of reprolab's training loop against a plain DataLoader(TensorDataset) loop.

Same data, model, optimizer and per-step work, in one process; printed as ratios
(DataLoader time / trainer time), so a figure above 1 means the trainer is faster.
Run: make bench  (or python -m bench.trainer)
"""

from __future__ import annotations

import time

import torch
from torch.utils.data import DataLoader, TensorDataset

from reprolab.models import build
from reprolab.params import TrainParams
from reprolab.training import LOSSES, Split, correct, fit, forward

FEATURES, ROWS = 122, 16384  # NSL-KDD's width after one-hot encoding
MODEL = {"name": "mlp", "hidden": [32, 64], "activation": "sigmoid", "dropout": 0.0, "n_in": FEATURES, "n_out": 1}


def data(rows: int) -> Split:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(rows, FEATURES, generator=g)
    return Split(x, (x[:, 0] + x[:, 1] > 0).float())


def trainer_epoch(train: Split, batch_size: int) -> float:
    torch.manual_seed(0)
    cfg = TrainParams(
        epochs=1, batch_size=batch_size, lr=0.1, optimizer="sgd", momentum=0.0, weight_decay=0.0,
        scheduler="none", step_size=1, gamma=1.0, patience=0, threads=0, augment=False,
    )  # fmt: skip
    model, tiny_val = build(MODEL), Split(train.x[:8], train.y[:8])
    start = time.perf_counter()
    fit(model, "binary", train, tiny_val, cfg, torch.Generator().manual_seed(0))
    return time.perf_counter() - start


def dataloader_epoch(train: Split, batch_size: int) -> float:
    torch.manual_seed(0)
    model = build(MODEL)
    optimizer, loss_fn = torch.optim.SGD(model.parameters(), lr=0.1), LOSSES["binary"]()
    loader = DataLoader(TensorDataset(train.x, train.y), batch_size=batch_size, shuffle=True)
    start = time.perf_counter()
    model.train()
    loss_sum, hits = torch.zeros(()), torch.zeros((), dtype=torch.long)
    for x, y in loader:
        optimizer.zero_grad(set_to_none=True)
        out = forward(model, x, "binary")
        loss = loss_fn(out, y)
        loss.backward()
        optimizer.step()
        loss_sum += loss.detach() * len(y)
        hits += correct(out.detach(), y, "binary")
    loss_sum.item()
    return time.perf_counter() - start


def main() -> None:
    torch.set_num_threads(1)  # what params.yaml's train.threads sets for these small models
    print(f"{'batch':>6} {'rows':>6} {'trainer s':>10} {'DataLoader s':>13} {'ratio':>6}")
    for batch_size in (1, 64, 1024):
        rows = 4096 if batch_size == 1 else ROWS
        train = data(rows)
        trainer_epoch(train, batch_size)  # warm-up: first-call costs stay out of the figures
        dataloader_epoch(train, batch_size)
        ours = min(trainer_epoch(train, batch_size) for _ in range(3))
        plain = min(dataloader_epoch(train, batch_size) for _ in range(3))
        print(f"{batch_size:>6} {rows:>6} {ours:>10.3f} {plain:>13.3f} {plain / ours:>6.2f}")


if __name__ == "__main__":
    main()
