import shutil
from pathlib import Path

import pytest

from reprolab.core.errors import UserError
from reprolab.core.files import sha256_of
from reprolab.data import sources
from reprolab.data.sources import Source, fetch


def source_for(server, name, checksums, urls=None) -> Source:
    return Source(name, urls or (f"{server.url}/{name}",), checksums[name])


def test_downloads_and_verifies(server, fixture_checksums, tmp_path, offline):
    source = source_for(server, "Advertising.csv", fixture_checksums)
    seen = fetch(source, tmp_path / "raw")
    assert seen == {"origin": source.urls[0], "sha256": fixture_checksums["Advertising.csv"], "vouched_by": "pin"}
    assert sha256_of(tmp_path / "raw" / "Advertising.csv") == source.sha256
    assert list((tmp_path / "raw").iterdir()) == [tmp_path / "raw" / "Advertising.csv"]


def test_checksum_mismatch_leaves_nothing(server, tmp_path, offline):
    source = Source("Advertising.csv", (f"{server.url}/Advertising.csv",), "0" * 64)
    with pytest.raises(UserError, match="checksum mismatch"):
        fetch(source, tmp_path / "raw")
    assert list((tmp_path / "raw").iterdir()) == []


def test_truncated_body_is_retried_then_refused(server, fixture_checksums, tmp_path, offline):
    server.truncate["KDDTest+.txt"] = 100
    source = source_for(server, "KDDTest+.txt", fixture_checksums)
    with pytest.raises(UserError, match=r"KDDTest\+\.txt.*(truncated|broken)"):
        fetch(source, tmp_path / "raw", retries=2, backoff=0)
    assert server.requests.count("KDDTest+.txt") == 3
    assert list((tmp_path / "raw").iterdir()) == []


def test_server_errors_are_retried(server, fixture_checksums, tmp_path, offline):
    server.fail["KDDTest+.txt"] = 2
    fetch(source_for(server, "KDDTest+.txt", fixture_checksums), tmp_path, retries=2, backoff=0)
    assert (tmp_path / "KDDTest+.txt").exists()


def test_falls_back_to_the_next_copy(server, fixture_checksums, tmp_path, offline):
    urls = (f"{server.url}/gone/Advertising.csv", f"{server.url}/Advertising.csv")
    fetch(source_for(server, "Advertising.csv", fixture_checksums, urls), tmp_path, backoff=0)
    assert (tmp_path / "Advertising.csv").exists()


def test_no_network_names_the_url_and_the_mirror_variable(tmp_path, offline):
    url = "http://127.0.0.1:9/Advertising.csv"  # discard port: nothing listens
    with pytest.raises(UserError) as caught:
        fetch(Source("Advertising.csv", (url,), None), tmp_path, retries=1, backoff=0, timeout=2)
    assert url in str(caught.value) and sources.MIRROR_ENV in str(caught.value)
    assert list(tmp_path.iterdir()) == []


def test_mirror_directory_replaces_the_network(mirror_dir, fixture_checksums, tmp_path, monkeypatch):
    monkeypatch.setenv(sources.MIRROR_ENV, str(mirror_dir))
    source = Source("KDDTrain+.txt", ("http://127.0.0.1:9/never",), fixture_checksums["KDDTrain+.txt"])
    fetch(source, tmp_path)
    assert sha256_of(tmp_path / "KDDTrain+.txt") == source.sha256


