import pytest

from reprolab import sources
from reprolab.io import UserError
from reprolab.sources import Source, fetch, sha256_of


def source_for(server, name, checksums, urls=None) -> Source:
    return Source(name, urls or (f"{server.url}/{name}",), checksums[name])


def test_downloads_and_verifies(server, fixture_checksums, tmp_path, offline):
    source = source_for(server, "Advertising.csv", fixture_checksums)
    assert fetch(source, tmp_path / "raw") == fixture_checksums["Advertising.csv"]
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
    fetch(source, tmp_path)
    assert server.requests == ["Advertising.csv"]


def test_the_real_sources_are_pinned():
    from reprolab.tasks import TASKS

    fetched = {s.filename: s for task in TASKS.values() for s in task.sources}
    assert set(fetched) == {
        "Advertising.csv", "KDDTrain+.txt", "KDDTest+.txt", "cifar-10-python.tar.gz", "NewsAggregatorDataset.zip",
        *(f"{s}-{k}-ubyte.gz" for s in ("train", "t10k") for k in ("images-idx3", "labels-idx1")),
    }  # fmt: skip
    unpinned = {"NewsAggregatorDataset.zip"}  # nobody publishes its checksum
    for source in fetched.values():
        pinned = len(source.sha256 or "") == 64 or len(source.md5 or "") == 32
        assert pinned != (source.filename in unpinned), source.filename
        assert source.urls[0].startswith("https://")
