"""Throughput of `reprolab predict` after the model file is loaded, on the pipeline's own files;
then its peak memory and time as the inputs grow.

Rows (or images) a second, and the time against the floor of only reading the same inputs
(pandas for KDD lines, PIL for PNG files), in one process: a ratio near 1 means reading
dominates. Then the whole command, as a user runs it, on 10^4, 10^5 and 10^6 headlines and
KDD lines: its peak resident memory and wall time, each against the run of one line (the
imports and the model alone), so that the growth is seen.
Needs the outputs of `make repro` (models/, data/raw/nslkdd, data/split/mnist and news).
Run: make bench  (or python -m bench.predict)
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from reprolab.core import paths
from reprolab.learning import model_file
from reprolab.prediction import apply as prediction


def timed(work) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def run(task: str, inputs: list[Path], floor) -> None:
    start = time.perf_counter()
    saved, model = model_file.load(paths.model(task), task)
    load = time.perf_counter() - start

    def predict() -> int:
        return sum(len(t) for t in prediction.predictions(saved, model, inputs, prediction.Notes()))

    rows = predict()  # warm up
    seconds = min(timed(predict) for _ in range(3))
    reading = min(timed(floor) for _ in range(3))
    print(
        f"{task:8s} {rows:6d} inputs: load {load:.2f} s, predict {seconds:.3f} s after load "
        f"({rows / seconds:,.0f} a second); reading alone {reading:.3f} s (predict / read {seconds / reading:.1f})"
    )


# The command, run so that it leaves its own peak memory (VmHWM, kB) in a file when it exits.
MEASURED = (
    "import atexit, re, runpy, sys; peak = sys.argv.pop(1); "
    "atexit.register(lambda: open(peak, 'w').write("
    "re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read())[1])); "
    "sys.argv[0] = 'reprolab'; runpy.run_module('reprolab', run_name='__main__')"
)


def command(task: str, inputs: Path, folder: Path) -> tuple[float, float]:
    """(seconds, peak GiB) of `python -m reprolab predict TASK INPUTS -o out.csv`."""
    peak = folder / "peak"
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", MEASURED, str(peak), "predict", task, str(inputs), "-o", str(folder / "out.csv")],
        check=True, env=os.environ | {"PYTHONPATH": str(Path.cwd())}, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    return time.perf_counter() - start, int(peak.read_text()) / 2**20


def growth(task: str, lines: list[str], unit: str) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        base = None
        for n in (1, 10**4, 10**5, 10**6):
            inputs = folder / "inputs.txt"
            with inputs.open("w") as f:
                for i in range(n):
                    f.write(lines[i % len(lines)] + "\n")
            seconds, gib = command(task, inputs, folder)
            base = base or (seconds, gib)
            print(
                f"{task:8s} {n:>9,} {unit}: {seconds:7.2f} s, peak {gib:5.2f} GiB "
                f"(against one line: time x{seconds / base[0]:.1f}, memory x{gib / base[1]:.2f})",
                flush=True,
            )


def main() -> None:
    kdd = paths.raw("nslkdd") / "KDDTest+.txt"
    run("nslkdd", [kdd], lambda: pd.read_csv(kdd, header=None))
    from PIL import Image

    with tempfile.TemporaryDirectory() as folder, np.load(paths.split("mnist") / "test.npz") as data:
        for i, pixels in enumerate(data["pixels"]):
            Image.fromarray(pixels[0]).save(Path(folder) / f"{i:05d}.png")
        files = sorted(Path(folder).iterdir())
        run("mnist", [Path(folder)], lambda: [np.asarray(Image.open(f)) for f in files])
    titles = pd.read_csv(paths.split("news") / "test.csv")["title"].tolist()
    growth("news", [re.sub(r"\s+", " ", t) for t in titles], "headlines")
    growth("nslkdd", kdd.read_text().splitlines(), "KDD lines")


if __name__ == "__main__":
    main()
