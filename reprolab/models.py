"""Models by name, built from the task's model params and the data's shape.

`n_in` is a feature count (tables) or a (C, H, W) shape (images). Image models
take the uint8 pixels as stored and normalise them first, with the training
split's statistics held as buffers, so a checkpoint carries its own preprocessing.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from reprolab.params import MODEL_INPUTS

ACTIVATIONS = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}


class Normalize(nn.Module):
    def __init__(self, mean: list[float], std: list[float], channels_last: bool = False) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1))
        self.channels_last = channels_last

    def forward(self, x: Tensor) -> Tensor:
        x = (x.float() / 255.0 - self.mean) / self.std
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x


def _dense(
    n_in: int, n_out: int, hidden: list[int], activation: str, dropout: float, batch_norm: bool = False
) -> list[nn.Module]:
    layers: list[nn.Module] = []
    for width in hidden:
        layers.append(nn.Linear(n_in, width, bias=not batch_norm))
        if batch_norm:
            layers.append(nn.BatchNorm1d(width))
        layers.append(ACTIVATIONS[activation]())
        if dropout:
            layers.append(nn.Dropout(dropout))
        n_in = width
    return [*layers, nn.Linear(n_in, n_out)]


def linear(n_in: int | list[int], n_out: int, **_: Any) -> nn.Module:
    if isinstance(n_in, int):
        return nn.Linear(n_in, n_out)
    return nn.Sequential(nn.Flatten(), nn.Linear(math.prod(n_in), n_out))


def mlp(
    n_in: int | list[int],
    n_out: int,
    *,
    hidden: list[int],
    activation: str,
    dropout: float,
    batch_norm: bool = False,
    **_: Any,
) -> nn.Module:
    dense = _dense(math.prod(n_in) if isinstance(n_in, list) else n_in, n_out, hidden, activation, dropout, batch_norm)
    return nn.Sequential(*dense) if isinstance(n_in, int) else nn.Sequential(nn.Flatten(), *dense)


def slp(n_in: int, n_out: int, **_: Any) -> nn.Module:
    """The single-layer perceptron of the classic text exercise: one weight matrix, no bias."""
    return nn.Linear(n_in, n_out, bias=False)


class Bag(nn.Module):
    """The mean of a headline's word embeddings (trainable, initialised from word2vec by the
    train stage), then dense layers. Input: token ids padded with `vocab_size`."""

    def __init__(self, n_in: int, n_out: int, *, vocab_size: int, hidden: list[int], activation: str, dropout: float):
        super().__init__()
        self.embedding = nn.EmbeddingBag(vocab_size + 1, n_in, mode="mean", padding_idx=vocab_size)
        self.head = nn.Sequential(*_dense(n_in, n_out, hidden, activation, dropout))

    def forward(self, tokens: Tensor) -> Tensor:
        return self.head(self.embedding(tokens))


def bag(n_in: int, n_out: int, *, vocab_size: int, hidden: list[int], activation: str, dropout: float, **_: Any):
    return Bag(n_in, n_out, vocab_size=vocab_size, hidden=hidden, activation=activation, dropout=dropout)


class FastText(nn.Module):
    """fastText's classifier (Joulin et al., 2017): the mean of a text's hashed word and
    character n-gram embeddings, then one linear layer. Input: n-gram ids padded with `buckets`."""

    def __init__(self, n_out: int, *, buckets: int, dim: int, dropout: float):
        super().__init__()
        self.embedding = nn.EmbeddingBag(buckets + 1, dim, mode="mean", padding_idx=buckets)
        nn.init.uniform_(self.embedding.weight, -1.0 / dim, 1.0 / dim)
        with torch.no_grad():
            self.embedding.weight[buckets].zero_()
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(dim, n_out))

    def forward(self, ngrams: Tensor) -> Tensor:
        return self.head(self.embedding(ngrams))


def fasttext(n_in: int, n_out: int, *, buckets: int, dim: int, dropout: float, **_: Any) -> nn.Module:
    return FastText(n_out, buckets=buckets, dim=dim, dropout=dropout)


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
    **_: Any,
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
    return nn.Sequential(*layers, nn.Flatten(), *_dense(c * h * w, n_out, hidden, activation, dropout))


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
        self.bias.zero_()


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
    normalize, *_ = model
    (layer,) = (m for m in model.modules() if isinstance(m, Whitening))
    layer.fit(normalize(images))


def _dirac_conv(c_in: int, c_out: int) -> nn.Conv2d:
    """A 3x3 convolution whose first filters start as the identity (airbench's initialisation)."""
    conv = nn.Conv2d(c_in, c_out, 3, padding=1, bias=False)
    with torch.no_grad():
        nn.init.dirac_(conv.weight[: min(c_in, c_out)])
    return conv


def airbench(n_in: list[int], n_out: int, *, channels: list[int], **_: Any) -> nn.Module:
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


def resnet18(n_in: list[int], n_out: int, **_: Any) -> nn.Module:
    """torchvision's ResNet18, untrained, with the small-image stem: a 3x3 stride-1 first
    convolution and no max pooling, so 32x32 inputs keep their detail."""
    from torchvision.models import resnet18 as torchvision_resnet18

    model = torchvision_resnet18(weights=None, num_classes=n_out)
    model.conv1 = nn.Conv2d(n_in[0], 64, kernel_size=3, stride=1, padding=1, bias=False)
    model.maxpool = nn.Identity()
    return model


class FlipAverage(nn.Module):
    """Test-time flips (`tta: true`): out of training, the mean of the logits of each image and
    of its mirror image, left to right; in training, the model alone."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: Tensor) -> Tensor:
        out = self.model(x)
        return out if self.training else (out + self.model(x.flip(-1))) / 2


MODELS = {name: globals()[name] for name in MODEL_INPUTS}  # the builder named after each model
IMAGE_ONLY = {name for name, needs in MODEL_INPUTS.items() if needs == "image"}


def input_key(config: dict[str, Any]) -> str:
    """Which tensor of a features file the model reads: token ids for `bag`, hashed n-gram ids
    for `fasttext`, else x."""
    return {"bag": "tokens", "fasttext": "ngrams"}.get(config["name"], "x")


def build(config: dict[str, Any]) -> nn.Module:
    """config: the task's model params plus n_in, n_out and, for images, normalize
    (as saved in the checkpoint). The threshold is the decision rule's, not a layer's."""
    options = {key: value for key, value in config.items() if key not in ("name", "normalize", "threshold", "tta")}
    model = MODELS[config["name"]](**options)
    if config.get("tta"):
        model = FlipAverage(model)
    # Convolutions run 1.3-1.8x faster in channels-last layout on the CPU (bench/images.py).
    convolutional = config["name"] in IMAGE_ONLY
    if convolutional:
        model = model.to(memory_format=torch.channels_last)
    if "normalize" in config:
        model = nn.Sequential(Normalize(**config["normalize"], channels_last=convolutional), model)
    return model
