"""Downloads: canonical URLs, pinned checksums, an offline mirror, atomic writes.

A file is fetched from the first of its URLs that works (retrying connection
faults and truncated bodies), or from the mirror named by REPROLAB_MIRROR:
a directory, or the base URL of an HTTP server, holding files under their
canonical names. Whatever the origin, the content is checked against its
sha256 before it is renamed into place, so a failure leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import requests
from tqdm import tqdm

from reprolab.io import UserError, atomic_path

MIRROR_ENV = "REPROLAB_MIRROR"
CHUNK = 1 << 20
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Source:
    filename: str
    urls: tuple[str, ...]  # the canonical URL first, then public copies of the same bytes
    sha256: str | None  # of the content the pipeline reads; None where nobody publishes one


def quiet() -> bool:
    """Progress bars only on a terminal, and never in CI."""
    return bool(os.environ.get("CI")) or not sys.stderr.isatty()


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def verify(source: Source, path: Path, origin: str) -> str:
    """Return the file's sha256; raise if it is not the pinned one."""
    seen = sha256_of(path)
    if source.sha256 is None:
        log.warning("%s has no pinned checksum; sha256 seen: %s", source.filename, seen)
    elif seen != source.sha256:
        raise UserError(f"{source.filename} from {origin}: checksum mismatch (sha256 {seen}, expected {source.sha256})")
    return seen


class _Retryable(Exception):
    pass


def _download(url: str, dest: Path, timeout: float) -> None:
    try:
        response = requests.get(url, stream=True, timeout=timeout)
    except requests.RequestException as err:
        raise _Retryable(f"{type(err).__name__}: {err}") from None
    with response:
        if response.status_code >= 500:
            raise _Retryable(f"HTTP {response.status_code}")
        if response.status_code != 200:
            raise UserError(f"{url}: HTTP {response.status_code}")
        expected = int(response.headers.get("Content-Length", -1))
        received = 0
        with (
            dest.open("wb") as f,
            tqdm(
                total=expected if expected >= 0 else None,
                unit="B",
                unit_scale=True,
                desc=dest.name,
                disable=quiet(),
            ) as bar,
        ):
            try:
                for block in response.raw.stream(CHUNK, decode_content=True):
                    f.write(block)
                    received += len(block)
                    bar.update(len(block))
            except Exception as err:  # urllib3 raises its own types for a cut connection
                raise _Retryable(f"connection broken after {received} bytes: {err}") from None
        encoded = response.headers.get("Content-Encoding") not in (None, "identity")
        if expected >= 0 and received != expected and not encoded:
            raise _Retryable(f"truncated: {received} of {expected} bytes")


def _fetch_url(url: str, dest: Path, timeout: float, retries: int, backoff: float) -> None:
    for attempt in range(retries + 1):
        try:
            _download(url, dest, timeout)
            return
        except _Retryable as err:
            if attempt == retries:
                raise UserError(f"{url}: {err} (after {retries + 1} attempts)") from None
            log.warning("%s: %s; retrying", url, err)
            time.sleep(backoff * 2**attempt)


def fetch(
    source: Source,
    dest_dir: Path,
    *,
    timeout: float = 60.0,
    retries: int = 3,
    backoff: float = 1.0,
) -> str:
    """Put `source` into dest_dir under its canonical name; return its sha256."""
    mirror = os.environ.get(MIRROR_ENV, "")
    if mirror.startswith(("http://", "https://")):
        urls: tuple[str, ...] = (f"{mirror.rstrip('/')}/{source.filename}",)
    elif mirror:
        path = Path(mirror) / source.filename
        if not path.is_file():
            raise UserError(f"{path}: not found ({MIRROR_ENV}={mirror} has no {source.filename})")
        urls = ()
    else:
        urls = source.urls

    with atomic_path(dest_dir / source.filename) as tmp:
        if not urls:
            shutil.copyfile(Path(mirror) / source.filename, tmp)
            return verify(source, tmp, str(Path(mirror) / source.filename))
        failures = []
        for url in urls:
            try:
                _fetch_url(url, tmp, timeout, retries, backoff)
                return verify(source, tmp, url)
            except UserError as err:
                failures.append(str(err))
        raise UserError(
            f"could not download {source.filename}: {'; '.join(failures)}. "
            f"Offline? Set {MIRROR_ENV} to a directory holding {source.filename}"
        )
    raise AssertionError("unreachable")
