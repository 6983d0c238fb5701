"""Epoch time of reprolab's training loop against a plain DataLoader(TensorDataset) loop.

Same data, model, optimizer and per-step work, in one process; printed as ratios
(DataLoader time / trainer time), so a figure above 1 means the trainer is faster.
Two tables: an NSL-KDD-shaped MLP at batch sizes 1, 64 and 1024, and the news
task's single-layer perceptron at 1, 2, 4, ... 1024 (the classic exercise's table).
Run: make bench  (or python -m bench.trainer)
"""

from __future__ import annotations

import time

import torch
from torch.utils.data import DataLoader, TensorDataset

from reprolab.core.params import TrainParams
from reprolab.learning.inference import LOSSES, Split, correct, forward
from reprolab.learning.loop import fit
from reprolab.learning.models import build

NSLKDD_MLP = {"name": "mlp", "hidden": [32, 64], "activation": "sigmoid", "dropout": 0.0, "n_in": 122, "n_out": 1}
NEWS_SLP = {"name": "slp", "n_in": 300, "n_out": 4}


def data(rows: int, features: int, kind: str) -> Split:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(rows, features, generator=g)
    y = (x[:, 0] + x[:, 1] > 0).float() if kind == "binary" else x[:, :4].argmax(dim=1)
    return Split(x, y)


def trainer_epoch(model_config: dict, kind: str, train: Split, batch_size: int) -> float:
    torch.manual_seed(0)
    cfg = TrainParams(
        epochs=1, batch_size=batch_size, lr=0.1, optimizer="sgd", momentum=0.0, weight_decay=0.0,
        scheduler="none", step_size=1, gamma=1.0, patience=0, threads=0, augment=False, processes=1,
    )  # fmt: skip
    model, tiny_val = build(model_config), Split(train.x[:8], train.y[:8])
    start = time.perf_counter()
    fit(model, kind, train, tiny_val, cfg, torch.Generator().manual_seed(0))
    return time.perf_counter() - start


def dataloader_epoch(model_config: dict, kind: str, train: Split, batch_size: int) -> float:
    torch.manual_seed(0)
    model = build(model_config)
    optimizer, loss_fn = torch.optim.SGD(model.parameters(), lr=0.1), LOSSES[kind]()
    loader = DataLoader(TensorDataset(train.x, train.y), batch_size=batch_size, shuffle=True)
    start = time.perf_counter()
    model.train()
    loss_sum, hits = torch.zeros(()), torch.zeros((), dtype=torch.long)
    for x, y in loader:
        optimizer.zero_grad(set_to_none=True)
        out = forward(model, x, kind)
        loss = loss_fn(out, y)
        loss.backward()
        optimizer.step()
        loss_sum += loss.detach() * len(y)
        hits += correct(out.detach(), y, kind)
    loss_sum.item()
    return time.perf_counter() - start


def table(title: str, model_config: dict, kind: str, train: Split, batch_sizes: list[int], repeats: int) -> None:
    print(f"\n{title}: {len(train)} rows, {train.x.shape[1]} features, seconds per epoch")
    print(f"{'batch':>6} {'trainer':>9} {'DataLoader':>11} {'ratio':>6}")
    for batch_size in batch_sizes:
        trainer_epoch(model_config, kind, train, batch_size)  # warm-up: first-call costs stay out
        ours = min(trainer_epoch(model_config, kind, train, batch_size) for _ in range(repeats))
        plain = min(dataloader_epoch(model_config, kind, train, batch_size) for _ in range(repeats))
        print(f"{batch_size:>6} {ours:>9.3f} {plain:>11.3f} {plain / ours:>6.2f}")


def main() -> None:
    torch.set_num_threads(1)  # what params.yaml's train.threads sets for these small models
    table("nslkdd-shaped MLP 122-32-64-1", NSLKDD_MLP, "binary", data(16384, 122, "binary"), [1, 64, 1024], 3)
    news = data(10672, 300, "multiclass")  # the news task's training split
    table("news SLP 300-4, no bias", NEWS_SLP, "multiclass", news, [2**i for i in range(11)], 2)


if __name__ == "__main__":
    main()
