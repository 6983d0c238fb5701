"""A folder of images of your own, one sub-folder per class (torchvision's ImageFolder layout):

    data/inputs/leaves/healthy/IMG_0001.jpg
    data/inputs/leaves/rust/scan-7.png
    ...

Declared in params.yaml alone:

    tasks:
      leaves:
        source: {images: data/inputs/leaves, size: [64, 64]}

Images of any size, mode and format Pillow reads are brought to `size` (height, width) and
`mode` (RGB or L) by the conversion `reprolab predict` uses (reprolab/data/image_form.py:
the largest centred part of that shape, resized), so that a prediction sees what training saw.
A file Pillow cannot read is skipped and counted in one warning (a class left with none is
refused); an image over predict's size limit is refused. The class folders' names are the
classes; a folder holding a single folder of them (an unpacked archive) is looked into. A URL
names a tar archive of such a folder, with its sha256.
"""

from __future__ import annotations

import functools
import logging
from collections import Counter
from pathlib import Path, PurePosixPath
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field, model_validator

from reprolab.core.errors import UserError
from reprolab.core.files import regular_files
from reprolab.core.params import FeatureParams, StrictModel
from reprolab.data.tasks import own
from reprolab.data.tasks.base import Images, Source, Task

ARCHIVES = (".tar", ".tar.gz", ".tgz")
log = logging.getLogger(__name__)


class ImagesSource(StrictModel):
    images: own.Location = Field(description="a folder under data/inputs/ (a sub-folder per class), or a tar's URL")
    sha256: own.Sha256 | None = Field(None, description="a URL's sha256; a folder's: of its SHA256SUMS")
    size: list[Annotated[int, Field(ge=8, le=512)]] = Field([32, 32], min_length=2, max_length=2)
    mode: Literal["RGB", "L"] = Field("RGB", description="RGB: colour; L: grey")
    test: own.Location | None = Field(None, description="a second folder of the same classes: the test images")
    test_sha256: own.Sha256 | None = None

    @model_validator(mode="after")
    def _archives(self) -> ImagesSource:
        own.pinned((self.images, self.sha256), (self.test, self.test_sha256))
        for location in (self.images, self.test):
            if location is not None and own.is_url(location) and not location.split("?")[0].endswith(ARCHIVES):
                raise ValueError(f"{location}: a URL of images names a tar archive ({', '.join(ARCHIVES)})")
        return self

    @property
    def shape(self) -> tuple[int, int, int]:
        return (3 if self.mode == "RGB" else 1, self.size[0], self.size[1])


DEFAULTS = {
    "split": {},
    "features": {},
    "model": {"name": "cnn", "channels": [32, 64], "batch_norm": True, "hidden": [128]},
    "train": {},
}


def class_folders(folder: Path, where: str) -> list[Path]:
    """The class folders of an image folder (looked into where it holds one folder alone)."""
    if not folder.is_dir():
        raise UserError(f"{folder}: {where}: not a folder of class folders")
    entries = sorted(folder.iterdir())
    if len(entries) == 1 and entries[0].is_dir() and all(e.is_dir() for e in entries[0].iterdir()):
        entries = sorted(entries[0].iterdir())
    classes = [e for e in entries if e.is_dir() and not e.name.startswith(".")]
    if not classes:
        raise UserError(f"{folder}: {where}: no class sub-folder (the layout is FOLDER/CLASS/IMAGE)")
    return classes


