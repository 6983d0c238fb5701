"""Headlines to features: tokens, word2vec vectors fit on training titles (or loaded
pretrained), the mean vector per headline, and padded token ids for EmbeddingBag."""

from __future__ import annotations

import hashlib
import string
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

_PUNCTUATION = str.maketrans(string.punctuation, " " * len(string.punctuation))


def tokenize(text: str, lowercase: bool) -> list[str]:
    """The classic exercise's tokenizer: punctuation to spaces, split on white space."""
    text = text.translate(_PUNCTUATION)
    return (text.lower() if lowercase else text).split()


def stable_hash(text: str) -> int:
    """gensim seeds each word's initial vector with a hash of it; Python's own hash of a
    string changes from process to process, so word2vec would not repeat itself."""
    return int.from_bytes(hashlib.md5(text.encode()).digest()[:4], "little")


@dataclass(frozen=True)
class Vectors:
    words: list[str]
    vectors: np.ndarray  # (len(words), dim) float32

    @property
    def index(self) -> dict[str, int]:
        return {word: i for i, word in enumerate(self.words)}


def train_word2vec(
    sentences: list[list[str]], *, vector_size: int, window: int, min_count: int, epochs: int, sg: bool, seed: int
) -> Vectors:
    from gensim.models import Word2Vec

    model = Word2Vec(
        sentences=sentences, vector_size=vector_size, window=window, min_count=min_count, epochs=epochs,
        sg=int(sg), seed=seed, workers=1, hashfxn=stable_hash,
    )  # fmt: skip
    return Vectors(list(model.wv.index_to_key), model.wv.vectors.astype(np.float32))


def load_pretrained(path: Path, *, binary: bool, limit: int | None, keep: Iterable[str]) -> Vectors:
    """Pretrained vectors in word2vec format, restricted to the words in `keep`."""
    from gensim.models import KeyedVectors

    vectors = KeyedVectors.load_word2vec_format(str(path), binary=binary, limit=limit)
    words = sorted({word for word in keep if word in vectors.key_to_index})
    matrix = np.stack([vectors[word] for word in words]) if words else np.zeros((0, vectors.vector_size))
    return Vectors(words, matrix.astype(np.float32))


def encode(sentences: list[list[str]], vectors: Vectors) -> tuple[np.ndarray, np.ndarray, dict[str, float | int]]:
    """(mean vectors (N, dim), token ids (N, longest) padded with len(words), statistics).

    A headline with no known word gets a zero vector; the statistics count them and
    the share of tokens that are out of the vocabulary."""
    index, pad = vectors.index, len(vectors.words)
    ids = [[index[token] for token in sentence if token in index] for sentence in sentences]
    dim = vectors.vectors.shape[1]
    means = np.zeros((len(sentences), dim), np.float32)
    tokens = np.full((len(sentences), max((len(i) for i in ids), default=0) or 1), pad, np.int64)
    for row, known in enumerate(ids):
        if known:
            means[row] = vectors.vectors[known].mean(axis=0)
            tokens[row, : len(known)] = known
    total = sum(len(sentence) for sentence in sentences)
    stats = {
        "oov_rate": 1.0 - sum(len(i) for i in ids) / total if total else 0.0,
        "no_known_word": sum(1 for i in ids if not i),
    }
    return means, tokens, stats
