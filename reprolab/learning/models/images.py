"""Image models: a plain convolutional net, airbench's fast net and torchvision's ResNet18.
Each takes the uint8 pixels as stored; the normalisation in front is added by `build`."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn

from reprolab.learning.models.layers import ACTIVATIONS, dense

MODELS = {
    "cnn": {
        "inputs": "image",
        "keys": ["channels", "convs_per_block", "batch_norm", "hidden", "activation", "dropout"],
    },
    "airbench": {"inputs": "image", "keys": ["channels"]},
    "resnet18": {"inputs": "image"},
}


def cnn(
    n_in: list[int],
    n_out: int,
    *,
    channels: list[int],
    convs_per_block: int,
    batch_norm: bool,
    hidden: list[int],
    activation: str,
    dropout: float,
) -> nn.Module:
    """Blocks of 3x3 convolutions ([batch norm], activation) each ending in 2x2 max pooling,
    then dense layers on the flattened maps."""
    c, h, w = n_in
    layers: list[nn.Module] = []
    for width in channels:
        for _ in range(convs_per_block):
            layers.append(nn.Conv2d(c, width, 3, padding=1, bias=not batch_norm))
            if batch_norm:
                layers.append(nn.BatchNorm2d(width))
            layers.append(ACTIVATIONS[activation]())
            c = width
        layers.append(nn.MaxPool2d(2))
        h, w = h // 2, w // 2
    return nn.Sequential(*layers, nn.Flatten(), *dense(c * h * w, n_out, hidden, activation, dropout))


class Whitening(nn.Conv2d):
    """A 2x2 convolution that whitens the image's 2x2 patches: its filters are the eigenvectors of
    the training patches' covariance, each scaled by 1/sqrt(its eigenvalue), once with each sign.
    `fit` sets them from training images (normalised); they stay frozen, the bias learns."""

    def __init__(self, channels: int, eps: float = 5e-4) -> None:
        super().__init__(channels, 2 * channels * 4, 2, bias=True)
        self.weight.requires_grad_(False)
        self.eps = eps

    @torch.no_grad()
    def fit(self, x: Tensor) -> None:
        c, h, w = self.weight.shape[1:]
        patches = x.unfold(2, h, 1).unfold(3, w, 1).transpose(1, 3).reshape(-1, c * h * w).double()
        values, vectors = torch.linalg.eigh(patches.T @ patches / len(patches))  # ascending
        # rsqrt, not sqrt: torch.sqrt goes to MKL's vector math, whose bits follow the CPU
        scaled = (vectors.T * (values[:, None] + self.eps).rsqrt()).flip(0).reshape(-1, c, h, w)
        self.weight.copy_(torch.cat((scaled, -scaled)))
        self.bias.zero_()  # type: ignore[union-attr]  # made with bias=True


class FastBatchNorm(nn.BatchNorm2d):
    """airbench's batch norm: no learnt scale, and a bias that learns 64 times faster than the
    other weights (kept as bias / 8, so both its gradient and its step grow 8-fold), so that
    one learning rate serves the whole net."""

    def __init__(self, width: int) -> None:
        super().__init__(width, eps=1e-12, momentum=0.4, affine=False)
        self.shift = nn.Parameter(torch.zeros(width))

    def forward(self, x: Tensor) -> Tensor:
        return super().forward(x) + 8 * self.shift.view(1, -1, 1, 1)


class Scale(nn.Module):
    def __init__(self, factor: float) -> None:
        super().__init__()
        self.factor = factor

    def forward(self, x: Tensor) -> Tensor:
        return x * self.factor


def whiten(model: nn.Module, images: Tensor) -> None:
    """Fit the whitening layer of a built image model (its Normalize first) on uint8 images."""
    normalize = model.get_submodule("0")
    (layer,) = (m for m in model.modules() if isinstance(m, Whitening))
    layer.fit(normalize(images))


def _dirac_conv(c_in: int, c_out: int) -> nn.Conv2d:
    """A 3x3 convolution whose first filters start as the identity (airbench's initialisation)."""
    conv = nn.Conv2d(c_in, c_out, 3, padding=1, bias=False)
    with torch.no_grad():
        nn.init.dirac_(conv.weight[: min(c_in, c_out)])
    return conv


def airbench(n_in: list[int], n_out: int, *, channels: list[int]) -> nn.Module:
    """The net of the fast CIFAR-10 trainers (Jordan, 2024: airbench94, after hlb-CIFAR10): the
    whitening layer and GELU, then a block per entry of `channels`: 3x3 convolution, 2x2 max
    pooling, batch norm, GELU, 3x3 convolution, batch norm, GELU; global max pooling and one
    linear layer, its logits scaled by 1/9. Pooling straight after each block's first
    convolution runs its second at a quarter of the pixels."""
    c = 2 * n_in[0] * 4
    layers: list[nn.Module] = [Whitening(n_in[0]), nn.GELU()]
    for width in channels:
        layers += [_dirac_conv(c, width), nn.MaxPool2d(2), FastBatchNorm(width), nn.GELU()]
        layers += [_dirac_conv(width, width), FastBatchNorm(width), nn.GELU()]
        c = width
    head = [nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Linear(c, n_out, bias=False), Scale(1 / 9)]
    return nn.Sequential(*layers, *head)


def resnet18(n_in: list[int], n_out: int) -> nn.Module:
    """torchvision's ResNet18, untrained, with the small-image stem: a 3x3 stride-1 first
    convolution and no max pooling, so 32x32 inputs keep their detail."""
    from torchvision.models import resnet18 as torchvision_resnet18

    model = torchvision_resnet18(weights=None, num_classes=n_out)
    model.conv1 = nn.Conv2d(n_in[0], 64, kernel_size=3, stride=1, padding=1, bias=False)
    model.maxpool = nn.Identity()
    return model


def start(name: str, model: nn.Module, x: Tensor, folder: Path | None) -> None:
    """airbench: its whitening filters, from the first 5,000 training images."""
    if name == "airbench":
        whiten(model, x[:5000])
