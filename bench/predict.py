"""Throughput of `reprolab predict` after the model file is loaded, on the pipeline's own files.

Rows (or images) a second, and the time against the floor of only reading the same inputs
(pandas for KDD lines, PIL for PNG files), in one process: a ratio near 1 means reading
dominates. Needs the outputs of `make repro` (models/, data/raw/nslkdd, data/split/mnist).
Run: make bench  (or python -m bench.predict)
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from reprolab import model_file, paths, prediction


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


def main() -> None:
    kdd = paths.raw("nslkdd") / "KDDTest+.txt"
    run("nslkdd", [kdd], lambda: pd.read_csv(kdd, header=None))
    from PIL import Image

    with tempfile.TemporaryDirectory() as folder, np.load(paths.split("mnist") / "test.npz") as data:
        for i, pixels in enumerate(data["pixels"]):
            Image.fromarray(pixels[0]).save(Path(folder) / f"{i:05d}.png")
        files = sorted(Path(folder).iterdir())
        run("mnist", [Path(folder)], lambda: [np.asarray(Image.open(f)) for f in files])


if __name__ == "__main__":
    main()
