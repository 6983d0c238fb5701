"""Whatever a user types, nothing is lost: each input or fault a hostile or careless user
tried (issue 31) ends in one line or a counted warning, with nothing deleted that the
command did not create, no half-written output, and bounded memory and time."""

from __future__ import annotations

import json
import os
import re
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from reprolab.core import params, paths
from reprolab.core.errors import UserError
from reprolab.core.files import atomic_path, sweep
from reprolab.data import tasks
from reprolab.experiments import search
from reprolab.learning import models
from stages.download import download
from stages.evaluate import evaluate
from stages.featurize import featurize
from stages.split import split
from stages.train import train
from tests.conftest import ROOT, run_stages, scratch_project
from tests.helpers.pipeline_repo import clone, ran, sh

pytestmark = pytest.mark.e2e

TRAINED = ("nslkdd", "news", "mnist")
PATH = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"  # this interpreter's dvc
NO_GPU = not (torch.cuda.is_available() or torch.backends.mps.is_available())


@pytest.fixture(scope="module")
def trained(tmp_path_factory, mirror_dir) -> Path:
    """A scratch project where the tasks predict is tried on have their models (fixture data)."""
    folder = tmp_path_factory.mktemp("trained")
    with pytest.MonkeyPatch.context() as monkeypatch:
        scratch_project(folder, monkeypatch, mirror_dir)
        for name in TRAINED:
            run_stages(name, download, split, featurize, train)
    return folder


def predict(cwd: Path, trained: Path, task: str, *args: str, timeout: float = 120):
    """`python -m reprolab predict TASK ARGS... --model` the trained model, in `cwd` (no params.yaml
    there): the finished process, and the peak of its resident memory in bytes."""
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    model = str(trained / paths.model(task))
    peak = cwd / ".peak"
    measured = (
        "import atexit, re, runpy, sys; "  # VmHWM: this program's own peak (ru_maxrss keeps the forking one's)
        "rss = lambda: re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read())[1]; "
        f"atexit.register(lambda: open({str(peak)!r}, 'w').write(rss())); "
        "sys.argv[0] = 'reprolab'; runpy.run_module('reprolab', run_name='__main__')"
    )
    command = [sys.executable, "-c", measured, "predict", task, *args, "--model", model]
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, env=env, timeout=timeout)
    rss = int(peak.read_text()) * 1024  # kB
    peak.unlink()
    return result, rss


def listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def kdd_lines(mirror_dir: Path, n: int = 5) -> list[str]:
    return (mirror_dir / "KDDTest+.txt").read_text().splitlines()[:n]


# 1. --output deletes nothing it did not create


def test_output_naming_a_folder_is_refused_and_the_folder_kept(trained, mirror_dir, tmp_path):
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "precious.pt").write_text("keep me")
    (tmp_path / "in.txt").write_text("\n".join(kdd_lines(mirror_dir)) + "\n")
    result, _ = predict(tmp_path, trained, "nslkdd", "in.txt", "--output", "models")
    assert (result.returncode, result.stderr) == (1, "error: predict: models: a folder; name a file to write\n")
    assert (tmp_path / "models" / "precious.pt").read_text() == "keep me"


@pytest.mark.parametrize("output", [".", "", "..", "sub/.."])
def test_output_dot_in_a_scratch_git_repository_leaves_every_file(trained, mirror_dir, tmp_path, output):
    repo = tmp_path / "repo"
    (repo / "sub").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / "in.txt").write_text("\n".join(kdd_lines(mirror_dir)) + "\n")
    (repo / "sub" / "notes.md").write_text("mine")
    before = listing(repo)
    result, _ = predict(repo, trained, "nslkdd", "in.txt", "--output", output)
    assert result.returncode == 1 and len(result.stderr.splitlines()) == 1, result.stderr
    assert "names a folder" in result.stderr or "a folder; name a file" in result.stderr
    assert listing(repo) == before and (repo / ".git" / "HEAD").is_file()


