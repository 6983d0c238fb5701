"""Image tasks: strict readers, safe extraction, statistics, augmentation, models, resume."""

from __future__ import annotations

import gzip
import hashlib
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch

from reprolab.core.errors import UserError
from reprolab.core.params import TrainParams
from reprolab.core.runtime import seed_everything
from reprolab.data.features.image import channel_stats
from reprolab.data.sources import Source, fetch, safe_extract
from reprolab.data.tasks import cifar10, mnist
from reprolab.learning.inference import Split
from reprolab.learning.loop import fit, random_crop_flip
from reprolab.learning.models import build
from reprolab.learning.models.images import Whitening, whiten
from tests.helpers import fixtures


def write_idx(path, array):
    path.write_bytes(fixtures.idx_bytes(array))


def test_idx_reader_checks_magic_and_size(tmp_path):
    images, labels = fixtures.digits(20, 0)
    write_idx(tmp_path / "x", images)
    assert mnist.read_idx(tmp_path / "x", 3).shape == (20, 28, 28)
    with pytest.raises(UserError, match="bad magic number"):
        mnist.read_idx(tmp_path / "x", 1)
    (tmp_path / "cut").write_bytes((tmp_path / "x").read_bytes()[:-5])
    with pytest.raises(UserError, match=r"cut: 15675 bytes of data, the header says 15680"):
        mnist.read_idx(tmp_path / "cut", 3)


def test_mnist_images_and_labels_must_agree(tmp_path):
    images, labels = fixtures.digits(20, 0)
    for prefix in ("train", "t10k"):
        write_idx(tmp_path / f"{prefix}-images-idx3-ubyte", images)
        write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte", labels[:19])
    with pytest.raises(UserError, match="20 images but 19 labels"):
        mnist.read(tmp_path)


def test_a_decompression_bomb_stops_at_the_expected_size(tmp_path, monkeypatch):
    (tmp_path / "mirror").mkdir()
    (tmp_path / "mirror" / "labels.gz").write_bytes(gzip.compress(bytes(64 << 20)))  # 64 KiB of gzip: 64 MiB
    monkeypatch.setenv("REPROLAB_MIRROR", str(tmp_path / "mirror"))
    with pytest.raises(UserError, match="labels.gz from .*: decompresses to more than 60008 bytes"):
        fetch(Source("labels.gz", (), "0" * 64, unpack="gzip", size=60_008), tmp_path / "raw")
    assert list((tmp_path / "raw").iterdir()) == []
    assert all(s.size and s.urls[0].startswith("https://") and len(s.urls) == 1 for s in mnist.SOURCES)


def test_gzip_sources_are_pinned_on_the_decompressed_content(tmp_path, monkeypatch):
    content = fixtures.idx_bytes(fixtures.digits(5, 0)[1])
    (tmp_path / "mirror").mkdir()
    (tmp_path / "mirror" / "labels.gz").write_bytes(gzip.compress(content))
    monkeypatch.setenv("REPROLAB_MIRROR", str(tmp_path / "mirror"))
    source = Source("labels.gz", (), hashlib.sha256(content).hexdigest(), unpack="gzip")
    fetch(source, tmp_path / "raw")
    assert (tmp_path / "raw" / "labels").read_bytes() == content
    with pytest.raises(UserError, match=r"labels \(in labels.gz\).*checksum mismatch"):
        fetch(Source("labels.gz", (), "0" * 64, unpack="gzip"), tmp_path / "raw2")
    assert not (tmp_path / "raw2" / "labels").exists()


