"""The news task: where its data comes from, how it is read and split (what the data is: ABOUT,
which the model card shows)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Annotated

import pandas as pd
from pydantic import Field

from reprolab.core.errors import UserError
from reprolab.core.params import SplitParams, StrictModel, TextFeatures
from reprolab.data.tasks.base import TARGET, Source, Task

ABOUT = """news: UCI News Aggregator headlines in four categories, the classic exercise's five publishers.

newsCorpora.csv (inside NewsAggregatorDataset.zip) is tab-separated with no header:
ID, TITLE, URL, PUBLISHER, CATEGORY, STORY, HOSTNAME, TIMESTAMP. Only TITLE,
PUBLISHER and CATEGORY are used; the others may be empty. Titles are read verbatim
(they hold quotes, so no CSV quoting is applied). Nobody publishes a checksum of
the archive: it is not pinned (a warning says so, and the sha256 seen is recorded),
unless a user pins the copy they trust in `tasks.news.source.sha256`.
"""

SOURCE = Source(
    "NewsAggregatorDataset.zip",
    ("https://archive.ics.uci.edu/ml/machine-learning-databases/00359/NewsAggregatorDataset.zip",),
    sha256=None,
)
MEMBER = "newsCorpora.csv"
FIELDS = ("id", "title", "url", "publisher", "category", "story", "hostname", "timestamp")
CATEGORIES = ("b", "t", "e", "m")  # business, science and technology, entertainment, health
CLASS_NAMES = ("business", "science_tech", "entertainment", "health")


class NewsSource(StrictModel):
    sha256: Annotated[str, Field(pattern="^[0-9a-f]{64}$")] | None = Field(
        None, description="the sha256 of the archive you trust; a mismatch then stops the run"
    )


class NewsSplit(SplitParams):
    publishers: list[str] = Field(min_length=1)
    group: str = Field("story", description="story: no story in two parts (its headlines are near-copies); none")


def read(raw_dir: Path) -> dict[str, pd.DataFrame]:
    path = raw_dir / SOURCE.filename
    try:
        with zipfile.ZipFile(path) as archive:
            data = archive.read(MEMBER)
    except FileNotFoundError:
        raise UserError(f"{path}: not found (run: dvc repro download)") from None
    except (zipfile.BadZipFile, KeyError) as err:
        raise UserError(f"{path}: not a zip archive holding {MEMBER}: {err}") from None
    rows = []
    for number, line in enumerate(io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", newline="\n"), 1):
        fields = line.rstrip("\r\n").split("\t")
        if len(fields) != len(FIELDS):
            raise UserError(f"{path}:{MEMBER}: line {number}: {len(fields)} fields, expected {len(FIELDS)}")
        record = dict(zip(FIELDS, fields, strict=True))
        if record["category"] not in CATEGORIES:
            raise UserError(f"{path}:{MEMBER}: line {number}: unknown category {record['category']!r}")
        story = record["story"] or f"line {number}"  # unknown (the mirror's Daily Mail rows): a story of its own
        rows.append((number, record["title"], record["publisher"], story, CATEGORIES.index(record["category"])))
    frame = pd.DataFrame(rows, columns=["id", "title", "publisher", "story", TARGET]).set_index("id")
    return {"all": frame}


def select(rows: pd.DataFrame, split: NewsSplit) -> pd.DataFrame:
    kept = rows[rows["publisher"].isin(split.publishers)]
    if kept.empty:
        raise UserError(f"params.yaml: tasks.news.split.publishers: no row has any of {split.publishers}")
    return kept


TASK = Task(
    about=ABOUT,
    name="news",
    kind="multiclass",
    read=read,
    numeric=(),
    classes=CLASS_NAMES,
    extras=("publisher", "story"),
    sources=(SOURCE,),
    source_params=NewsSource,
    user_pins=lambda source: {SOURCE.filename: source.sha256} if source.sha256 else {},
    split_params=NewsSplit,
    features_params=TextFeatures,
    select=select,
    text="title",
    limits=(
        "Only the five publishers of the classic exercise are kept (tasks.news.split.publishers).",
        "The shared offline mirror holds those publishers' rows only, and no checksum of the archive is published.",
        "Train, validation and test share no story (tasks.news.split.group); the mirror's 2,270 Daily Mail rows "
        "have no story id, and each counts as a story of its own.",
    ),
)
