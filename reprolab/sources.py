"""Downloads: canonical URLs, pinned checksums, an offline mirror, atomic writes.

A file is fetched from the first of its URLs that works (retrying connection
faults and truncated bodies), or from the mirror named by REPROLAB_MIRROR:
a directory, or the base URL of an HTTP server, holding files under their
canonical names. Whatever the origin, the content is checked against its
pinned checksum (and unpacked: gzip, or a tar archive extracted safely)
before it is renamed into place, so a failure leaves nothing behind.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import os
import shutil
import sys
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Literal

import requests
from tqdm import tqdm

from reprolab.io import UserError, atomic_path

MIRROR_ENV = "REPROLAB_MIRROR"
CHUNK = 1 << 20
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Source:
    filename: str  # the canonical download's name, also its name in a mirror
    urls: tuple[str, ...]  # the canonical URL first, then public copies of the same bytes
    sha256: str | None  # of the content the pipeline reads (for gzip: decompressed); None where unknown
    md5: str | None = None  # of the download itself, where that is all the publisher gives
    unpack: Literal["gzip", "tar"] | None = None

    @property
    def target(self) -> str:
        """The name under which the content lands: the file, decompressed, or the archive's folder."""
        if self.unpack == "gzip":
            return self.filename.removesuffix(".gz")
        if self.unpack == "tar":
            return self.filename.removesuffix(".tar.gz").removesuffix(".tgz")
        return self.filename


def quiet() -> bool:
    """Progress bars only on a terminal, and never in CI."""
    return bool(os.environ.get("CI")) or not sys.stderr.isatty()


def digest_of(path: Path, algorithm: str = "sha256") -> str:
    digest = hashlib.new(algorithm)
    with path.open("rb") as f:
        while block := f.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def sha256_of(path: Path) -> str:
    return digest_of(path, "sha256")


def _expect(path: Path, algorithm: str, expected: str | None, what: str, origin: str) -> str:
    seen = digest_of(path, algorithm)
    if expected is None:
        log.warning("%s has no pinned checksum; %s seen: %s", what, algorithm, seen)
    elif seen != expected:
        raise UserError(f"{what} from {origin}: checksum mismatch ({algorithm} {seen}, expected {expected})")
    return seen


def safe_extract(archive: Path, dest: Path) -> None:
    """Extract a tar archive, refusing members that are links, devices or outside dest."""
    try:
        with tarfile.open(archive) as tar:
            members = tar.getmembers()
            for member in members:
                parts = PurePosixPath(member.name).parts
                if not (member.isfile() or member.isdir()):
                    raise UserError(f"{archive.name}: refusing {member.name!r}: not a plain file or folder")
                if member.name.startswith("/") or ".." in parts:
                    raise UserError(f"{archive.name}: refusing {member.name!r}: outside the target folder")
            tar.extractall(dest, members=members, filter="data")
    except (tarfile.TarError, EOFError, OSError) as err:
        raise UserError(f"{archive.name}: not a readable tar archive: {err}") from None


def unpack(source: Source, download: Path, out: Path, origin: str) -> str:
    """Check `download`, then put its content at `out`; return the sha256 of what the pipeline reads."""
    if source.md5 is not None:
        _expect(download, "md5", source.md5, source.filename, origin)
    if source.unpack == "tar":
        pinned = source.sha256 is not None or source.md5 is None
        seen = _expect(download, "sha256", source.sha256, source.filename, origin) if pinned else sha256_of(download)
        out.mkdir()
        safe_extract(download, out)
        return seen
    if source.unpack == "gzip":
        try:
            with gzip.open(download) as packed, out.open("wb") as f:
                shutil.copyfileobj(packed, f, CHUNK)
        except (OSError, EOFError) as err:
            raise UserError(f"{source.filename} from {origin}: not a valid gzip file: {err}") from None
        return _expect(out, "sha256", source.sha256, f"{source.target} (in {source.filename})", origin)
    os.replace(download, out)
    return _expect(out, "sha256", source.sha256, source.filename, origin)


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
    """Put `source`'s content into dest_dir (as `source.target`); return the sha256 verified."""
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

    with atomic_path(dest_dir / source.target) as out:
        download = out.parent / f"download-{source.filename}"
        if not urls:
            shutil.copyfile(Path(mirror) / source.filename, download)
            return unpack(source, download, out, str(Path(mirror) / source.filename))
        failures = []
        for url in urls:
            try:
                _fetch_url(url, download, timeout, retries, backoff)
                return unpack(source, download, out, url)
            except UserError as err:
                failures.append(str(err))
                if out.is_dir():
                    shutil.rmtree(out)
                out.unlink(missing_ok=True)
        raise UserError(
            f"could not download {source.filename}: {'; '.join(failures)}. "
            f"Offline? Set {MIRROR_ENV} to a directory holding {source.filename}"
        )
    raise AssertionError("unreachable")
