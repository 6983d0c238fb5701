"""Small files in each dataset's canonical format, generated with a seed."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from reprolab.tasks import nslkdd

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
    return directory
