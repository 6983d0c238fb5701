"""Small files in each dataset's canonical format, generated with a seed."""

from __future__ import annotations

import gzip
import io
import pickle
import tarfile
import zipfile
from pathlib import Path

import numpy as np

from reprolab.data.tasks import nslkdd
from reprolab.data.tasks.cifar10 import CLASSES as CIFAR_CLASSES

ATTACKS = ("neptune", "smurf", "satan", "guess_passwd")


def advertising_csv(path: Path, rows: int = 60, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    tv, radio, news = rng.uniform(0, 300, rows), rng.uniform(0, 50, rows), rng.uniform(0, 100, rows)
    sales = 3 + 0.045 * tv + 0.19 * radio + rng.normal(0, 0.5, rows)
    lines = [",TV,radio,newspaper,sales"]
    for i, (a, b, c, s) in enumerate(zip(tv, radio, news, sales, strict=True)):
        lines.append(f"{i + 1},{a:.1f},{b:.1f},{c:.1f},{s:.1f}")
    path.write_text("\n".join(lines) + "\n")
    return path


def kdd_rows(rows: int, seed: int, services: tuple[str, ...] = ("http", "private", "smtp")) -> list[str]:
    """KDD rows: attacks have many connections and errors, normal traffic has bytes."""
    rng = np.random.default_rng(seed)
    lines = []
    for _ in range(rows):
        attack = rng.random() < 0.5
        values = {name: 0 for name in nslkdd.NUMERIC}
        values.update(
            src_bytes=int(rng.integers(0, 50 if attack else 5000)),
            count=int(rng.integers(100, 500) if attack else rng.integers(1, 20)),
            serror_rate=round(float(rng.uniform(0.5, 1.0) if attack else rng.uniform(0, 0.2)), 2),
            logged_in=int(not attack),
        )
        values.update(
            protocol_type=str(rng.choice(("tcp", "udp", "icmp"))),
            service=str(rng.choice(services)),
            flag="S0" if attack else "SF",
            attack=str(rng.choice(ATTACKS)) if attack else "normal",
            difficulty=int(rng.integers(5, 22)),
        )
        lines.append(",".join(str(values[c]) for c in nslkdd.COLUMNS))
    return lines


def nslkdd_files(directory: Path, train_rows: int = 300, test_rows: int = 120) -> None:
    (directory / "KDDTrain+.txt").write_text("\n".join(kdd_rows(train_rows, 1)) + "\n")
    # the test file has a service never seen in training
    test = kdd_rows(test_rows, 2, services=("http", "private", "smtp", "telnet"))
    (directory / "KDDTest+.txt").write_text("\n".join(test) + "\n")


def mirror(directory: Path) -> Path:
    """A mirror directory holding every downloaded file under its canonical name."""
    directory.mkdir(parents=True, exist_ok=True)
    advertising_csv(directory / "Advertising.csv")
    nslkdd_files(directory)
    mnist_files(directory)
    cifar_archive(directory / "cifar-10-python.tar.gz")
    news_zip(directory / "NewsAggregatorDataset.zip")
    return directory


def idx_bytes(array: np.ndarray) -> bytes:
    magic = {1: 0x801, 3: 0x803}[array.ndim]
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def digits(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Fake digits: class k is a bright bar at row 2 + 2k, with noise: learnable in a few epochs."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 10
    images = rng.integers(0, 60, (n, 28, 28))
    for i, k in enumerate(labels):
        images[i, 2 + 2 * k : 4 + 2 * k, 4:24] = 255
    return images.astype(np.uint8), labels.astype(np.uint8)


def mnist_files(directory: Path, train: int = 300, test: int = 100) -> None:
    for prefix, n, seed in (("train", train, 3), ("t10k", test, 4)):
        images, labels = digits(n, seed)
        for kind, array in (("images-idx3", images), ("labels-idx1", labels)):
            (directory / f"{prefix}-{kind}-ubyte.gz").write_bytes(gzip.compress(idx_bytes(array), mtime=0))


def cifar_batch(n: int, seed: int) -> dict:
    """Fake CIFAR images: class k has its colour in channel k % 3 at brightness 40 + 20k."""
    rng = np.random.default_rng(seed)
    labels = [int(k) for k in np.arange(n) % 10]
    images = rng.integers(0, 40, (n, 3, 32, 32))
    for i, k in enumerate(labels):
        images[i, k % 3] += 40 + 20 * k
    return {"data": images.astype(np.uint8).reshape(n, -1), "labels": labels, "batch_label": f"fixture {seed}"}


def cifar_archive(path: Path, per_batch: int = 40, extra: tarfile.TarInfo | None = None) -> Path:
    """A cifar-10-python.tar.gz in the canonical layout (optionally with one more member)."""
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    with tarfile.open(path, "w:gz") as tar:
        folder = tarfile.TarInfo("cifar-10-batches-py")
        folder.type = tarfile.DIRTYPE
        tar.addfile(folder)
        members = [(name, pickle.dumps(cifar_batch(per_batch, seed), protocol=2)) for seed, name in enumerate(names)]
        members.append(("batches.meta", pickle.dumps({"label_names": list(CIFAR_CLASSES)}, protocol=2)))
        for name, payload in members:
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
        if extra is not None:
            tar.addfile(extra, io.BytesIO(b"x" * extra.size) if extra.isfile() else None)
    return path


NEWS_WORDS = {
    "b": ("stocks", "bank", "profit", "shares", "market", "fed"),
    "t": ("apple", "google", "phone", "software", "nasa", "climate"),
    "e": ("film", "star", "music", "album", "actor", "kardashian"),
    "m": ("health", "cancer", "study", "ebola", "drug", "doctors"),
}
NEWS_PUBLISHERS = ("Reuters", "Huffington Post", "Businessweek", "Contactmusic.com", "Daily Mail", "Other Paper")


def news_lines(rows: int, seed: int = 5) -> list[str]:
    """newsCorpora.csv rows: a title of category words, punctuation and quotes; some fields empty."""
    rng = np.random.default_rng(seed)
    lines = []
    for i in range(rows):
        category = "btem"[i % 4]
        words = [str(rng.choice(NEWS_WORDS[category])) for _ in range(4)] + [str(rng.choice(("the", "a", "of")))]
        title = f'"{words[0].title()}" {words[1]}, {words[2]}: {words[3]} {words[4]}...'
        publisher = NEWS_PUBLISHERS[i % len(NEWS_PUBLISHERS)]
        empty = i % 7 == 0  # like the Daily Mail rows of the real subset
        story = f"{category}{i // 12}"  # three headlines of one category a story
        rest = ("", "", "", "") if empty else (f"http://example.com/{i}", story, "example.com", "1394470501755")
        fields = ("" if empty else str(i + 1), title, rest[0], publisher, category, *rest[1:])
        lines.append("\t".join(fields))
    return lines


def news_zip(path: Path, lines: list[str] | None = None) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        info = zipfile.ZipInfo("newsCorpora.csv", date_time=(2014, 8, 1, 0, 0, 0))
        archive.writestr(info, "\n".join(news_lines(400) if lines is None else lines) + "\n")
    return path
