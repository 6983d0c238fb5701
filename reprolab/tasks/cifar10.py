"""cifar10: 32x32 colour images of 10 classes (Krizhevsky, 2009), the python batches.

The archive is checked against the md5 that torchvision pins (no sha256 is
published) and extracted safely: links, devices and paths outside the target
folder are refused.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from reprolab.files import UserError
from reprolab.tasks.base import Images, Source, Task

SOURCE = Source(
    "cifar-10-python.tar.gz",
    ("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",),
    sha256=None,
    md5="c58f30108f718f92721af3b95e74349a",
    unpack="tar",
)
FOLDER = "cifar-10-batches-py"
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def _batch(path: Path) -> Images:
    try:
        with path.open("rb") as f:
            # The archive's own format; its checksum was verified before it was extracted.
            batch = pickle.load(f, encoding="latin1")  # noqa: S301
        data, labels = np.asarray(batch["data"], dtype=np.uint8), np.asarray(batch["labels"], dtype=np.int64)
    except FileNotFoundError:
        raise UserError(f"{path}: not found (run: dvc repro download)") from None
    except (pickle.UnpicklingError, EOFError, KeyError, TypeError, ValueError) as err:
        raise UserError(f"{path}: not a CIFAR-10 python batch: {err!r}") from None
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or len(data) != len(labels):
        raise UserError(f"{path}: expected N x 3072 pixels and N labels, found {data.shape} and {labels.shape}")
    if labels.min(initial=0) < 0 or labels.max(initial=0) >= len(CLASSES):
        raise UserError(f"{path}: labels outside 0..9")
    return Images(data.reshape(-1, 3, 32, 32), labels)


def read(raw_dir: Path) -> dict[str, Images]:
    folder = raw_dir / SOURCE.target / FOLDER
    parts = [_batch(folder / name) for name in TRAIN_BATCHES]
    train = Images(np.concatenate([p.pixels for p in parts]), np.concatenate([p.labels for p in parts]))
    return {"train": train, "test": _batch(folder / "test_batch")}


TASK = Task(
    name="cifar10",
    kind="multiclass",
    read=read,
    numeric=(),
    classes=CLASSES,
    sources=(SOURCE,),
    predefined_test=True,
    image_shape=(3, 32, 32),
)
