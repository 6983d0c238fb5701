"""Shared fixtures: fixture data, a local HTTP server, pinned checksums of the fixtures."""

from __future__ import annotations

import gzip
import hashlib
import importlib
import os
import shutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml
from filelock import FileLock

from reprolab import plan
from reprolab.core import kernels, params
from reprolab.core.files import digest_of, sha256_of
from reprolab.data import sources, tasks
from tests.helpers import fixtures

ROOT = Path(__file__).resolve().parents[1]
MIRROR = ROOT.parent / "shared" / "data" / "mirror"  # the real data, where a machine has it (beside the clone)
pytest_plugins = ["tests.helpers.pipeline_repo"]  # the end-to-end set-ups (the baseline pipeline), shared by the run
TASK_STAGES = ("download", "split", "featurize", "train", "evaluate", "publish")  # per task, in order
os.environ["DVC_NO_ANALYTICS"] = "1"
# The costly end-to-end files first, in this order (pytest-xdist hands a free worker the next
# file): the baseline's build and the real-data rebuild start at once, one a worker, and the
# files that use the baseline follow, so that no worker is left at the end with a long file.
FIRST = (
    "test_pipeline.py",
    "test_committed.py",
    "test_experiments.py",
    "test_many_machines.py",
    "test_runcache.py",
    "test_kernels.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(FIRST)))  # stable: the rest as collected


class FileServer:
    """Serves a directory on 127.0.0.1; can fail or cut responses on purpose."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.requests: list[str] = []
        self.fail: dict[str, int] = {}  # file name -> how many requests answer HTTP 503
        self.truncate: dict[str, int] = {}  # file name -> bytes sent (Content-Length stays whole)
        server = self

        class Handler(SimpleHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                name = self.path.lstrip("/")
                server.requests.append(name)
                if server.fail.get(name, 0) > 0:
                    server.fail[name] -= 1
                    self.send_error(503)
                    return
                if name in server.truncate:
                    body = (server.directory / name).read_bytes()
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body[: server.truncate[name]])
                    self.close_connection = True
                    return
                super().do_GET()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(directory)))
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        # shutdown() waits for the loop's next poll: 0.05 s, not the default 0.5 s, at the end of each test
        self.thread = threading.Thread(target=partial(self.httpd.serve_forever, poll_interval=0.05), daemon=True)

    def __enter__(self) -> FileServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def shared(tmp_path_factory, name: str, build: Callable[[Path], object]) -> Path:
    """A directory built once per test run by whichever pytest-xdist worker asks first (the
    others wait for it), so that a costly set-up is not made once per worker or per module."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # the run's folder, above each worker's own
    path, built = base / name, base / f"{name}.built"
    with FileLock(base / f"{name}.lock"):
        if not built.exists():
            shutil.rmtree(path, ignore_errors=True)
            path.mkdir()
            build(path)
            built.touch()
    return path


@pytest.fixture(scope="session")
def mirror_dir(tmp_path_factory) -> Path:
    """The fixture files (one set for the whole run: their archives hold the time they were made)."""
    return shared(tmp_path_factory, "mirror", fixtures.mirror)


@pytest.fixture
def server(tmp_path, mirror_dir) -> Iterator[FileServer]:
    served = tmp_path / "served"
    shutil.copytree(mirror_dir, served)
    with FileServer(served) as running:
        yield running


@pytest.fixture(scope="session")
def fixture_checksums(mirror_dir) -> dict[str, str]:
    """sha256 of each fixture file as downloaded."""
    return {path.name: sha256_of(path) for path in mirror_dir.iterdir()}


def fixture_pins(mirror_dir: Path, source: sources.Source) -> dict[str, str | None]:
    """The checksums a source would pin for the fixture file: sha256 of the content read
    (decompressed, for gzip) and, where the real source pins one, md5 of the download."""
    path = mirror_dir / source.filename
    if source.unpack == "gzip":
        sha256 = hashlib.sha256(gzip.decompress(path.read_bytes())).hexdigest()
    else:
        sha256 = sha256_of(path) if source.sha256 else None
    return {"sha256": sha256, "md5": digest_of(path, "md5") if source.md5 else None}


def pin(monkeypatch, mirror_dir: Path) -> None:
    """Pin the fixture files' checksums in place of the real ones, while `monkeypatch` holds."""
    for task in tasks.every().values():
        pinned = tuple(replace(s, **fixture_pins(mirror_dir, s)) for s in task.sources)
        monkeypatch.setattr(
            importlib.import_module(f"reprolab.data.tasks.{task.name}"), "TASK", replace(task, sources=pinned)
        )


@pytest.fixture
def offline(monkeypatch) -> None:
    monkeypatch.delenv(sources.MIRROR_ENV, raising=False)


def for_fixtures(data: dict) -> dict:
    """The project's params made for the small fixture files: at most 3 epochs a task, and the
    text tasks' n-grams in 4,096 buckets (not 262,144 x 64 weights to train, save, cache and push)."""
    for block in data["tasks"].values():
        train = block.setdefault("train", {})
        train["epochs"] = min(train.get("epochs", data["train"]["epochs"]), 3)
    for name, block in data["tasks"].items():  # news's n-grams, and any texts task's of your own
        if name == "news" or "texts" in block.get("source", {}):
            block.setdefault("features", {})["buckets"] = 4096
    return data


def scratch_project(folder: Path, monkeypatch, mirror_dir: Path) -> Path:
    """`folder` as a scratch project while `monkeypatch` holds: params.yaml with few epochs,
    fixture files as the mirror, their checksums pinned, the working directory."""
    pin(monkeypatch, mirror_dir)
    data = for_fixtures(yaml.safe_load((ROOT / "params.yaml").read_text()))
    (folder / "params.yaml").write_text(yaml.safe_dump(data))
    monkeypatch.chdir(folder)
    monkeypatch.setenv(sources.MIRROR_ENV, str(mirror_dir))
    monkeypatch.setenv("CI", "true")
    return folder


@pytest.fixture
def workdir(tmp_path, monkeypatch, mirror_dir):
    """A scratch project: params.yaml with few epochs, fixture files as the mirror."""
    return scratch_project(tmp_path, monkeypatch, mirror_dir)


@pytest.fixture
def trained(tmp_path_factory, mirror_dir, workdir) -> Callable[[str], Path]:
    """trained(name): the scratch project with `name` run from download to train, copied from
    one built once a test run (by the first worker that asks): the same bytes as a run here."""
    from stages.download import download
    from stages.featurize import featurize
    from stages.split import split
    from stages.train import train

    def copy(name: str) -> Path:
        def build(folder: Path) -> None:
            with pytest.MonkeyPatch.context() as patch:
                scratch_project(folder, patch, mirror_dir)
                run_stages(name, download, split, featurize, train)

        shutil.copytree(shared(tmp_path_factory, f"trained-{name}", build), workdir, dirs_exist_ok=True)
        return workdir

    return copy


def run_stages(name: str, *stages) -> None:
    """Run stages of one task in-process, as dvc would (the plan stage's files first), with the
    task's thread count, as its stage process has it (reprolab/cli.py): the bits follow it."""
    checked = params.load(tasks.every())
    plan.write(checked)
    if stages:
        kernels.use_threads(checked.train_for(name).threads)
    for stage in stages:
        stage(tasks.get(name), checked)
