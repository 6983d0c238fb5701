"""End to end, the run cache: a configuration already run is restored, not run again, in the
workspace, in `dvc exp run` and in a teammate's clone; an entry whose object is missing or
tampered with runs again. On the real dvc.yaml in a clone of the baseline
(tests/helpers/pipeline_repo.py). The tests run in order, on one clone: each says what it takes
from the ones above."""

from __future__ import annotations

import re
import socket
import sys
from pathlib import Path

import pytest
import yaml

from tests.helpers.pipeline_repo import ran, restored, sh

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("served")]


@pytest.fixture(scope="module")
def repo(cloned) -> Path:
    return cloned


def at_seed(repo: Path, seed: int) -> None:
    """Set params.yaml's seed by hand, as a user would (the rest of the file as it is)."""
    path = repo / "params.yaml"
    path.write_text(re.sub(r"(?m)^seed: \d+", f"seed: {seed}", path.read_text(), count=1))


COSTLY = {f"{stage}@{task}" for stage in ("featurize", "train", "evaluate") for task in ("blobs", "nslkdd")}
PUBLISH = ("publish@blobs", "publish@nslkdd")


def test_a_configuration_already_run_is_restored_not_run_again(repo):
    """Seed 1 (committed) -> 2 -> 1 in the workspace, then 2 again in `dvc exp run`: each
    configuration trains once; a return to it is a checkout, byte for byte the first run's."""
    sh(repo, "git", "reset", "-q", "--hard")
    sh(repo, "dvc", "checkout", "-q", "--force")
    at_seed(repo, 2)
    second = sh(repo, "dvc", "repro", *PUBLISH)
    assert ran(second) == {"plan", *COSTLY, *PUBLISH} and restored(second) == set()
    at_seed(repo, 1)
    third = sh(repo, "dvc", "repro", *PUBLISH)
    assert restored(third) == COSTLY, third.stdout
    assert ran(third) == {"plan", *PUBLISH}  # the git-kept copies: not cacheable, a copy
    assert sh(repo, "git", "status", "--porcelain").stdout == ""  # the committed bytes, from the cache
    assert sh(repo, "dvc", "status", "--json").stdout.strip() == "{}"
    again = sh(repo, "dvc", "exp", "run", "-S", "seed=2", *PUBLISH)
    assert restored(again) == COSTLY and ran(again) == {"plan", *PUBLISH}, again.stdout


def cached_object(repo: Path, stage: str, path: str) -> Path:
    lock = yaml.safe_load((repo / "dvc.lock").read_text())["stages"][stage]
    (md5,) = [out["md5"] for out in lock["outs"] if out["path"] == path]
    return repo / ".dvc/cache/files/md5" / md5[:2] / md5[2:]


def test_a_run_cache_entry_whose_object_is_missing_or_tampered_runs_again(repo):
    """Seed 2's models (the test above ran it) lose their cached objects, one deleted, one
    overwritten: at seed 2 again, both train stages run again and make the same bits."""
    assert "seed: 2" in (repo / "params.yaml").read_text()
    deleted, tampered = (
        cached_object(repo, "train@blobs", "models/blobs.pt"),
        cached_object(repo, "train@nslkdd", "models/nslkdd.pt"),
    )
    wanted = {path: path.read_bytes() for path in (deleted, tampered)}
    sh(repo, "dvc", "exp", "run", "-S", "seed=1", *PUBLISH)  # no copy of seed 2's models is left outside the cache
    deleted.unlink()
    tampered.chmod(0o644)
    tampered.write_bytes(b"not a model")
    result = sh(repo, "dvc", "exp", "run", "-S", "seed=2", *PUBLISH)
    assert {"train@blobs", "train@nslkdd"} <= ran(result), result.stdout
    assert {"featurize@blobs", "featurize@nslkdd"} <= restored(result)
    for path, content in wanted.items():  # the same bits again, in the cache and in the workspace
        assert path.read_bytes() == content
    assert (repo / "models/blobs.pt").read_bytes() == wanted[deleted]
    assert (repo / "models/nslkdd.pt").read_bytes() == wanted[tampered]


def test_push_then_a_fresh_clone_pulls_and_has_nothing_to_run(repo, tmp_path, monkeypatch):
    """Through an S3-compatible server (moto) on 127.0.0.1, as a team's remote would be:
    `make push` (python -m reprolab.experiments.sharing) sends the outputs, every run's entry and the
    runs' outputs; a teammate's clone pulls, has nothing to run, and restores seed 2 (run
    above, in this clone only) instead of training it."""
    import boto3
    from moto.server import ThreadedMotoServer

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    sh(repo, "git", "reset", "-q", "--hard")  # the committed baseline, whatever the tests above applied
    sh(repo, "dvc", "checkout", "-q", "--force")
    try:
        for key, value in {
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_DEFAULT_REGION": "us-east-1",
        }.items():
            monkeypatch.setenv(key, value)
        endpoint = f"http://127.0.0.1:{port}"
        boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="reprolab")
        sh(repo, "dvc", "remote", "add", "-d", "team", "s3://reprolab/cache")
        sh(repo, "dvc", "remote", "modify", "team", "endpointurl", endpoint)
        sh(repo, "git", "commit", "-qam", "team remote")
        pushed = sh(repo, sys.executable, "-m", "reprolab.experiments.sharing").stdout
        said = r"(\d+) files of the workspace's outputs, (\d+) run-cache entries and (\d+) objects of their runs"
        counts = re.fullmatch(said + " pushed\n", pushed)
        assert counts and all(int(n) > 0 for n in counts.groups()), pushed

        clone = tmp_path / "clone"
        sh(tmp_path, "git", "clone", "-q", str(repo), str(clone))
        pulled = sh(clone, "dvc", "pull", "--run-cache")
        assert (clone / "models/nslkdd.pt").exists(), pulled.stdout
        again = sh(clone, "dvc", "repro")
        assert ran(again) == set() and "Data and pipelines are up to date." in again.stdout
        at_seed(clone, 2)  # run in the other clone (the tests above), never here
        teammate = sh(clone, "dvc", "repro", "--pull", *PUBLISH)  # --pull: the restored runs' objects too
        assert restored(teammate) == COSTLY and ran(teammate) == {"plan", *PUBLISH}, teammate.stdout
        for stage, path in (("train@blobs", "models/blobs.pt"), ("train@nslkdd", "models/nslkdd.pt")):
            made_there = repo / cached_object(clone, stage, path).relative_to(clone)
            assert (clone / path).read_bytes() == made_there.read_bytes()  # the bits seed 2 made in the other clone
    finally:
        server.stop()
