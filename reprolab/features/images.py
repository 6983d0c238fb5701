"""Image statistics and augmentation. Images stay uint8; models normalise on the fly."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor


def channel_stats(pixels: np.ndarray, chunk: int = 4096) -> tuple[list[float], list[float]]:
    """Per-channel mean and standard deviation of uint8 images (N, C, H, W), on a 0..1 scale."""
    total = np.zeros(pixels.shape[1])
    squares = np.zeros(pixels.shape[1])
    for start in range(0, len(pixels), chunk):
        block = pixels[start : start + chunk].astype(np.float64) / 255.0
        total += block.sum(axis=(0, 2, 3))
        squares += (block**2).sum(axis=(0, 2, 3))
    count = len(pixels) * pixels.shape[2] * pixels.shape[3]
    mean = total / count
    std = np.sqrt(np.maximum(squares / count - mean**2, 0.0))
    return mean.tolist(), np.where(std > 0, std, 1.0).tolist()


def random_crop_flip(x: Tensor, padding: int, generator: torch.Generator) -> Tensor:
    """Per image: a random crop of the zero-padded image, and a horizontal flip half the time.

    Vectorised over the batch with explicit index grids, so no DataLoader worker is needed.
    """
    n, c, h, w = x.shape
    padded = torch.nn.functional.pad(x, (padding,) * 4)
    dy = torch.randint(0, 2 * padding + 1, (n, 1), generator=generator).to(x.device)
    dx = torch.randint(0, 2 * padding + 1, (n, 1), generator=generator).to(x.device)
    rows = (dy + torch.arange(h, device=x.device))[:, None, :, None]
    cols = (dx + torch.arange(w, device=x.device))[:, None, None, :]
    flip = (torch.rand(n, generator=generator) < 0.5).to(x.device)
    cols = torch.where(flip[:, None, None, None], cols.flip(-1), cols)
    batch = torch.arange(n, device=x.device)[:, None, None, None]
    channel = torch.arange(c, device=x.device)[None, :, None, None]
    return padded[batch, channel, rows, cols]
