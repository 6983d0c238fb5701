"""The reference for news: a TF-IDF linear SVM on exactly the project's split, beside the project's figure.

Word 1- and 2-grams plus character 2- to 5-grams (within word boundaries), sublinear TF,
a linear SVM whose `C` is chosen on the validation split; the test split is scored for the
chosen `C` only. It reads the split stage's files (data/split/news/, the story split by
default) and the project's committed figures (metrics/news.json, seed 1, and the mean over
seeds of reports/seeds.json), and prints them and their differences.
Run: python -m bench.tfidf  (after make repro; seconds)
"""

from __future__ import annotations

import json
import time

import numpy as np
from scipy.sparse import hstack
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.svm import LinearSVC

from reprolab.core import paths
from reprolab.data import tasks
from reprolab.data.splitting import read_split
from reprolab.data.tasks.base import TARGET
from reprolab.experiments.seeds import OUT as SEEDS

CS = (0.03, 0.1, 0.3, 1.0, 3.0)


def main() -> None:
    task = tasks.get("news")
    parts = {name: read_split(task, name) for name in paths.SPLITS}
    start = time.perf_counter()
    words = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, lowercase=True)
    chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, lowercase=True)
    train = parts["train"][task.text]
    x = {"train": hstack([words.fit_transform(train), chars.fit_transform(train)]).tocsr()}
    for name in ("val", "test"):
        text = parts[name][task.text]
        x[name] = hstack([words.transform(text), chars.transform(text)]).tocsr()
    y = {name: rows[TARGET].to_numpy() for name, rows in parts.items()}

    fitted = {c: LinearSVC(C=c, random_state=0).fit(x["train"], y["train"]) for c in CS}
    scores = {c: float(np.mean(fitted[c].predict(x["val"]) == y["val"])) for c in CS}
    for c, accuracy in scores.items():
        print(f"C={c:<5} val accuracy {accuracy:.4f}")
    best = max(CS, key=lambda c: (scores[c], -c))  # ties: the stronger regularisation
    test = float(np.mean(fitted[best].predict(x["test"]) == y["test"]))
    ours = json.loads(paths.metrics("news").read_text())["test"]["accuracy"]
    rows = ", ".join(f"{name} {len(part):,}" for name, part in parts.items())
    print(f"split: {rows} rows; {time.perf_counter() - start:.1f} s")
    print(f"TF-IDF linear SVM (C={best}, chosen on val {scores[best]:.4f}): test accuracy {test:.4f}")
    print(f"news, seed 1 (metrics/news.json): test accuracy {ours:.4f}; news - baseline = {ours - test:+.4f}")
    seeds = json.loads(SEEDS.read_text()) if SEEDS.exists() else {}  # make seeds: the figure the aim is set on
    if spread := seeds.get("metrics", {}).get("metrics/news.json", {}).get("test.accuracy"):
        over = ", ".join(map(str, seeds["seeds"]))
        print(
            f"news, seeds {over} ({SEEDS}): test accuracy {spread['mean']:.4f} ± {spread['std']:.4f}; "
            f"news - baseline = {spread['mean'] - test:+.4f}"
        )


if __name__ == "__main__":
    main()