@functools.lru_cache(maxsize=2)
def _decoded(folder: Path, shape: tuple[int, int, int], where: str, stamp: int) -> tuple[Images, tuple[str, ...]]:
    """(the images of every class folder, in the training form, with their labels; the classes).
    `stamp`: the folder's time, so that an edited folder is read again."""
    from reprolab.data import image_form

    classes = class_folders(folder, where)
    pixels, labels, skipped, done = [], [], Counter[str](), Counter[str]()
    for label, class_folder in enumerate(classes):
        kept = 0
        for path in regular_files(class_folder):
            try:
                pixels.append(image_form.read(path, shape, done, "photo"))
            except ValueError as err:
                if "pixels" in str(err):  # over predict's size limit: refused, as predict refuses it
                    raise UserError(f"{path}: {where}: {err}") from None
                skipped[f"{class_folder.name}/{path.name}"] += 1
                continue
            labels.append(label)
            kept += 1
        if not kept:
            raise UserError(f"{class_folder}: {where}: a class folder with no image Pillow reads")
    if skipped:
        shown = ", ".join(list(skipped)[:3]) + (", ..." if len(skipped) > 3 else "")
        log.warning("%s: %s: %d file(s) Pillow cannot read skipped (%s)", folder, where, len(skipped), shown)
    if line := image_form.summary(done, len(labels), shape):
        log.info("%s: %s: %s", folder, where, line)
    images = Images(np.stack(pixels).astype(np.uint8), np.asarray(labels, np.int64))
    return images, tuple(c.name for c in classes)


class Folder:
    def __init__(self, name: str, source: ImagesSource, split: own.OwnSplit, sources: tuple[Source, ...]) -> None:
        self.name, self.source, self.split, self.sources = name, source, split, sources

    def folders(self, raw_dir: Path) -> dict[str, Path]:
        return dict(zip(own.parts(self.source.test), (raw_dir / s.target for s in self.sources), strict=True))

    def decoded(self, raw_dir: Path) -> dict[str, tuple[Images, tuple[str, ...]]]:
        found = {}
        for part, folder in self.folders(raw_dir).items():
            stamp = (
                max((p.stat().st_mtime_ns for p in [folder, *folder.rglob("*")]), default=0) if folder.exists() else 0
            )
            found[part] = _decoded(folder, self.source.shape, f"task {self.name}", stamp)
        return found

    def describe(self, task: Task, raw_dir: Path) -> Task:
        decoded = self.decoded(raw_dir)
        folder = next(iter(self.folders(raw_dir).values()))
        images, classes = next(iter(decoded.values()))
        for part, (_, other) in decoded.items():
            if unknown := sorted(set(other) - set(classes)):
                raise UserError(
                    f"{self.folders(raw_dir)[part]}: task {self.name}: class {unknown[0]!r} has no training folder"
                )
        split = self.split.model_copy(update={"test": 0.0}) if "test" in decoded else self.split
        counts = np.bincount(images.labels, minlength=len(classes))
        own.check_classes(
            dict(zip(classes, map(int, counts), strict=True)), split, f"{folder}: task {self.name}", "the class folder"
        )
        kind = "binary" if len(classes) == 2 else "multiclass"
        return task.described({"kind": kind, "classes": classes, "numeric": (), "categorical": ()})

    def read(self, task: Task, raw_dir: Path) -> dict[str, Images]:
        tables = {}
        for part, (images, classes) in self.decoded(raw_dir).items():
            codes = np.asarray([task.classes.index(c) for c in classes], np.int64)  # a test folder's own order
            tables[part] = Images(images.pixels, codes[images.labels])
        return tables


def task(name: str, block: Any) -> Task:
    source = own.checked(ImagesSource, block, name)
    sources = own.sources(source.images, source.sha256, source.test, source.test_sha256, unpack="tar")
    channels, height, width = source.shape
    return own.task(
        Folder(name, source, own.split_part(block, name), sources),
        name=name,
        kind=None,
        about=f"{name}: your images, {PurePosixPath(source.images).name}, as {width}x{height} {source.mode}.",
        numeric=(),
        sources=sources,
        source_params=ImagesSource,
        features_params=FeatureParams,
        image_shape=source.shape,
        defaults=DEFAULTS,
        limits=(
            f"Every image was brought to {width}x{height} {source.mode} as `reprolab predict` brings a new one; "
            "files Pillow could not read were skipped.",
        ),
    )
