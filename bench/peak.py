"""How close the default image models' training comes to this machine's matmul peak.

    python -m bench.peak     (part of make bench)

In one process: the peak, as the best of a few float32 matrix products (2048 x 2048) on all
threads; then, for the default mnist and cifar10 models of params.yaml (their batch size,
augmentation and optimizer), a number of training steps on synthetic uint8 images of the
real size. For each: images a second, the floating-point work of a step as PyTorch counts it
(FlopCounterMode: convolutions and matrix products, forward and backward), the rate that
work reached as a fraction of the peak, the rate the convolution kernels reach on their
own (their counted work over their own time, torch.profiler), and the share of the step's
time those kernels took: the rest (batch norm, activations, pooling, the optimizer,
augmentation) is what holds the whole step's fraction down.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch
from torch.utils.flop_counter import FlopCounterMode

from reprolab.core import params
from reprolab.core.params import TrainParams
from reprolab.data import tasks
from reprolab.learning import models
from reprolab.learning.inference import LOSSES, Split, forward
from reprolab.learning.loop import batches, make_optimizer

TASKS = {"mnist": [1, 28, 28], "cifar10": [3, 32, 32]}
MATMUL_OPS = ("conv", "mm", "addmm", "bmm", "matmul", "linear")


def matmul_peak(n: int = 2048, repeats: int = 5) -> float:
    """FLOP/s of the best of `repeats` n x n float32 products."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    best = min(_timed(lambda: torch.mm(a, b)) for _ in range(repeats))
    return 2 * n**3 / best


def _timed(work) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def default_setup(task: str, shape: list[int], x: torch.Tensor):
    """The task's model and training settings as params.yaml has them, built as the train
    stage builds them (reprolab.learning.models.from_features) for data of this shape."""
    checked = params.load({task: tasks.get(task)}, models=models.entries())
    meta = {"n_features": shape, "n_outputs": 10, "normalize": {"mean": [0.5] * shape[0], "std": [0.25] * shape[0]}}
    _, model = models.from_features(checked.task(task).model.model_dump(), meta, x, None)
    return model, checked.train_for(task)


Step = Callable[[Split], None]


def training_steps(task: str, shape: list[int], batches_wanted: int) -> tuple[Step, list[Split], TrainParams]:
    """The default model's training step, as params.yaml sets it up, and batches of synthetic
    uint8 images of the real size (augmented as in training)."""
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (5000, *shape), dtype=torch.uint8, generator=g)
    model, cfg = default_setup(task, shape, images)
    rows = cfg.batch_size * batches_wanted
    data = Split(torch.randint(0, 256, (rows, *shape), dtype=torch.uint8, generator=g), torch.arange(rows) % 10)
    loss_fn, optimizer = LOSSES["multiclass"](), make_optimizer(model.parameters(), cfg)
    model.train()

    def step(batch: Split) -> None:
        optimizer.zero_grad(set_to_none=True)
        loss_fn(forward(model, batch.x, "multiclass"), batch.y).backward()
        optimizer.step()

    return step, list(batches(data, cfg.batch_size, g, cfg.augment, cfg.crop_padding, cfg.flip)), cfg


def measure(task: str, shape: list[int], peak: float, steps: int = 20) -> dict[str, float]:
    step, chunks, cfg = training_steps(task, shape, steps + 2)
    step(chunks[0])  # warm-up
    with FlopCounterMode(display=False) as counter:
        step(chunks[1])
    flops = counter.get_total_flops()
    conv_flops = sum(n for op, n in counter.get_flop_counts()["Global"].items() if "convolution" in str(op))
    seconds = _timed(lambda: [step(b) for b in chunks[2:]]) / steps
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        for b in chunks[2:6]:
            step(b)
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events)  # microseconds, 4 steps
    matmul = sum(e.self_cpu_time_total for e in events if any(op in e.key for op in MATMUL_OPS))
    conv = sum(e.self_cpu_time_total for e in events if "conv" in e.key)
    return {
        "images/s": cfg.batch_size / seconds,
        "GFLOP a step": flops / 1e9,
        "fraction of peak": flops / seconds / peak,
        "conv fraction of peak": conv_flops * 4 / (conv / 1e6) / peak if conv else 0.0,
        "share in conv/matmul": matmul / total if total else 0.0,
    }


def main() -> None:
    peak = matmul_peak()
    print(f"threads: {torch.get_num_threads()}; float32 matmul peak (2048^3): {peak / 1e9:.1f} GFLOP/s")
    print("of peak: a whole training step's counted work; convs: the convolution kernels' own work over")
    print("their own time (profiler); conv+mm time: their share of the step, the rest is what holds it down")
    print(f"{'default model':<14} {'images/s':>9} {'GFLOP/step':>11} {'of peak':>8} {'convs':>7} {'conv+mm time':>13}")
    for task, shape in TASKS.items():
        m = measure(task, shape, peak)
        print(
            f"{task:<14} {m['images/s']:>9.0f} {m['GFLOP a step']:>11.2f} {m['fraction of peak']:>8.1%}"
            f" {m['conv fraction of peak']:>7.1%} {m['share in conv/matmul']:>13.1%}"
        )


if __name__ == "__main__":
    main()
