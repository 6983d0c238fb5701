"""The default DVC remote checks what it hands back: a tampered object is refused on pull."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.e2e


def run(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = os.environ | {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, env=env)


def test_a_tampered_object_in_the_remote_is_not_pulled(tmp_path):
    repo, store = tmp_path / "repo", tmp_path / "store"
    repo.mkdir()
    run(repo, "git", "init", "-q")
    (repo / ".dvc").mkdir()
    shutil.copy(ROOT / ".dvc/config", repo / ".dvc/config")  # the project's remote settings
    assert run(repo, "dvc", "remote", "modify", "storage", "url", str(store)).returncode == 0
    (repo / "raw").mkdir()  # a directory, as the stages' outputs are (a single file is re-hashed anyway)
    (repo / "raw/a.csv").write_text("x,y\n1,2\n")
    (repo / "raw/b.csv").write_text("x,y\n3,4\n")
    assert run(repo, "dvc", "add", "-q", "raw").returncode == 0
    assert run(repo, "dvc", "push", "-q").returncode == 0
    (stored,) = [path for path in store.rglob("*") if path.is_file() and path.read_text() == "x,y\n1,2\n"]
    stored.chmod(0o644)
    stored.write_text("x,y\n6,6\n")  # tampered in the remote
    shutil.rmtree(repo / ".dvc/cache")
    shutil.rmtree(repo / "raw")
    pulled = run(repo, "dvc", "pull")
    assert pulled.returncode != 0, pulled.stdout
    assert not (repo / "raw/a.csv").exists()
