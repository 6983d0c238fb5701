"""Data of your own, as a new user brings it: real data that ships with installed packages, in
the three forms the README's "Your data in three steps" takes (a CSV table, a folder of
images sorted by class, a CSV of labelled texts), none of it one of the six tasks'. The
baseline pipeline (pipeline_repo.py) adds them as its README says: the files under
data/inputs/, `dvc add`, a block each in params.yaml.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import numpy as np
import pandas as pd

# The blocks a user writes (README.md), with the fixtures' few epochs (conftest.for_fixtures).
BLOCKS = {
    "wine": {"source": {"table": "data/inputs/wine.csv", "target": "cultivar"}},
    "digits": {"source": {"images": "data/inputs/digits", "size": [16, 16], "mode": "L"}},
    "docstrings": {"source": {"texts": "data/inputs/docstrings.csv", "text": "doc", "label": "package"}},
}
KINDS = {"wine": "multiclass", "digits": "multiclass", "docstrings": "multiclass"}
PACKAGES = {  # the texts: the first paragraph of each public function's docstring, by its package
    "stdlib": ("os", "os.path", "shutil", "json", "re", "itertools", "functools", "pathlib", "string", "textwrap"),
    "numpy": ("numpy", "numpy.linalg", "numpy.random", "numpy.fft"),
    "pandas": ("pandas", "pandas.api.types"),
}


def wine() -> pd.DataFrame:
    """scikit-learn's copy of the UCI wine data: 178 wines, 13 measurements, 3 cultivars by name."""
    from sklearn.datasets import load_wine

    data = load_wine(as_frame=True)
    names = np.asarray(data.target_names)
    return data.frame.drop(columns="target").assign(cultivar=names[data.target.to_numpy()])


def write_digits(folder: Path, count: int = 500) -> None:
    """The first `count` of scikit-learn's 1,797 handwritten digits (8x8, 17 grey levels) as PNG
    files in a folder a digit."""
    from PIL import Image
    from sklearn.datasets import load_digits

    data = load_digits()
    for i, (image, digit) in enumerate(zip(data.images[:count], data.target[:count], strict=True)):
        (folder / str(digit)).mkdir(parents=True, exist_ok=True)
        Image.fromarray((image * 15).astype(np.uint8), mode="L").save(folder / str(digit) / f"{i:04d}.png")


def docstrings() -> pd.DataFrame:
    import importlib

    rows = []
    for package, modules in PACKAGES.items():
        for name in modules:
            module = importlib.import_module(name)
            for attribute in sorted(vars(module)):
                value = getattr(module, attribute)
                doc = inspect.getdoc(value) if callable(value) and not attribute.startswith("_") else None
                if doc and (first := " ".join(doc.split("\n\n")[0].split())):
                    rows.append((first, package))
    return pd.DataFrame(rows, columns=["doc", "package"]).drop_duplicates("doc", keep=False)


def write(repo: Path) -> None:
    """The three inputs under repo/data/inputs/."""
    inputs = repo / "data" / "inputs"
    inputs.mkdir(parents=True, exist_ok=True)
    wine().to_csv(inputs / "wine.csv", index=False)
    write_digits(inputs / "digits")
    docstrings().to_csv(inputs / "docstrings.csv", index=False)
