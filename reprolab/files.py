"""Files written whole or not at all, their checksums, and the one-line error a user sees."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


class UserError(Exception):
    """An error the user can cause and fix (bad params, missing or corrupt data).

    Stages print its message as one line and exit non-zero, without a traceback.
    """


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it to `path` only on success.

    Works for a file or a directory written at the yielded path.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f".{path.name}.*"):  # left by a killed run (SIGKILL runs no cleanup)
        shutil.rmtree(stale, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent)) / path.name
    try:
        yield tmp
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp.parent, ignore_errors=True)


def write_text(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json(path: str | Path, data: Any) -> None:
    """Write JSON with sorted keys and a trailing newline, so equal data gives equal bytes."""
    write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def read_json(path: str | Path) -> Any:
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise UserError(f"{path}: not found (run the stage that writes it: dvc repro)") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise UserError(f"{path}: not valid JSON ({err}); run again the stage that writes it") from None


def load_tensors(path: str | Path, written_by: str) -> Any:
    """A file of tensors and plain types (a model, a features split), loaded with weights_only."""
    import torch  # here, not above: the stages that read no tensors need not import torch

    try:
        return torch.load(path, weights_only=True)
    except FileNotFoundError:
        raise UserError(f"{path}: not found (run: dvc repro {written_by})") from None
    except Exception as err:  # torch raises several types for a torn or foreign file
        raise UserError(
            f"{path}: unreadable ({type(err).__name__}); run again the stage that writes it: {written_by}"
        ) from None


CHUNK = 1 << 20


def digest_of(path: Path, algorithm: str = "sha256") -> str:
    digest = hashlib.new(algorithm)
    with path.open("rb") as f:
        while block := f.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def sha256_of(path: Path) -> str:
    return digest_of(path, "sha256")