def test_mirror_is_verified_too(mirror_dir, tmp_path, monkeypatch):
    monkeypatch.setenv(sources.MIRROR_ENV, str(mirror_dir))
    with pytest.raises(UserError, match="checksum mismatch"):
        fetch(Source("KDDTrain+.txt", (), "f" * 64), tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_mirror_without_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv(sources.MIRROR_ENV, str(tmp_path / "empty"))
    with pytest.raises(UserError, match="has no Advertising.csv"):
        fetch(Source("Advertising.csv", (), None), tmp_path)


def test_http_mirror(server, fixture_checksums, tmp_path, monkeypatch):
    monkeypatch.setenv(sources.MIRROR_ENV, server.url)
    source = Source("Advertising.csv", ("https://example.invalid/x",), fixture_checksums["Advertising.csv"])
    assert fetch(source, tmp_path)["origin"] == "mirror"  # the record names no host, no port
    assert server.requests == ["SHA256SUMS", "Advertising.csv"]  # the mirror has no manifest: the pin decides


@pytest.fixture
def vouching_mirror(mirror_dir, tmp_path, monkeypatch) -> Path:
    """A mirror directory whose SHA256SUMS vouches for its (re-packed) Advertising.csv."""
    mirror = tmp_path / "mirror"
    shutil.copytree(mirror_dir, mirror)
    (mirror / "SHA256SUMS").write_text(f"{sha256_of(mirror / 'Advertising.csv')}  Advertising.csv\n")
    monkeypatch.setenv(sources.MIRROR_ENV, str(mirror))
    return mirror


def test_a_mirror_manifest_vouches_for_a_file_instead_of_the_pin(vouching_mirror, tmp_path, caplog):
    seen = fetch(Source("Advertising.csv", (), "0" * 64), tmp_path / "raw")  # the pin would refuse it
    assert seen["vouched_by"] == "manifest" and seen["origin"] == "mirror"  # wherever the mirror lies
    assert seen["sha256"] == sha256_of(vouching_mirror / "Advertising.csv")
    assert [r.message for r in caplog.records if "accepted on" in r.message] != []
    with pytest.raises(UserError, match="checksum mismatch"):  # a file it does not list: the pin decides
        fetch(Source("KDDTrain+.txt", (), "f" * 64), tmp_path / "raw")


def test_a_file_that_does_not_match_its_manifest_line_stops_the_run(vouching_mirror, tmp_path):
    (vouching_mirror / "SHA256SUMS").write_text(f"{'a' * 64} *Advertising.csv\n")
    with pytest.raises(UserError, match="does not match its line in .*SHA256SUMS"):
        fetch(Source("Advertising.csv", (), None), tmp_path / "raw")
    assert list((tmp_path / "raw").iterdir()) == []


def test_a_malformed_manifest_names_its_line(vouching_mirror, tmp_path):
    (vouching_mirror / "SHA256SUMS").write_text(f"{'a' * 64}  KDDTest+.txt\n\nnot a checksum  Advertising.csv\n")
    with pytest.raises(UserError, match=r"SHA256SUMS: line 3: expected '<sha256>  <file name>'"):
        fetch(Source("Advertising.csv", (), None), tmp_path / "raw")


def test_an_http_mirror_manifest_vouches_too(server, tmp_path, monkeypatch):
    served = server.directory / "Advertising.csv"
    (server.directory / "SHA256SUMS").write_text(f"{sha256_of(served)}  Advertising.csv\n")
    monkeypatch.setenv(sources.MIRROR_ENV, server.url)
    seen = fetch(Source("Advertising.csv", ("https://example.invalid/x",), "0" * 64), tmp_path)
    assert seen == {"origin": "mirror", "sha256": sha256_of(served), "vouched_by": "manifest"}


def test_the_real_sources_are_pinned():
    from reprolab.data.tasks import every

    fetched = {s.filename: s for task in every().values() for s in task.sources}
    assert set(fetched) == {
        "Advertising.csv", "KDDTrain+.txt", "KDDTest+.txt", "cifar-10-python.tar.gz", "NewsAggregatorDataset.zip",
        *(f"{s}-{k}-ubyte.gz" for s in ("train", "t10k") for k in ("images-idx3", "labels-idx1")),
    }  # fmt: skip
    unpinned = {"NewsAggregatorDataset.zip"}  # nobody publishes its checksum
    for source in fetched.values():
        pinned = len(source.sha256 or "") == 64 or len(source.md5 or "") == 32
        assert pinned != (source.filename in unpinned), source.filename
        assert source.urls[0].startswith("https://")
