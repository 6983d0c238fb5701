"""Downloads: canonical URLs, pinned checksums, an offline mirror, atomic writes.

A file is fetched from the first of its URLs that works (retrying connection
faults and truncated bodies), or from the mirror named by REPROLAB_MIRROR:
a directory, or the base URL of an HTTP server, holding files under their
canonical names. Whatever the origin, the content is checked before it is
renamed into place (and unpacked: gzip, or a tar archive extracted safely), so
a failure leaves nothing behind. The check is the pinned checksum, unless the
mirror holds a `SHA256SUMS` file (as `sha256sum` writes it) that lists the
file: a mirror may so vouch for a re-packed copy, and then that line decides.

What is recorded of a source names no machine: its origin is its canonical URL or
`mirror` (wherever the mirror lies), beside the sha256 of the content read and what
vouched for it: `pin`, `manifest` (the mirror's SHA256SUMS) or `none`.
"""

from __future__ import annotations

import errno
import gzip
import logging
import os
import re
import shutil
import tarfile
import time
from dataclasses import replace
from pathlib import Path, PurePosixPath
from typing import Any

import requests
from tqdm import tqdm

from reprolab.core.errors import UserError
from reprolab.core.files import CHUNK, atomic_path, content_sha256, digest_of, regular_files, sha256_of, write_json
from reprolab.core.progress import quiet
from reprolab.data.tasks.base import SOURCES_FILE, Source, Task

MIRROR_ENV = "REPROLAB_MIRROR"
MANIFEST = "SHA256SUMS"  # a mirror's own checksums of the files it serves
MIRROR_ORIGIN = "mirror"  # the recorded origin of a file read from REPROLAB_MIRROR
log = logging.getLogger(__name__)
# The disk's errors while unpacking (no space, a file-size limit, read-only, no permission): said
# as they are (reprolab/cli.py), not as a corrupt archive.
WRITE_ERRORS = {errno.ENOSPC, errno.EFBIG, errno.EROFS, errno.EACCES, errno.EPERM, errno.EDQUOT}


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
        if getattr(err, "errno", None) in WRITE_ERRORS:
            raise
        raise UserError(f"{archive.name}: not a readable tar archive: {err}") from None


def _gunzip(packed: Path, out: Path, cap: int | None, what: str) -> None:
    """Decompress in blocks, stopping past `cap` bytes (a decompression bomb writes no more)."""
    written = 0
    try:
        with gzip.open(packed) as source, out.open("wb") as f:
            while block := source.read(CHUNK):
                written += len(block)
                if cap is not None and written > cap:
                    raise UserError(f"{what}: decompresses to more than {cap} bytes, the size it should have")
                f.write(block)
    except (OSError, EOFError) as err:
        if getattr(err, "errno", None) in WRITE_ERRORS:
            raise
        raise UserError(f"{what}: not a valid gzip file: {err}") from None


def unpack(source: Source, download: Path, out: Path, origin: str, vouched: bool) -> str:
    """Check `download` against the pins (unless a mirror's manifest `vouched` for it), then put
    its content at `out`; return the sha256 of what the pipeline reads."""
    if source.md5 is not None and not vouched:
        _expect(download, "md5", source.md5, source.filename, origin)
    # Where no sha256 is pinned, the md5 (or the manifest) has spoken: the sha256 is recorded.
    check_sha256 = not vouched and (source.sha256 is not None or source.md5 is None)
    if source.unpack == "tar":
        seen = _expect(download, "sha256", source.sha256, source.filename, origin) if check_sha256 else None
        out.mkdir()
        safe_extract(download, out)
        return seen or sha256_of(download)
    if source.unpack == "gzip":
        _gunzip(download, out, source.size, f"{source.filename} from {origin}")
    else:
        os.replace(download, out)
    what = f"{source.target} (in {source.filename})" if source.unpack else source.filename
    return _expect(out, "sha256", source.sha256, what, origin) if check_sha256 else sha256_of(out)


def parse_manifest(text: str, where: str) -> dict[str, str]:
    """A `SHA256SUMS` file as `sha256sum` writes it: `<sha256>  <name>` (or ` *<name>`) a line."""
    entries = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        match = re.fullmatch(r"([0-9a-fA-F]{64}) [ *](\S.*)", line)
        if match is None:
            raise UserError(f"{where}: line {number}: expected '<sha256>  <file name>', as sha256sum writes it")
        entries[match.group(2)] = match.group(1).lower()
    return entries


