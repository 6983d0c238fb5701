"""An image as a user holds it, brought to the form of a task's training images: by the
`digit` recipe (mnist) or the `photo` one (cifar10, and a folder of images of your own, whose
training images are brought to their declared size by this module too).

mnist follows the dataset's own recipe (LeCun et al.): a light digit on a dark ground
(inverted where the ground is light), the digit's bounding box scaled to fit 20x20 with
its aspect kept, and placed in 28x28 so that its centre of mass sits at the centre.
A photo is cropped to a centred square, then resized (not squashed), in grey or colour.
An image already in the training images' form (their size and channels, and for mnist a
dark ground) passes unchanged, so that `predict` on the test images gives what `evaluate` gave.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

MAX_PIXELS = 16_000_000  # a prediction reads a few megapixels at most; Pillow's own cap is 179 million
DIGIT_BOX = 20  # mnist: the digit's box fits 20x20 in the 28x28 field


class BlankImage(ValueError):
    """One colour: there is nothing to centre."""


def ground_is_light(grey: np.ndarray) -> bool:
    """The ground is what the border holds: its median, above the middle grey."""
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    return float(np.median(border)) > 127.5


def otsu(grey: np.ndarray) -> float:
    """Otsu's threshold of a uint8 image: the level that best splits it in two classes."""
    counts = np.bincount(grey.ravel(), minlength=256).astype(np.float64)
    levels = np.arange(256)
    weight = np.cumsum(counts)
    mass = np.cumsum(counts * levels)
    total, total_mass = weight[-1], mass[-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (total_mass * weight / total - mass) ** 2 / (weight * (total - weight))
    return float(np.nanargmax(between[:-1]))


def digit(grey: np.ndarray, size: int = 28) -> tuple[np.ndarray, bool]:
    """mnist's recipe for a grey uint8 image of any size: (the size x size image, inverted?)."""
    from PIL import Image

    inverted = ground_is_light(grey)
    ink = (255 - grey) if inverted else grey
    if ink.min() == ink.max():
        raise BlankImage("one colour")
    level = otsu(ink)
    mask = ink > level
    ground = float(np.median(ink[~mask])) if (~mask).any() else 0.0
    top = float(np.percentile(ink[mask], 90))
    strength = np.clip((ink.astype(np.float64) - ground) / max(top - ground, 1.0), 0.0, 1.0)
    strength[strength < 0.1] = 0.0  # the ground's noise
    rows, cols = np.nonzero(mask)
    pad = max(1, round(0.02 * max(np.ptp(rows), np.ptp(cols))))  # the strokes' soft edges
    r0, r1 = max(rows.min() - pad, 0), min(rows.max() + pad + 1, grey.shape[0])
    c0, c1 = max(cols.min() - pad, 0), min(cols.max() + pad + 1, grey.shape[1])
    box = strength[r0:r1, c0:c1]
    scale = DIGIT_BOX / max(box.shape)
    height, width = max(1, round(box.shape[0] * scale)), max(1, round(box.shape[1] * scale))
    patch = Image.fromarray(box.astype(np.float32), mode="F").resize((width, height), Image.Resampling.BILINEAR)
    patch = np.clip(np.asarray(patch), 0.0, 1.0)
    if patch.sum() == 0:
        raise BlankImage("nothing left at 20x20")
    ys, xs = np.indices(patch.shape)
    centre_y, centre_x = (ys * patch).sum() / patch.sum(), (xs * patch).sum() / patch.sum()
    middle = (size - 1) / 2
    top_row = int(np.clip(round(middle - centre_y), 0, size - height))
    left = int(np.clip(round(middle - centre_x), 0, size - width))
    field = np.zeros((size, size))
    field[top_row : top_row + height, left : left + width] = patch
    return np.round(field * 255).astype(np.uint8), inverted


def centre_square(image):
    """The largest centred square of a PIL image."""
    return centre_crop(image, 1.0)


def centre_crop(image, aspect: float):
    """The largest centred part of a PIL image of width / height `aspect`."""
    width, height = image.size
    w, h = (round(height * aspect), height) if width / height > aspect else (width, round(width / aspect))
    left, top = (width - w) // 2, (height - h) // 2
    return image.crop((left, top, left + w, top + h))


def read(path: Path, shape: tuple[int, int, int], done: Counter, form: str) -> np.ndarray:
    """The image at `path` as a (channels, height, width) uint8 array in the training images'
    form; `done` counts what was changed (converted, resized, inverted, cropped, blank)."""
    from PIL import Image, UnidentifiedImageError

    channels, height, width = shape
    mode = "L" if channels == 1 else "RGB"
    cap, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None  # the size is checked below, before decoding
    try:
        with Image.open(path) as image:
            if image.width * image.height > MAX_PIXELS or 0 in image.size:
                raise ValueError(
                    f"{image.width}x{image.height} pixels ({path.stat().st_size:,} bytes): a prediction reads "
                    f"images of 1 to {MAX_PIXELS // 1_000_000} megapixels"
                )
            image.load()
            original = image.mode
            array = np.asarray(image.convert(mode) if image.mode != mode else image, dtype=np.uint8)
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError) as err:
        raise ValueError(f"not an image ({type(err).__name__})") from None
    finally:
        Image.MAX_IMAGE_PIXELS = cap
    return conform(array, shape, done, form, recoded=original != mode)


def conform(
    array: np.ndarray, shape: tuple[int, int, int], done: Counter, form: str, recoded: bool = False
) -> np.ndarray:
    """A uint8 image (height, width) or (height, width, 3), already in the model's channels,
    as (channels, height, width) in the training images' form, by the `form` recipe ("digit",
    "photo"); `recoded`: its file was of other channels."""
    from PIL import Image

    channels, height, width = shape
    digit_form = form == "digit"
    if not recoded and array.shape[:2] == (height, width) and not (digit_form and ground_is_light(array)):
        return array[None] if channels == 1 else array.transpose(2, 0, 1)
    done["converted"] += 1
    if digit_form:
        try:
            array, inverted = digit(array, height)
        except BlankImage:
            done["blank"] += 1
            resized = Image.fromarray(array).resize((width, height), Image.Resampling.BILINEAR)
            return np.asarray(resized, dtype=np.uint8)[None]
        done["inverted"] += inverted
        done["cropped"] += 1
        done["resized"] += 1
        return array[None]
    picture = Image.fromarray(array)
    if picture.width * height != picture.height * width:  # the declared shape's aspect, centred
        picture = centre_square(picture) if width == height else centre_crop(picture, width / height)
        done["cropped"] += 1
    if picture.size != (width, height):
        picture = picture.resize((width, height), Image.Resampling.BICUBIC)
        done["resized"] += 1
    pixels = np.asarray(picture, dtype=np.uint8)
    return pixels[None] if channels == 1 else pixels.transpose(2, 0, 1)


def summary(done: Counter, total: int, shape: tuple[int, int, int]) -> str | None:
    """The one warning line: how many images were converted, and how."""
    if not done["converted"]:
        return None
    channels, height, width = shape
    parts = [f"{done[k]} {k}" for k in ("resized", "inverted", "cropped") if done[k]]
    line = f"{done['converted']} of {total} images converted to {width}x{height} {'L' if channels == 1 else 'RGB'}"
    line += f" ({', '.join(parts)})" if parts else ""
    if done["blank"]:
        line += f"; {done['blank']} of one colour (blank: nothing to centre), predicted as they are"
    return line