@pytest.mark.parametrize(
    "member",
    [
        ("link", tarfile.SYMTYPE, "cifar-10-batches-py/evil", "/etc/passwd"),
        ("device", tarfile.CHRTYPE, "cifar-10-batches-py/dev", ""),
        ("escape", tarfile.REGTYPE, "../outside.txt", ""),
        ("absolute", tarfile.REGTYPE, "/tmp/absolute.txt", ""),
    ],
)
def test_unsafe_archive_members_are_refused(tmp_path, member):
    _, kind, name, target = member
    extra = tarfile.TarInfo(name)
    extra.type, extra.linkname, extra.size = kind, target, 1 if kind == tarfile.REGTYPE else 0
    archive = fixtures.cifar_archive(tmp_path / "cifar-10-python.tar.gz", per_batch=2, extra=extra)
    (tmp_path / "out").mkdir()
    with pytest.raises(UserError, match="refusing"):
        safe_extract(archive, tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []
    assert not (tmp_path / "outside.txt").exists()


def test_cifar_archive_is_checked_by_md5_then_read(tmp_path, monkeypatch):
    (tmp_path / "mirror").mkdir()
    archive = fixtures.cifar_archive(tmp_path / "mirror" / "cifar-10-python.tar.gz", per_batch=4)
    md5 = hashlib.md5(archive.read_bytes()).hexdigest()
    monkeypatch.setenv("REPROLAB_MIRROR", str(tmp_path / "mirror"))
    with pytest.raises(UserError, match="md5"):
        fetch(Source(archive.name, (), None, md5="0" * 32, unpack="tar"), tmp_path / "raw")
    assert not (tmp_path / "raw" / "cifar-10-python").exists()
    fetch(Source(archive.name, (), None, md5=md5, unpack="tar"), tmp_path / "raw")
    sets = cifar10.read(tmp_path / "raw")
    assert sets["train"].pixels.shape == (20, 3, 32, 32) and sets["test"].pixels.dtype == np.uint8
    assert sets["train"].labels.tolist()[:4] == [0, 1, 2, 3]


def test_channel_stats_match_numpy():
    pixels = np.random.default_rng(0).integers(0, 256, (50, 3, 8, 8), dtype=np.uint8)
    mean, std = channel_stats(pixels, chunk=7)
    scaled = pixels / 255.0
    assert mean == pytest.approx(scaled.mean(axis=(0, 2, 3)).tolist())
    assert std == pytest.approx(scaled.std(axis=(0, 2, 3)).tolist())


def test_crop_and_flip_move_pixels_and_keep_them_uint8():
    x = torch.arange(2 * 3 * 8 * 8, dtype=torch.uint8).reshape(2, 3, 8, 8)
    out = random_crop_flip(x, 2, torch.Generator().manual_seed(0))
    assert out.shape == x.shape and out.dtype == torch.uint8
    same = random_crop_flip(x, 2, torch.Generator().manual_seed(0))
    assert torch.equal(out, same)
    unpadded = random_crop_flip(x, 0, torch.Generator().manual_seed(1))
    assert all(torch.equal(u, x[i]) or torch.equal(u, x[i].flip(-1)) for i, u in enumerate(unpadded))


@pytest.mark.parametrize(
    ("name", "shape"),
    [
        ("linear", [1, 28, 28]),
        ("mlp", [1, 28, 28]),
        ("cnn", [1, 28, 28]),
        ("cnn", [3, 32, 32]),
        ("resnet18", [3, 32, 32]),
        ("airbench", [3, 32, 32]),
        ("airbench", [1, 28, 28]),
    ],
)
@pytest.mark.parametrize("tta", [False, True])
def test_image_models_take_uint8_and_give_logits(name, shape, tta):
    config = {
        "name": name, "n_in": shape, "n_out": 10, "hidden": [16], "activation": "relu", "dropout": 0.1,
        "channels": [8, 16], "convs_per_block": 2, "batch_norm": True, "tta": tta,
        "normalize": {"mean": [0.5] * shape[0], "std": [0.25] * shape[0]},
    }  # fmt: skip
    model = build(config).eval()
    x = torch.randint(0, 256, (4, *shape), dtype=torch.uint8)
    assert model(x).shape == (4, 10)
    again = build(config)
    again.load_state_dict(model.state_dict())
    assert torch.equal(again.eval()(x), model(x))
    mirrored = model(x.flip(-1))
    # with test-time flips an image and its mirror image get the same logits (to rounding)
    assert torch.allclose(mirrored, model(x), atol=1e-5) == tta


def test_the_whitening_layer_whitens_the_training_patches():
    config = {"name": "airbench", "n_in": [3, 32, 32], "n_out": 10, "channels": [8],
              "normalize": {"mean": [0.5] * 3, "std": [0.25] * 3}}  # fmt: skip
    model = build(config)
    images = torch.randint(0, 256, (64, 3, 32, 32), dtype=torch.uint8)
    images[:, 1] = images[:, 0] // 2 + 60  # correlated channels, as in photographs
    whiten(model, images)
    layer = next(m for m in model.modules() if isinstance(m, Whitening))
    with torch.no_grad():
        out = torch.nn.functional.conv2d(model[0](images).double(), layer.weight.double())
    half = out[:, :12].permute(1, 0, 2, 3).reshape(12, -1)  # the + filters; the - ones mirror them
    covariance = half @ half.T / half.shape[1]
    eigenvalues = torch.diagonal(covariance)
    assert torch.allclose(covariance, torch.diag(eigenvalues), atol=2e-3)  # decorrelated
    assert (eigenvalues[eigenvalues > 0.05] > 0.9).all()  # unit variance, where a direction has any
    assert torch.equal(out[:, 12:], -out[:, :12]) and not layer.weight.requires_grad


CFG = dict(
    epochs=4, batch_size=8, lr=0.05, optimizer="momentum", momentum=0.9, weight_decay=0.0,
    scheduler="cosine", step_size=1, gamma=1.0, patience=0, threads=1, augment=True, processes=1,
)  # fmt: skip


class Interrupt(Exception):
    pass


@pytest.mark.parametrize("lookahead", [False, True])
def test_an_interrupted_run_resumes_to_the_same_end(tmp_path, lookahead):
    images, labels = fixtures.digits(48, 0)
    data = Split(torch.from_numpy(images[:, None]), torch.from_numpy(labels.astype(np.int64)))
    config = {"name": "cnn", "n_in": [1, 28, 28], "n_out": 10, "hidden": [], "activation": "relu", "dropout": 0.2,
              "channels": [4], "convs_per_block": 1, "batch_norm": True,
              "normalize": {"mean": [0.2], "std": [0.3]}}  # fmt: skip
    cfg = TrainParams(**CFG, lookahead=lookahead)

    def run(checkpoint, stop_after=None):
        generator = seed_everything(3)
        model = build(config)
        seen = []

        def on_epoch(epoch):
            seen.append(epoch)
            if stop_after is not None and epoch.epoch == stop_after:
                raise Interrupt

        fit(model, "multiclass", data, data, cfg, generator, on_epoch, checkpoint, fingerprint="f")
        return seen, model.state_dict()

    whole, whole_state = run(None)
    with pytest.raises(Interrupt):
        run(tmp_path / "ckpt.pt", stop_after=2)
    resumed, resumed_state = run(tmp_path / "ckpt.pt")
    assert resumed == whole  # epochs 1-2 replayed from the checkpoint, 3-4 trained
    assert all(torch.equal(whole_state[k], resumed_state[k]) for k in whole_state)
    # a checkpoint of other settings is ignored, not resumed
    generator = seed_everything(3)
    fresh = []
    fit(build(config), "multiclass", data, data, cfg, generator, fresh.append, tmp_path / "ckpt.pt", fingerprint="g")
    assert fresh == whole


class _CreatesAFile:
    """A pickle payload that, loaded by plain pickle, creates a file."""

    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self):
        return (open, (str(self.target), "w"))


def test_a_crafted_cifar_batch_runs_nothing(tmp_path):
    import pickle

    target = tmp_path / "pwned"
    folder = tmp_path / "raw" / "cifar-10-python" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for name in (*cifar10.TRAIN_BATCHES, "test_batch"):
        (folder / name).write_bytes(pickle.dumps(fixtures.cifar_batch(10, 0), protocol=2))
    (folder / "data_batch_1").write_bytes(pickle.dumps({"data": _CreatesAFile(target), "labels": []}, protocol=2))
    with pytest.raises(UserError) as caught:
        cifar10.read(tmp_path / "raw")
    assert str(caught.value) == (
        f"{folder / 'data_batch_1'}: not a CIFAR-10 python batch: "
        "refusing io.open: a CIFAR-10 batch holds no such object"
    )
    assert not target.exists()