def test_output_that_is_the_input_is_refused_and_the_input_kept(trained, mirror_dir, tmp_path):
    text = "\n".join(kdd_lines(mirror_dir)) + "\n"
    (tmp_path / "f.txt").write_text(text)
    result, _ = predict(tmp_path, trained, "nslkdd", "f.txt", "--output", "./f.txt")
    assert (result.returncode, result.stderr) == (
        1,
        "error: predict: f.txt: is an input too; name another file to write\n",
    )
    assert (tmp_path / "f.txt").read_text() == text


@pytest.mark.parametrize(
    ("output", "reason"),
    [("/proc/x.csv", "/proc: cannot write here"), ("missing/x.csv", "missing: no such folder")],
)
def test_output_where_no_file_can_be_made_is_refused_before_any_work(trained, mirror_dir, tmp_path, output, reason):
    (tmp_path / "in.txt").write_text("\n".join(kdd_lines(mirror_dir)) + "\n")
    result, _ = predict(tmp_path, trained, "nslkdd", "in.txt", "--output", output)
    assert result.returncode == 1 and result.stderr.startswith(f"error: predict: {reason}"), result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_a_file_never_replaces_a_folder_and_a_stale_temporary_goes_only_with_its_writer(tmp_path):
    (tmp_path / "out").mkdir()
    with pytest.raises(UserError, match="out: a folder; not replaced by a file"), atomic_path(tmp_path / "out") as tmp:
        tmp.write_text("x")
    assert (tmp_path / "out").is_dir()
    dead = tmp_path / ".model.pt.tmp-4194305-abc"  # above Linux's largest pid: no such process
    alive = tmp_path / f".model.pt.tmp-{os.getpid()}-abc"
    users = tmp_path / ".model.pt.orig"  # the user's own file of a like name
    for folder in (dead, alive):
        folder.mkdir()
    users.write_text("mine")
    sweep(tmp_path)
    assert not dead.exists() and alive.exists() and users.exists()


# 2. a report is replaced only by a better-founded one


def test_a_search_with_no_complete_trial_leaves_the_report(tmp_path, monkeypatch):
    monkeypatch.setattr(search, "OUT", tmp_path)
    (tmp_path / "advertising.json").write_text("{}\n")
    config = {"task": "advertising", "set": {}, "seeds": [42], "metric": "val.r2", "direction": "maximize"}
    failed = [{"trial": 0, "experiment": "x", "params": {"train.lr": 0.1}, "val": {}}]
    for rows in ([], failed):
        with pytest.raises(UserError, match=r"no trial complete; .*advertising.json and .md left as they were"):
            search.save("advertising", config, rows)
    assert (tmp_path / "advertising.json").read_text() == "{}\n" and not (tmp_path / "advertising.md").exists()


@pytest.mark.parametrize(
    ("module", "args", "said"),
    [
        ("search", ["advertising", "--trials", "-1"], "argument --trials: '-1': a whole number of at least 1"),
        ("search", ["advertising", "--trials", "0"], "argument --trials: '0': a whole number of at least 1"),
        ("seeds", ["--seeds", "4294967296"], "'4294967296': a seed is a whole number from 0 to 2**32 - 1"),
    ],
)
def test_counts_that_cannot_be_are_refused_before_any_work(tmp_path, module, args, said):
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", f"reprolab.experiments.{module}", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
    )
    assert result.returncode == 2 and said in result.stderr.splitlines()[-1], result.stderr
    assert list(tmp_path.iterdir()) == []


# 3, 4. bounded memory and time


def test_a_headline_of_megabytes_is_cut_in_bounded_memory(trained, tmp_path):
    (tmp_path / "long.txt").write_text(
        "Stocks rally " + "x" * 20_000_000 + "\nFed raises rates\n\x00Actor\x07 wins award\n"
    )
    result, peak = predict(tmp_path, trained, "news", "long.txt")
    assert result.returncode == 0, result.stderr
    assert peak < 1 << 30, f"{peak / 2**20:.0f} MiB"  # 7 GB before, for 20 MB
    assert result.stderr.splitlines() == [
        "WARNING: 1 headline(s) over 1,000 characters cut to their first 1,000 (long.txt: 1)",
        "WARNING: 1 headline(s) held NUL or other control characters, read as spaces (long.txt: 1)",
    ]
    assert [line.split(",")[0] for line in result.stdout.splitlines()] == ["id", "1", "2", "3"]


