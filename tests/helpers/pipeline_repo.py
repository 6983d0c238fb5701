"""What the end-to-end tests share: the project's fixture pipeline, run once per test run
in a fresh git repository and committed (the baseline), clones of it that start from its
cache, the environment their dvc commands run in (this interpreter's dvc and python,
downloads from a local HTTP server), and helpers. test_pipeline.py checks the baseline
itself; test_experiments.py runs experiments on a clone of it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml

from reprolab.data.tasks import every
from reprolab.experiments import runs as experiments
from tests.conftest import ROOT, TASK_STAGES, FileServer, fixture_pins, for_fixtures, shared
from tests.helpers import own_data

OUTPUTS = ("dvc.lock", "data/", "models/", "dvclive/", "metrics/", "plots/", "reports/")
TASKS = every(ROOT / "params.yaml")  # the classic tasks, as the project's params.yaml has them
OWN = tuple(own_data.BLOCKS)  # and the baseline's tasks of your own data (tests/helpers/own_data.py)
NAMES = (*TASKS, *OWN)
ALL_STAGES = {"plan"} | {f"{s}@{t}" for s in TASK_STAGES for t in NAMES}
INPUTS = ("data/inputs/wine.csv", "data/inputs/digits", "data/inputs/docstrings.csv")


def sh(repo: Path, *args: str, ok: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(args, cwd=repo, capture_output=True, text=True, env=os.environ | {"CI": "true"})
    if ok and result.returncode != 0:
        pytest.fail(f"{' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def ran(result: subprocess.CompletedProcess | str) -> set[str]:
    """The stages a dvc command ran (not those it restored from the run cache)."""
    return set(experiments.RAN.findall(getattr(result, "stdout", result)))


def restored(result: subprocess.CompletedProcess | str) -> set[str]:
    """The stages a dvc command (or an experiment's log) restored from the run cache."""
    return set(experiments.RESTORED.findall(getattr(result, "stdout", result)))


def make_repo(repo: Path, mirror_dir: Path, own: bool = True) -> Path:
    """A copy of the project's source (no outputs) in a fresh git repository, with the
    task modules' pinned checksums replaced by those of the fixture files; with `own`, three
    tasks of your own data too, added as README.md says (own_data.py)."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    for name in listed:
        if (not name.startswith(OUTPUTS) or name.startswith("data/inputs/")) and (ROOT / name).is_file():
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, repo / name)
    for task in TASKS.values():
        module = repo / "reprolab" / "data" / "tasks" / f"{task.name}.py"
        text = module.read_text()
        for source in task.sources:
            for kind, pin in fixture_pins(mirror_dir, source).items():
                if pin is not None:
                    text = text.replace(getattr(source, kind), pin)
        module.write_text(text)
    params = yaml.safe_load((repo / "params.yaml").read_text())
    if own:
        own_data.write(repo)
        params["tasks"] |= own_data.BLOCKS
    (repo / "params.yaml").write_text(yaml.safe_dump(for_fixtures(params), sort_keys=False))
    sh(repo, "git", "init", "-q")
    sh(repo, "git", "config", "user.email", "ci@example.com")
    sh(repo, "git", "config", "user.name", "CI")
    if own:
        sh(repo, sys.executable, "-m", "dvc", "add", "-q", *INPUTS)
    sh(repo, "git", "add", "-A")
    sh(repo, "git", "commit", "-qm", "source")
    return repo


@contextmanager
def environment(mirror_dir: Path, import_log: Path | None = None) -> Iterator[FileServer]:
    """dvc and python from this interpreter's environment; downloads from a local server;
    with import_log, each stage process lists the project files it loaded there."""
    saved = dict(os.environ)
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    if import_log is not None:
        os.environ["PYTHONPATH"] = os.pathsep.join(
            [str(ROOT / "tests/helpers/importlog"), os.environ.get("PYTHONPATH", "")]
        )
        os.environ["REPROLAB_IMPORT_LOG"] = str(import_log)
    try:
        with FileServer(mirror_dir) as server:
            os.environ["REPROLAB_MIRROR"] = server.url
            yield server
    finally:
        os.environ.clear()
        os.environ.update(saved)


def metric_files(repo: Path) -> dict[str, bytes]:
    files = [*repo.glob("metrics/*.json"), *repo.glob("dvclive/*/metrics.json"), *repo.glob("dvclive/**/*.tsv")]
    files += [*repo.glob("plots/*/*.csv"), *repo.glob("data/live/*/metrics.json")]
    files += [*repo.glob("data/evaluation/*/*.json")]
    return {str(path.relative_to(repo)): path.read_bytes() for path in files}


@pytest.fixture(scope="session")
def baseline(tmp_path_factory, mirror_dir) -> Path:
    """The folder of the baseline: repo/ (the pipeline run twice by `dvc repro`, then committed),
    first.txt and second.txt (what the two runs printed), requests.json (the files the first
    one downloaded) and imports/ (the project files each stage process loaded)."""

    def build(root: Path) -> None:
        repo = make_repo(root / "repo", mirror_dir)
        (root / "imports").mkdir()
        with environment(mirror_dir, root / "imports") as server:
            for name in ("first", "second"):
                (root / f"{name}.txt").write_text(sh(repo, "dvc", "repro").stdout)
            (root / "requests.json").write_text(json.dumps(server.requests))
        sh(repo, "git", "add", "-A")
        sh(repo, "git", "commit", "-qm", "baseline")

    return shared(tmp_path_factory, "baseline", build)


def clone(baseline: Path, to: Path) -> Path:
    """A git clone of the baseline with a copy of its DVC cache (hard links: DVC never writes
    to a cached file) and its outputs checked out: as a teammate's after `dvc pull`."""
    sh(to.parent, "git", "clone", "-q", str(baseline / "repo"), str(to))
    shutil.copytree(baseline / "repo/.dvc/cache", to / ".dvc/cache", copy_function=os.link)
    sh(to, "dvc", "checkout", "-q")
    return to


@pytest.fixture(scope="module")
def cloned(baseline, tmp_path_factory, mirror_dir, request) -> Path:
    """A clone of the baseline (the pipeline run and committed), with its cache: one a test
    file, whose tests run in order on it."""
    with environment(mirror_dir):
        return clone(baseline, tmp_path_factory.mktemp(request.module.__name__.rpartition(".")[2]) / "repo")


@pytest.fixture
def served(mirror_dir) -> Iterator[FileServer]:
    """This interpreter's dvc and python, and the fixture files over HTTP, for one test."""
    with environment(mirror_dir) as server:
        yield server
