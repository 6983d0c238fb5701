"""What the portable pin costs: training throughput of the default cifar10 and mnist models
with the kernels pinned (`reproducible: portable`) against the machine's own (`native`).

    python -m bench.kernels     (part of make bench)

The pin must be set before torch loads, so each measurement is a subprocess of this one
(which loads no torch): the same training steps as bench.peak's (the task's model, batch
size, augmentation, optimizer and thread count from params.yaml, on synthetic images of the
real size), modes alternated over a few rounds, the best of each kept. Printed: images a
second under each mode, and pinned/native as a ratio (below 1: the pin costs that share).
"""

from __future__ import annotations

import os
import subprocess
import sys

from reprolab.core import kernels

TASKS = ("cifar10", "mnist")
ROUNDS = 3
STEPS = {"cifar10": 12, "mnist": 30}


def child(task: str) -> None:
    """In a process pinned already: print the images a second of the task's training steps."""
    import torch

    from bench.peak import TASKS as SHAPES
    from bench.peak import _timed, training_steps

    step, chunks, cfg = training_steps(task, SHAPES[task], STEPS[task] + 1)
    kernels.use_threads(cfg.threads)
    step(chunks[0])  # warm-up
    seconds = _timed(lambda: [step(b) for b in chunks[1:]])
    print(f"{torch.backends.cpu.get_cpu_capability()} {STEPS[task] * cfg.batch_size / seconds:.1f}")


def measure(mode: str, task: str) -> tuple[str, float]:
    code = f"from reprolab.core import kernels; kernels.pin({mode!r}); from bench.kernels import child; child({task!r})"
    # this process is pinned itself (bench/__init__.py): a native child must not inherit the pin
    env = kernels.unpinned_env()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout
    level, rate = out.split()
    return level, float(rate)


def main() -> None:
    print(f"{kernels.cpu_model()} (offers {kernels.offered(kernels.cpu_flags())}), {os.cpu_count()} CPUs\n")
    print(f"{'default model (kernels)':26}{'portable img/s':>16}{'native img/s':>14}{'portable/native':>17}")
    for task in TASKS:
        best: dict[str, tuple[str, float]] = {}
        for _ in range(ROUNDS):
            for mode in ("native", "portable"):
                level, rate = measure(mode, task)
                if rate > best.get(mode, ("", 0.0))[1]:
                    best[mode] = (level, rate)
        (p_level, pinned), (n_level, native) = best["portable"], best["native"]
        label = f"{task} ({p_level} / {n_level})"
        print(f"{label:26}{pinned:>16,.0f}{native:>14,.0f}{pinned / native:>17.2f}")


if __name__ == "__main__":
    main()
