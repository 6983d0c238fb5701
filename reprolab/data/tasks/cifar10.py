"""The cifar10 task: where its data comes from, how it is read and split (what the data is: ABOUT,
which the model card shows)."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
from numpy._core import multiarray as np_multiarray

from reprolab.core.errors import UserError
from reprolab.data.tasks.base import Images, Source, Task

ABOUT = """cifar10: 32x32 colour images of 10 classes (Krizhevsky, 2009), the python batches.

The archive is checked against the md5 that torchvision pins (no sha256 is
published) and extracted safely: links, devices and paths outside the target
folder are refused. The batches are pickles, and a batch may reach the pipeline
by another way than a verified download (`dvc pull`, an edit in place): they are
read by an unpickler that admits only what the canonical files hold (dicts,
lists, strings, bytes, numbers and numpy arrays), so a crafted batch runs nothing.
"""

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


def _latin1_bytes(text: str, encoding: str) -> bytes:
    """How a pickle written by Python 3 at protocol 2 spells bytes: _codecs.encode(text, "latin1")."""
    if encoding != "latin1":
        raise pickle.UnpicklingError(f"refusing _codecs.encode with {encoding!r}")
    return text.encode("latin1")


class _BatchUnpickler(pickle.Unpickler):
    """Builds plain containers and numpy arrays; any other class or function is refused."""

    ALLOWED = {
        ("_codecs", "encode"): _latin1_bytes,
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("numpy.core.multiarray", "_reconstruct"): np_multiarray._reconstruct,
        ("numpy._core.multiarray", "_reconstruct"): np_multiarray._reconstruct,
    }

    def find_class(self, module: str, name: str):
        try:
            return self.ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"refusing {module}.{name}: a CIFAR-10 batch holds no such object") from None


def _batch(path: Path) -> Images:
    try:
        with path.open("rb") as f:
            batch = _BatchUnpickler(f, encoding="latin1").load()
        data, labels = np.asarray(batch["data"], dtype=np.uint8), np.asarray(batch["labels"], dtype=np.int64)
    except FileNotFoundError:
        raise UserError(f"{path}: not found (run: dvc repro download)") from None
    except (pickle.UnpicklingError, EOFError, KeyError, TypeError, ValueError, AttributeError, IndexError) as err:
        raise UserError(f"{path}: not a CIFAR-10 python batch: {err}") from None
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
    about=ABOUT,
    name="cifar10",
    kind="multiclass",
    read=read,
    numeric=(),
    classes=CLASSES,
    sources=(SOURCE,),
    predefined_test=True,
    image_shape=(3, 32, 32),
    limits=(
        "A copy of the archive that a mirror vouches for may be re-packed: the shared offline mirror's is rebuilt "
        "from JPEG copies of the images (quality 75), which costs a point or three of accuracy.",
    ),
)
