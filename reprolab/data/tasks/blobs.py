"""The blobs task: where its data comes from, how it is read and split (what the data is: ABOUT,
which the model card shows)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
from pydantic import Field

from reprolab.core.files import atomic_path
from reprolab.core.params import Seed, StrictModel
from reprolab.data.tasks.base import TARGET, Task, read_csv

ABOUT = """blobs: three Gaussian clusters in two dimensions (sklearn's make_blobs), 3 classes."""

FILE = "blobs.csv"
CENTERS = 3
FEATURES = ("x1", "x2")
COLUMNS = ("id", *FEATURES, TARGET)


class BlobsSource(StrictModel):
    n_samples: Annotated[int, Field(ge=CENTERS * 2)]
    cluster_std: Annotated[float, Field(gt=0.0)]
    random_state: Seed


def generate(source: BlobsSource, raw_dir: Path) -> None:
    from sklearn.datasets import make_blobs  # imported here: every stage imports the task registry

    x, y = make_blobs(
        n_samples=source.n_samples,
        centers=CENTERS,
        n_features=len(FEATURES),
        cluster_std=source.cluster_std,
        random_state=source.random_state,
    )
    frame = pd.DataFrame(x, columns=list(FEATURES)).assign(**{TARGET: y})
    with atomic_path(raw_dir / FILE) as tmp:
        frame.to_csv(tmp, index_label="id")


def read(raw_dir: Path) -> dict[str, pd.DataFrame]:
    return {"all": read_csv(raw_dir / FILE, COLUMNS, header=True, numeric=COLUMNS).set_index("id")}


TASK = Task(
    about=ABOUT,
    name="blobs",
    kind="multiclass",
    read=read,
    numeric=FEATURES,
    classes=tuple(str(c) for c in range(CENTERS)),
    source_params=BlobsSource,
    generate=generate,
)
