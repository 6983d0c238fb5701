"""Files written whole or not at all, their checksums, and the one-line error a user sees."""

from __future__ import annotations

import errno
import glob
import hashlib
import json
import os
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from reprolab.core.errors import UserError

TEMPORARY = ".{name}.tmp-{pid}-"  # a writer's temporary beside its target, named after its process


def _refuse_folder(path: Path) -> None:
    if path.name in ("", ".", ".."):
        raise UserError(f"{str(path) or '.'}: names a folder, not a file to write")


def _process_gone(name: str) -> bool:
    """Whether the process that made the temporary `name` (TEMPORARY) has ended."""
    try:
        pid = int(name.split(".tmp-", 1)[1].split("-", 1)[0])
        os.kill(pid, 0)
    except (IndexError, ValueError):
        return False  # not one of ours: left alone
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # another user's process, alive
    return False


def sweep(folder: Path, name: str | None = None) -> None:
    """Remove the temporaries that writers of `name` (of any file, by default) left in `folder`
    when they were killed (SIGKILL runs no cleanup); a living writer's are left alone."""
    for stale in folder.glob(TEMPORARY.format(name=glob.escape(name) if name else "*", pid="*") + "*"):
        if _process_gone(stale.name):
            shutil.rmtree(stale, ignore_errors=True)


def _reason(err: OSError) -> str:
    return (err.strerror or str(err)).lower()


def os_error(err: OSError) -> UserError:
    """An error of the operating system as one line: the path and the reason (of a copy, that
    fails as it writes, the path written: shutil names the source first)."""
    written = err.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT, errno.EROFS) and err.filename2 is not None
    where = err.filename2 if written else err.filename if err.filename is not None else "?"
    return UserError(f"{where}: {_reason(err)}")


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it to `path` only on success.

    Works for a file or a directory written at the yielded path. A folder that stands at
    `path` is replaced only by a folder (a stage's own output); a file is never written over
    one, and nothing but the writer's own temporary is ever removed."""
    path = Path(path)
    _refuse_folder(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sweep(path.parent, path.name)
    try:
        made = Path(tempfile.mkdtemp(prefix=TEMPORARY.format(name=path.name, pid=os.getpid()), dir=path.parent))
    except OSError as err:
        raise UserError(f"{path.parent}: cannot write here ({_reason(err)})") from None
    tmp = made / path.name
    inside = "" if path.parent == Path() else f"{path.parent}{os.sep}"  # what a path in the temporary names
    try:
        yield tmp
        if path.is_dir() and not path.is_symlink():
            if not tmp.is_dir():
                raise UserError(f"{path}: a folder; not replaced by a file")
            shutil.rmtree(path)
        os.replace(tmp, path)
    except OSError as err:  # said of what is written, not of its temporary (a buffered write names nothing)
        for attr in ("filename", "filename2"):
            if isinstance(name := getattr(err, attr), str):
                setattr(err, attr, name.replace(f"{made}{os.sep}", inside))
        err.filename = str(path) if err.filename is None else err.filename
        raise
    except UserError as err:
        raise UserError(str(err).replace(f"{made}{os.sep}", inside)) from None
    finally:
        shutil.rmtree(made, ignore_errors=True)


def output_file(path: Path, inputs: tuple[Path, ...] = ()) -> Path:
    """`path` as a file a command may write, checked before any work: not a folder, not one of
    its `inputs`, and in a folder where a file can be made (not read-only, not /proc)."""
    _refuse_folder(path)
    if path.is_dir():
        raise UserError(f"{path}: a folder; name a file to write")
    if path.exists() and not path.is_file():
        raise UserError(f"{path}: not a regular file; name a file to write")
    for source in inputs:
        if path.exists() and source.exists() and path.samefile(source):
            raise UserError(f"{path}: is an input too; name another file to write")
    folder = path.parent
    if not folder.is_dir():
        raise UserError(f"{folder}: not a folder" if folder.exists() else f"{folder}: no such folder")
    try:  # the one sure test: make a file there (a pseudo file system or a read-only one refuses)
        with tempfile.NamedTemporaryFile(prefix=TEMPORARY.format(name=path.name, pid=os.getpid()), dir=folder):
            pass
    except OSError as err:
        raise UserError(f"{folder}: cannot write here ({_reason(err)})") from None
    return path


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


def load_arrays(path: str | Path, written_by: str) -> dict[str, Any]:
    """Numpy arrays saved by save_arrays (a features split), {name: array}; nothing unpickled."""
    import numpy as np

    try:
        with np.load(path, allow_pickle=False) as saved:
            return {name: saved[name] for name in saved.files}
    except FileNotFoundError:
        raise UserError(f"{path}: not found (run: dvc repro {written_by})") from None
    except (OSError, ValueError, zipfile.BadZipFile) as err:
        raise UserError(
            f"{path}: unreadable ({type(err).__name__}); run again the stage that writes it: {written_by}"
        ) from None


def save_arrays(path: str | Path, arrays: dict[str, Any]) -> None:
    """Numpy arrays as an .npz file whose bytes depend on the arrays alone (numpy's own
    savez stamps the time of writing), whole or not at all."""
    import numpy as np

    with atomic_path(path) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as archive:
        for name, array in arrays.items():
            entry = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            entry.create_system = 3  # as written on any system
            with archive.open(entry, "w", force_zip64=True) as out:
                np.lib.format.write_array(out, np.asarray(array), allow_pickle=False)


def save_tensors(path: str | Path, data: Any) -> None:
    """torch.save, whole or not at all; a failed write is one line with its likely reason."""
    import torch

    with atomic_path(path) as tmp:
        try:
            torch.save(data, tmp)
        except RuntimeError as err:  # torch's writer says only "file write failed"
            raise UserError(f"{path}: not written ({unwritten(tmp.parent, err)})") from None


def unwritten(folder: Path, err: Exception) -> str:
    """Why a write into `folder` failed, where the error does not say (torch's writer, sqlite)."""
    import resource

    limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
    if limit != resource.RLIM_INFINITY:
        return f"file too large: the file-size limit (ulimit -f) is {limit:,} bytes"
    if shutil.disk_usage(folder).free < CHUNK:
        return "no space left on the device"
    return str(err).splitlines()[0]


CHUNK = 1 << 20


def digest_of(path: Path, algorithm: str = "sha256") -> str:
    digest = hashlib.new(algorithm)
    with path.open("rb") as f:
        while block := f.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def sha256_of(path: Path) -> str:
    return digest_of(path, "sha256")


def regular_files(folder: Path) -> list[Path]:
    """The regular files under a folder, at any depth, in name order; a link, FIFO, socket or
    device is refused (a folder of data holds none)."""
    found = []
    for path in sorted(folder.rglob("*")):
        if path.is_symlink() or not (path.is_file() or path.is_dir()):
            raise UserError(f"{path}: not a regular file or folder (a link, FIFO, socket or device)")
        if path.is_file():
            found.append(path)
    return found


def content_sha256(path: Path) -> str:
    """A file's sha256; a folder's: the sha256 of its SHA256SUMS, as `sha256sum` writes it for
    every file under it (`<sha256>  <path relative to it>` a line, in name order)."""
    if not path.is_dir():
        return sha256_of(path)
    lines = "".join(f"{sha256_of(f)}  {f.relative_to(path).as_posix()}\n" for f in regular_files(path))
    return hashlib.sha256(lines.encode()).hexdigest()
