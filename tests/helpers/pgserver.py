"""A real PostgreSQL server for a test or a benchmark: Debian's `postgresql` package (`.ci/run`
installs it), on 127.0.0.1 with a password, its files in a temporary folder; run as the
`postgres` user where this is root, since initdb refuses root."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

USER, PASSWORD, DATABASE = "reprolab", "pg-test-secret", "studies"


def _as_user() -> list[str]:
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


def binary(name: str) -> str:
    found = shutil.which(name) or next(iter(sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))), None)
    if found is None:
        raise RuntimeError(f"{name} not found: PostgreSQL's server (Debian's postgresql package; .ci/run installs it)")
    return str(found)


@contextmanager
def running() -> Iterator[tuple[str, Path]]:
    """The server's URL (psycopg 3, without the password: PGPASSWORD holds it) and its data folder."""
    as_user = _as_user()
    home = Path(tempfile.mkdtemp(prefix="reprolab-pg-"))
    home.chmod(0o755)
    (home / "pw").write_text(PASSWORD)
    if as_user:
        shutil.chown(home, "postgres")
        shutil.chown(home / "pw", "postgres")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    data = home / "data"

    def run(*args: str, check: bool = True) -> None:
        subprocess.run([*as_user, *args], check=check, capture_output=True, text=True)

    run(binary("initdb"), "-D", str(data), "-U", USER, "--auth=scram-sha-256", f"--pwfile={home / 'pw'}")
    options = f"-p {port} -k {home} -c listen_addresses=127.0.0.1"
    run(binary("pg_ctl"), "-D", str(data), "-o", options, "-l", str(home / "log"), "-w", "start")
    try:
        env = os.environ | {"PGPASSWORD": PASSWORD}
        createdb = [binary("createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", USER, DATABASE]
        subprocess.run(createdb, check=True, env=env)
        yield f"postgresql+psycopg://{USER}@127.0.0.1:{port}/{DATABASE}", data
    finally:
        run(binary("pg_ctl"), "-D", str(data), "-m", "immediate", "stop", check=False)  # a test may have stopped it
        shutil.rmtree(home, ignore_errors=True)


def stop(data: Path) -> None:
    """Stop the server at once, as a lost database."""
    subprocess.run(
        [*_as_user(), binary("pg_ctl"), "-D", str(data), "-m", "immediate", "stop"], check=True, capture_output=True
    )