def test_a_kdd_line_of_a_million_fields_is_refused_at_once(trained, tmp_path):
    (tmp_path / "wide.txt").write_text(",".join(["0"] * 1_000_000) + "\n")
    result, _ = predict(tmp_path, trained, "nslkdd", "wide.txt", timeout=60)  # minutes before
    assert result.stderr == (
        "error: predict: wide.txt: line 1: longer than 65,536 characters: not a row of this task\n"
    )


def test_many_headlines_and_one_of_two_thousand_words_are_predicted_in_bounded_memory(trained, tmp_path):
    words = ["markets", "films", "phones", "health", "rates"]
    lines = [f"headline {i} about {words[i % 5]}" for i in range(20_000)]
    lines.append(" ".join(f"{words[i % 5]}{i}" for i in range(2_000)))  # every headline was padded to its length
    (tmp_path / "many.txt").write_text("\n".join(lines) + "\n")
    result, peak = predict(tmp_path, trained, "news", "many.txt", "-o", "out.csv")
    assert result.returncode == 0, result.stderr
    assert peak < 1 << 30, f"{peak / 2**20:.0f} MiB"
    written = (tmp_path / "out.csv").read_text().splitlines()
    assert len(written) == 20_002 and written[0].startswith("id,label,") and written[-1].startswith("20001,")


# 5. only regular files are read


@pytest.mark.parametrize("task", ["mnist", "news", "nslkdd"])
def test_a_fifo_named_or_a_folder_named_is_refused_not_waited_on(trained, tmp_path, task):
    os.mkfifo(tmp_path / "pipe.png")
    (tmp_path / "folder").mkdir()
    result, _ = predict(tmp_path, trained, task, "pipe.png", timeout=60)
    assert result.stderr == "error: predict: pipe.png: not a regular file (a FIFO, socket or device): not read\n"
    if task != "mnist":
        result, _ = predict(tmp_path, trained, task, "folder", timeout=60)
        assert result.stderr == "error: predict: folder: a folder; name the files in it\n"


def test_a_fifo_and_other_files_in_an_image_folder_are_counted_and_skipped(trained, tmp_path):
    from PIL import Image

    images = tmp_path / "images"
    images.mkdir()
    Image.new("L", (28, 28), 0).save(images / "a.png")
    os.mkfifo(images / "b.png")
    (images / "c.svg").write_text("<svg/>")
    (images / "sub").mkdir()
    result, _ = predict(tmp_path, trained, "mnist", "images", timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [
        "WARNING: 3 entries skipped, not read as images (1 files of other kinds, 1 folders, 1 not regular files; "
        "images: .bmp .gif .jpeg .jpg .png .tif .tiff .webp)"
    ]
    assert len(result.stdout.splitlines()) == 2


# 6, 8. the schema refuses what cannot run, before any stage works


def valid() -> dict:
    return yaml.safe_load((ROOT / "params.yaml").read_text())


@pytest.mark.parametrize(
    ("key", "value", "said"),
    [
        ("seed", 2**40, "seed: Input should be less than 4294967296 (got 1099511627776)"),
        ("train.epochs", 10**9, "train.epochs: Input should be less than or equal to 10000 (got 1000000000)"),
    ],
)
def test_values_that_cannot_run_are_refused(key, value, said):
    data = valid()
    block = data
    *parents, last = key.split(".")
    for part in parents:
        block = block[part]
    block[last] = value
    with pytest.raises(UserError) as refused:
        params.validate(data, tasks.every(), complete=True, models=models.entries())
    assert str(refused.value) == f"params.yaml: {said}"


@pytest.mark.skipif(not NO_GPU, reason="has a GPU")
def test_a_device_this_machine_lacks_is_refused_by_the_first_stage(tmp_path):
    data = valid() | {"device": "cuda", "reproducible": "native"}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(data))
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", "stages.plan"], cwd=tmp_path, capture_output=True, text=True, env=env
    )
    assert (result.returncode, result.stderr.splitlines()[-1]) == (
        1, "error: plan: params.yaml: device: cuda is not available here (use auto or cpu)"
    )  # fmt: skip
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize(
    ("pattern", "value", "said"),
    [
        (r"^seed: .*$", "seed: 1099511627776", "seed: Input should be less than 4294967296 (got 1099511627776)"),
        pytest.param(
            r"^device: .*$\n^reproducible: .*$", "device: cuda\nreproducible: native",
            "device: cuda is not available here (use auto or cpu)",
            marks=pytest.mark.skipif(not NO_GPU, reason="has a GPU"),
        ),
    ],
)  # fmt: skip
def test_a_repro_of_one_stage_refuses_before_dvc_removes_any_output(baseline, served, tmp_path, pattern, value, said):
    """DVC removes a stage's outputs before it runs its command: the check must come first."""
    repo = clone(baseline, tmp_path / "repo")
    text = (repo / "params.yaml").read_text()
    (repo / "params.yaml").write_text(re.sub(pattern, value, text, count=1, flags=re.M))
    result = sh(repo, "dvc", "repro", "train@blobs", ok=False)
    assert result.returncode != 0 and f"error: plan: params.yaml: {said}" in result.stderr, result.stderr
    assert ran(result) == {"plan"}
    assert (repo / "models" / "blobs.pt").is_file() and any((repo / "data" / "features" / "blobs").iterdir())


