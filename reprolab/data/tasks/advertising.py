"""The advertising task: where its data comes from, how it is read and split (what the data is: ABOUT,
which the model card shows)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from reprolab.data.tasks.base import TARGET, Source, Task, read_csv

ABOUT = """advertising: ISLR's Advertising data, sales from TV, radio and newspaper budgets."""

# The ISLR website's own file quotes its header, so its bytes differ; this public copy
# (header `,TV,radio,newspaper,sales`) is the one whose checksum is pinned.
SOURCE = Source(
    filename="Advertising.csv",
    urls=(
        "https://raw.githubusercontent.com/hardikkamboj/An-Introduction-to-Statistical-Learning/"
        "73cb3efff758780d627272053b888be2451e3ed7/data/Advertising.csv",
    ),
    sha256="4efa749627f6e438dcd4cdde86010b7a6f450c4960991a69f4623ee21e621870",
)
FEATURES = ("TV", "radio", "newspaper")
COLUMNS = ("id", *FEATURES, TARGET)


def read(raw_dir: Path) -> dict[str, pd.DataFrame]:
    frame = read_csv(raw_dir / SOURCE.filename, COLUMNS, header=True, numeric=COLUMNS)
    return {"all": frame.set_index("id")}


TASK = Task(
    about=ABOUT,
    name="advertising",
    kind="regression",
    read=read,
    numeric=FEATURES,
    sources=(SOURCE,),
)