def mirror_manifest(mirror: str) -> tuple[dict[str, str], str]:
    """The mirror's SHA256SUMS entries and where they came from ({} where it has none)."""
    if mirror.startswith(("http://", "https://")):
        where = f"{mirror.rstrip('/')}/{MANIFEST}"
        try:
            response = requests.get(where, timeout=60)
        except requests.RequestException as err:
            raise UserError(f"{where}: {type(err).__name__}: {err}") from None
        if response.status_code == 404:
            return {}, where
        if response.status_code != 200:
            raise UserError(f"{where}: HTTP {response.status_code}")
        return parse_manifest(response.text, where), where
    path = Path(mirror) / MANIFEST
    if not path.is_file():
        return {}, str(path)
    return parse_manifest(path.read_text(), str(path)), str(path)


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
            blocks = response.raw.stream(CHUNK, decode_content=True)
            while True:
                try:
                    block = next(blocks, None)
                except Exception as err:  # urllib3 raises its own types for a cut connection
                    raise _Retryable(f"connection broken after {received} bytes: {err}") from None
                if block is None:
                    break
                f.write(block)  # an error here is the disk's (no space, a file-size limit): not retried
                received += len(block)
                bar.update(len(block))
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
) -> dict[str, Any]:
    """Put `source`'s content into dest_dir (as `source.target`); return what vouched for it:
    {"origin": canonical URL or "mirror", "sha256": of the content read, "vouched_by": ...}."""
    mirror = os.environ.get(MIRROR_ENV, "")
    manifest, manifest_at = mirror_manifest(mirror) if mirror else ({}, "")
    if mirror.startswith(("http://", "https://")):
        urls: tuple[str, ...] = (f"{mirror.rstrip('/')}/{source.filename}",)
    elif mirror:
        path = Path(mirror) / source.filename
        if not path.is_file():
            raise UserError(f"{path}: not found ({MIRROR_ENV}={mirror} has no {source.filename})")
        urls = ()
    else:
        urls = source.urls

    def check(download: Path, out: Path, origin: str) -> dict[str, Any]:
        recorded = MIRROR_ORIGIN if mirror else origin  # the place read is in the messages only
        listed = manifest.get(source.filename)
        if listed is not None:
            seen = sha256_of(download)
            if seen != listed:
                raise UserError(f"{origin}: sha256 {seen} does not match its line in {manifest_at} ({listed})")
            log.warning("%s: accepted on %s (sha256 %s), not on the pinned checksum", origin, manifest_at, seen)
            return {"origin": recorded, "sha256": unpack(source, download, out, origin, True), "vouched_by": "manifest"}
        pinned = source.sha256 is not None or source.md5 is not None
        sha256 = unpack(source, download, out, origin, False)
        return {
            "origin": recorded,
            "sha256": sha256,
            "vouched_by": "pin" if pinned else "none (no checksum is published)",
        }

    with atomic_path(dest_dir / source.target) as out:
        download = out.parent / f"download-{source.filename}"
        if not urls:
            origin = str(Path(mirror) / source.filename)
            shutil.copyfile(origin, download)
            return check(download, out, origin)
        failures = []
        for url in urls:
            try:
                _fetch_url(url, download, timeout, retries, backoff)
                return check(download, out, url)
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


def _pinned(path: Path, seen: str, pin: str | None) -> str:
    if pin is not None and seen != pin:
        raise UserError(
            f"{path}: sha256 {seen}, but params.yaml pins {pin}: it changed since it was pinned "
            "(pin the new sha256 if the change is yours)"
        )
    return seen


def input_sha256(source: Source) -> str:
    """The sha256 of a file or folder of the repository (Source.path; a folder's: of its
    SHA256SUMS), checked against its pin: one line where it is missing or changed."""
    path = Path(str(source.path))
    if not path.exists():
        raise UserError(f"{path}: not found (put it there and `dvc add` it, or name another in params.yaml)")
    return _pinned(path, content_sha256(path), source.sha256)


def copy_input(source: Source, dest_dir: Path) -> dict[str, Any]:
    """A file or folder of the repository (data/inputs/...) copied into dest_dir and checked
    there: what is recorded of it, as `fetch` records a download (vouched for by its pin, or by
    the repository, where DVC tracks it)."""
    path = Path(str(source.path))
    input_sha256(replace(source, sha256=None))  # there at all
    with atomic_path(dest_dir / source.target) as out:
        if path.is_dir():
            out.mkdir()
            for file in regular_files(path):
                (out / file.relative_to(path)).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(file, out / file.relative_to(path))
        else:
            shutil.copyfile(path, out)
        seen = _pinned(path, content_sha256(out), source.sha256)
    return {"origin": source.path, "sha256": seen, "vouched_by": "pin" if source.sha256 else "repository"}


def download(task: Task, source_params: Any, raw_dir: Path) -> None:
    """Write a task's raw files into raw_dir, and what vouched for each into SOURCES_FILE."""
    if task.generate is not None:
        task.generate(source_params, raw_dir)
    pins = task.user_pins(source_params) if task.user_pins is not None else {}
    chosen = [replace(s, sha256=pins[s.filename]) if pins.get(s.filename) else s for s in task.sources]
    write_json(
        raw_dir / SOURCES_FILE,
        {s.filename: copy_input(s, raw_dir) if s.path else fetch(s, raw_dir) for s in chosen},
    )