# 7. errors of the operating system are one line, with nothing half-written


def limited_stage(workdir: Path, stage: str, task: str, size: int) -> subprocess.CompletedProcess:
    """`python -m stages.STAGE TASK` in workdir with files limited to `size` bytes (ulimit -f)."""
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", f"stages.{stage}", task], cwd=workdir, capture_output=True, text=True, env=env,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (size, size)),
    )  # fmt: skip


def test_a_file_size_limit_while_downloading_is_one_line(workdir, mirror_dir):
    run_stages("nslkdd")  # the plan stage's files
    result = limited_stage(workdir, "download", "nslkdd", 4096)
    assert result.returncode == 1
    assert (
        result.stderr.splitlines()[-1]
        == "error: download@nslkdd: data/raw/nslkdd/download-KDDTrain+.txt: file too large"
    )
    assert listing(workdir / "data" / "raw") == []  # no half-written output


@pytest.mark.parametrize(
    ("stage", "size", "said"),
    [
        ("featurize", 2_000, r"data/features/nslkdd/train.npz: file too large"),
        ("train", 65_536, r"checkpoints/nslkdd.pt: not written \(file too large: the file-size limit \(ulimit -f\) "
         r"is 65,536 bytes\)"),
        ("evaluate", 2_000, r"data/evaluation/nslkdd: file too large"),
        ("publish", 2_000, r"(dvclive|plots|reports)/nslkdd/[\w.]+: file too large"),
    ],
)  # fmt: skip
def test_a_file_size_limit_in_any_stage_is_one_line_naming_what_was_written(workdir, stage, size, said):
    order = (download, split, featurize, train, evaluate)
    run_stages("nslkdd", *order[: [s.__name__ for s in order].index(stage)] if stage != "publish" else order)
    result = limited_stage(workdir, stage, "nslkdd", size)
    assert result.returncode == 1 and re.fullmatch(f"error: {stage}@nslkdd: {said}", result.stderr.splitlines()[-1]), (
        result.stderr
    )
    assert [p for p in listing(workdir) if ".tmp-" in p] == []  # no half-written output
    if stage == "train":
        assert listing(workdir / "checkpoints") == [] and not paths.model("nslkdd").exists()


def test_a_file_size_limit_on_a_database_is_one_line(workdir):
    """A search's or a seed run's study database (sqlite) under a file-size limit."""
    sql = "create table t(x); insert into t values (zeroblob(99999))"
    work = f"lambda: sqlite3.connect('studies.db').executescript('{sql}')"
    result = subprocess.run(
        [sys.executable, "-c", f"import sqlite3\nfrom reprolab.cli import guarded\nguarded('seeds', {work})"],
        cwd=workdir, capture_output=True, text=True, env=os.environ | {"PYTHONPATH": str(ROOT)},
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (61_440, 61_440)),
    )  # fmt: skip
    assert result.stderr.splitlines() == [
        "error: seeds: a database could not be used (disk I/O error; file too large: the file-size limit "
        "(ulimit -f) is 61,440 bytes)"
    ]


