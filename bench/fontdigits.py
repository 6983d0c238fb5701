"""Digits as a user draws or renders them, given to the committed mnist model: the score of
`reprolab predict`'s conversion (reprolab/data/image_form.py) against a plain resize.

The digits 0-9 are rendered from fonts, dark on a light, slightly noisy ground, at several
sizes and positions on canvases of several sizes: a set made here, seen by no training or
selection step. Needs models/mnist.pt (make repro, or dvc pull).
Run: make bench  (or python -m bench.fontdigits)
"""

from __future__ import annotations

import itertools
from collections import Counter
from pathlib import Path

import numpy as np

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
FONTS = ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSerif.ttf", "DejaVuSansMono.ttf", "DejaVuSerif-Bold.ttf")


def font(name: str, size: int):
    from PIL import ImageFont

    path = FONT_DIR / name
    return ImageFont.truetype(str(path), size) if path.is_file() else ImageFont.load_default(size)


def render(digit: int, font_name: str, size: int, canvas: tuple[int, int], at: tuple[float, float], seed: int):
    """A grey uint8 image: `digit` in `font_name` at `size` px, dark on a light noisy ground,
    its centre at the fraction `at` of the canvas (width, height)."""
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(seed)
    ground, ink = int(rng.integers(200, 250)), int(rng.integers(0, 70))
    image = Image.new("L", canvas, ground)
    x, y = at[0] * canvas[0], at[1] * canvas[1]
    ImageDraw.Draw(image).text((x, y), str(digit), fill=ink, font=font(font_name, size), anchor="mm")
    noisy = np.asarray(image, dtype=np.float64) + rng.normal(0.0, 6.0, (canvas[1], canvas[0]))
    return np.clip(noisy, 0, 255).astype(np.uint8)


def digits() -> list[tuple[int, np.ndarray]]:
    """The set: (label, image) for every digit, font, size and position below."""
    canvases = ((28, 28), (64, 64), (120, 90), (200, 260))
    places = ((0.5, 0.5), (0.35, 0.6), (0.62, 0.4))
    found = []
    for seed, (digit, font_name, canvas, at) in enumerate(itertools.product(range(10), FONTS, canvases, places)):
        size = int(min(canvas) * (0.55 + 0.3 * ((seed * 7) % 5) / 4))  # 55% to 85% of the canvas
        found.append((digit, render(digit, font_name, size, canvas, at, seed)))
    return found


def main() -> None:
    import torch
    from PIL import Image

    from reprolab.core import paths
    from reprolab.data import image_form
    from reprolab.learning import model_file
    from reprolab.learning.inference import outputs

    saved, model = model_file.load(paths.model("mnist"), "mnist")
    shape = tuple(saved["preprocess"]["image_shape"])
    labels, plain, converted, done = [], [], [], Counter()
    for label, grey in digits():
        labels.append(label)
        plain.append(np.asarray(Image.fromarray(grey).resize(shape[1:][::-1], Image.Resampling.BILINEAR))[None])
        converted.append(image_form.conform(grey, shape, done, "digit"))
    for name, images in (("a plain resize (before)", plain), ("predict's conversion", converted)):
        probabilities = outputs(model, torch.from_numpy(np.stack(images)), saved["kind"])
        right = (probabilities.argmax(1).numpy() == np.array(labels)).mean()
        print(f"font digits, dark on light ({len(labels)}): {name}: {right:.4f} right")


if __name__ == "__main__":
    main()
