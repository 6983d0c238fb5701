"""Text models: the classic exercise's single-layer perceptron on a headline's mean word
vector, a bag of trainable word embeddings, and fastText's classifier on hashed n-grams."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn

from reprolab.core import paths
from reprolab.core.files import load_arrays
from reprolab.learning.models.layers import dense

MODELS = {
    "slp": {"inputs": "text"},
    "bag": {
        "inputs": "text",
        "reads": "tokens",
        "keys": ["hidden", "activation", "dropout"],
        "features": ["vocab_size"],
    },
    "fasttext": {"inputs": "text", "reads": "ngrams", "keys": ["dim", "dropout"], "features": ["buckets"]},
}


def slp(n_in: int, n_out: int) -> nn.Module:
    """The single-layer perceptron of the classic text exercise: one weight matrix, no bias."""
    return nn.Linear(n_in, n_out, bias=False)


class Bag(nn.Module):
    """The mean of a headline's word embeddings (trainable, initialised from word2vec by the
    train stage), then dense layers. Input: token ids padded with `vocab_size`."""

    def __init__(self, n_in: int, n_out: int, *, vocab_size: int, hidden: list[int], activation: str, dropout: float):
        super().__init__()
        self.embedding = nn.EmbeddingBag(vocab_size + 1, n_in, mode="mean", padding_idx=vocab_size)
        self.head = nn.Sequential(*dense(n_in, n_out, hidden, activation, dropout))

    def forward(self, tokens: Tensor) -> Tensor:
        return self.head(self.embedding(tokens))


def bag(n_in: int, n_out: int, *, vocab_size: int, hidden: list[int], activation: str, dropout: float):
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


def fasttext(n_in: int, n_out: int, *, buckets: int, dim: int, dropout: float) -> nn.Module:
    return FastText(n_out, buckets=buckets, dim=dim, dropout=dropout)


def start(name: str, model: nn.Module, x: Tensor, folder: Path | None) -> None:
    """bag: the embeddings start from the featurize stage's word2vec vectors; the padding row stays zero."""
    if name == "bag" and folder is not None:
        vectors = torch.from_numpy(load_arrays(folder / paths.TEXT_ENCODER, f"featurize@{folder.name}")["vectors"])
        with torch.no_grad():
            embedding = model.get_submodule("embedding")
            assert isinstance(embedding, nn.EmbeddingBag)
            embedding.weight[: len(vectors)] = vectors
