"""The nslkdd task: where its data comes from, how it is read and split (what the data is: ABOUT,
which the model card shows)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from reprolab.data.tasks.base import TARGET, Source, Task, read_csv

ABOUT = """nslkdd: NSL-KDD network connections, normal vs attack (Tavallaee et al., 2009).

KDDTrain+ is split into train and validation; KDDTest+ is the test set. Each row
holds 41 features, the attack name and a difficulty level (how many of 21
learners classified the record correctly); "KDDTest-21" is the test rows of
difficulty below 21.
"""

# The official release (UNB CIC) sits behind a form; these public copies hold the same bytes.
_COPIES = (
    "https://raw.githubusercontent.com/defcom17/NSL_KDD/master/{}",
    "https://raw.githubusercontent.com/Kushagra963-lab/"
    "Genetic-Algorithm-Enhanced-Reinforcement-Learning-Intrusion-Detection-Systems/"
    "6a9126e9d2b1c498fb91e2bd0987e896c3fe9b4e/{}",
)
TRAIN = Source(
    "KDDTrain+.txt",
    tuple(url.format("KDDTrain+.txt") for url in _COPIES),
    "1b86d2f957b33082081bba410fe129b475efebcc13c9014c3f447c8271aadf95",
)
TEST = Source(
    "KDDTest+.txt",
    tuple(url.format("KDDTest+.txt") for url in _COPIES),
    "fa46b0935342616aa83b7c2578db355b6a7aaabbc492248172c7a1e8b7ab8f84",
)

CATEGORICAL = ("protocol_type", "service", "flag")
NUMERIC = (
    "duration", "src_bytes", "dst_bytes", "land", "wrong_fragment", "urgent", "hot",
    "num_failed_logins", "logged_in", "num_compromised", "root_shell", "su_attempted",
    "num_root", "num_file_creations", "num_shells", "num_access_files", "num_outbound_cmds",
    "is_host_login", "is_guest_login", "count", "srv_count", "serror_rate", "srv_serror_rate",
    "rerror_rate", "srv_rerror_rate", "same_srv_rate", "diff_srv_rate", "srv_diff_host_rate",
    "dst_host_count", "dst_host_srv_count", "dst_host_same_srv_rate", "dst_host_diff_srv_rate",
    "dst_host_same_src_port_rate", "dst_host_srv_diff_host_rate", "dst_host_serror_rate",
    "dst_host_srv_serror_rate", "dst_host_rerror_rate", "dst_host_srv_rerror_rate",
)  # fmt: skip
# The file's column order: duration, then the three categorical columns, then the rest.
COLUMNS = (NUMERIC[0], *CATEGORICAL, *NUMERIC[1:], "attack", "difficulty")
HARD = 21  # KDDTest-21: rows that fewer than all 21 learners got right
CLASSES = ("normal", "attack")


def _read_file(path: Path) -> pd.DataFrame:
    frame = read_csv(path, COLUMNS, header=False, numeric=(*NUMERIC, "difficulty"), nonnegative=NUMERIC)
    frame[TARGET] = (frame["attack"] != "normal").astype(np.int64)
    frame.index.name = "id"
    return frame


def read(raw_dir: Path) -> dict[str, pd.DataFrame]:
    return {"train": _read_file(raw_dir / TRAIN.filename), "test": _read_file(raw_dir / TEST.filename)}


def report(
    rows: pd.DataFrame, y_true: np.ndarray, y_pred: np.ndarray, score: np.ndarray
) -> tuple[dict, dict[str, pd.DataFrame]]:
    """Accuracy on KDDTest-21, and the recall of each attack (and of normal traffic)."""
    hard = rows["difficulty"].to_numpy() < HARD
    correct = y_true == y_pred
    per_attack = (
        pd.DataFrame({"attack": rows["attack"].to_numpy(), "correct": correct})
        .groupby("attack", sort=True)["correct"]
        .agg(rows="size", recall="mean")
        .reset_index()
        .sort_values(["recall", "attack"])  # the worst recognised first
    )
    metrics = {"kddtest21": {"accuracy": float(correct[hard].mean()), "rows": int(hard.sum())}}
    return metrics, {"per_attack": per_attack}


TASK = Task(
    about=ABOUT,
    name="nslkdd",
    kind="binary",
    read=read,
    numeric=NUMERIC,
    categorical=CATEGORICAL,
    classes=CLASSES,
    extras=("attack", "difficulty"),
    holdout_field="attack",
    sources=(TRAIN, TEST),
    report=report,
    predefined_test=True,
    headerless=COLUMNS,
    nonnegative=NUMERIC,  # durations, byte counts, counts and rates
    limits=(
        "KDDTest+ holds attack types that KDDTrain+ does not (mailbomb, apache2, processtable, snmpguess, ...): "
        "the per-attack recall shows how far the model generalises to them.",
        "KDDTest-21 is the harder part of the test set: rows that fewer than all 21 learners of the dataset's "
        "authors classified correctly.",
    ),
)