def test_the_train_stage_opens_no_dvc_repository(workdir):
    """DVCLive inside a stage opens no DVC repository (its databases, 0.3 s), even in one."""
    run_stages("blobs", download, split, featurize)
    subprocess.run(["dvc", "init", "--no-scm", "-q"], cwd=workdir, check=True, env=os.environ | {"PATH": PATH})
    code = "import runpy, sys\nsys.argv = ['train', 'blobs']\nrunpy.run_module('stages.train', run_name='__main__')\n"
    code += "print(sorted(m for m in sys.modules if m.startswith('dvc.repo')))"
    result = subprocess.run([sys.executable, "-c", code], cwd=workdir, capture_output=True, text=True,
                            env=os.environ | {"PYTHONPATH": str(ROOT)})  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "[]" and paths.model("blobs").is_file()


def read_only(folder: Path, command: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """`command` with `folder` a read-only file system (an empty tmpfs mounted there, in a mount
    namespace of its own: root writes through a mode of 555, not through this)."""
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    script = 'mount -t tmpfs -o ro,size=1m tmpfs "$0" && exec "$@"'
    return subprocess.run(
        ["unshare", "--mount", "--map-root-user", "sh", "-c", script, str(folder), *command],
        cwd=cwd, capture_output=True, text=True, env=env,
    )  # fmt: skip


def can_mount() -> bool:
    probe = subprocess.run(["unshare", "--mount", "--map-root-user", "true"], capture_output=True)
    return shutil.which("unshare") is not None and probe.returncode == 0


@pytest.mark.skipif(not can_mount(), reason="no mount namespace here")
def test_a_read_only_folder_is_one_line_in_predict_and_in_a_stage(trained, mirror_dir, workdir):
    (workdir / "in.txt").write_text("\n".join(kdd_lines(mirror_dir)) + "\n")
    (workdir / "locked").mkdir()
    model = str(trained / paths.model("nslkdd"))
    command = [
        sys.executable,
        "-m",
        "reprolab",
        "predict",
        "nslkdd",
        "in.txt",
        "--model",
        model,
        "-o",
        "locked/out.csv",
    ]
    result = read_only(workdir / "locked", command, workdir)
    assert result.stderr == "error: predict: locked: cannot write here (read-only file system)\n"
    run_stages("blobs", download)
    (workdir / "data" / "split").mkdir()
    result = read_only(workdir / "data" / "split", [sys.executable, "-m", "stages.split", "blobs"], workdir)
    assert (result.returncode, result.stderr.splitlines()[-1]) == (
        1, "error: split@blobs: data/split: cannot write here (read-only file system)"
    )  # fmt: skip


# 9. values a task knows cannot be


def test_negative_kdd_counts_are_refused_naming_line_and_column(trained, mirror_dir, tmp_path):
    lines = kdd_lines(mirror_dir, 3)
    fields = lines[1].split(",")
    fields[4] = "-" + fields[4].lstrip("-") if fields[4] != "0" else "-5"  # src_bytes
    (tmp_path / "in.txt").write_text("\n".join([lines[0], ",".join(fields), lines[2]]) + "\n")
    result, _ = predict(tmp_path, trained, "nslkdd", "in.txt")
    value = fields[4]
    assert result.stderr == (
        f"error: predict: in.txt: line 2, column 5 (src_bytes): {value!r} is negative (a count or a rate)\n"
    )


# a killed run leaves nothing behind for long


def test_a_train_stage_removes_what_killed_runs_left(workdir):
    run_stages("blobs", download, split, featurize)
    stale = workdir / "checkpoints" / ".news.pt.tmp-4194305-x1y2"  # a killed train@news's, on another task's run
    stale.mkdir(parents=True)
    (stale / "news.pt").write_bytes(b"\0" * 1000)
    run_stages("blobs", train)
    assert listing(workdir / "checkpoints") == []
    assert json.loads((paths.live("blobs") / "metrics.json").read_text())["step"] >= 0
