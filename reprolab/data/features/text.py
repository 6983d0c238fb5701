"""Text: tokens, word2vec vectors fit on the training titles (or loaded pretrained), the
mean vector per headline, padded token ids for models that embed them themselves, and
hashed word and character n-gram ids (fastText's features) for the `fasttext` model."""

from __future__ import annotations

import hashlib
import json
import string
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from reprolab.core import paths
from reprolab.core.errors import UserError
from reprolab.core.files import save_arrays, sha256_of
from reprolab.data.features import divisor
from reprolab.data.splitting import present_splits, read_split
from reprolab.data.tasks.base import TARGET, Task

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


@dataclass(frozen=True)
class Hashing:
    """fastText's input features: every word n-gram of order 1..`ngrams` and every character
    n-gram of lengths `chars` (min, max; [] for none) of each word wrapped in < >, each hashed
    into one of `buckets` rows. No vocabulary to store, and unseen words still share n-grams."""

    ngrams: int
    chars: tuple[int, ...]
    buckets: int

    def ids(self, tokens: list[str]) -> list[int]:
        grams = [" ".join(tokens[i : i + n]) for n in range(1, self.ngrams + 1) for i in range(len(tokens) - n + 1)]
        if self.chars:
            low, high = self.chars
            for token in tokens:
                word = f"<{token}>"
                grams += [f"#{word[i : i + n]}" for n in range(low, high + 1) for i in range(len(word) - n + 1)]
        return [zlib.crc32(gram.encode()) % self.buckets for gram in grams]

    def encode(self, sentences: list[list[str]]) -> np.ndarray:
        """(N, longest) ids, padded with `buckets` (the embedding's zero row)."""
        ids = [self.ids(sentence) for sentence in sentences]
        out = np.full((len(ids), max((len(i) for i in ids), default=0) or 1), self.buckets, np.int64)
        for row, known in enumerate(ids):
            out[row, : len(known)] = known
        return out


def pretrained_file(task: Task, config) -> Path:
    """The pretrained vectors named in params, checked against their sha256."""
    where = f"params.yaml: tasks.{task.name}.features.pretrained"
    path = Path(config.path)
    if not path.is_file():
        raise UserError(f"{where}.path: {path} not found")
    if (seen := sha256_of(path)) != config.sha256:
        raise UserError(f"{where}.sha256: {path} has sha256 {seen}, expected {config.sha256}")
    return path


@dataclass(frozen=True)
class TextEncoder:
    """Headlines to every input a text model reads, as fit on the training titles: the mean
    word vector (standardized with the training split's statistics, or not), the padded
    token ids, and the hashed n-gram ids. Fit by featurize, kept in the model file, used by
    `reprolab predict`: one code path, so predict encodes exactly as featurize did."""

    lowercase: bool
    vectors: Vectors
    hashing: Hashing
    mean: np.ndarray | None = None  # float32 (dim,), with std: the standardization, or none
    std: np.ndarray | None = None

    def encode(self, titles: Iterable[str]) -> tuple[dict[str, np.ndarray], dict[str, float | int]]:
        """({"x": mean vectors, "tokens": ids, "ngrams": hashed ids}, statistics)."""
        sentences = [tokenize(t, self.lowercase) for t in titles]
        means, tokens, stats = encode(sentences, self.vectors)
        if self.mean is not None:
            means = ((means - self.mean) / self.std).astype(np.float32)
        return {"x": means, "tokens": tokens, "ngrams": self.hashing.encode(sentences)}, stats

    def standardized(self, titles: Iterable[str]) -> TextEncoder:
        """This encoder with the standardization of the mean vectors of `titles` (training)."""
        means = self.encode(titles)[0]["x"]
        return replace(self, mean=means.mean(axis=0), std=divisor(means.std(axis=0)).astype(np.float32))

    def to_dict(self) -> dict:
        """Plain types and the vectors' array (the model file holds them, the array as a tensor)."""
        return {
            "lowercase": self.lowercase,
            "vocab": list(self.vectors.words),
            "vectors": self.vectors.vectors,
            "hashing": {
                "ngrams": self.hashing.ngrams,
                "chars": list(self.hashing.chars),
                "buckets": self.hashing.buckets,
            },
            "standardize": None
            if self.mean is None or self.std is None
            else {"mean": self.mean.tolist(), "std": self.std.tolist()},
        }

    @classmethod
    def from_dict(cls, d: dict) -> TextEncoder:
        h, standardize = d["hashing"], d["standardize"]
        return cls(
            d["lowercase"], Vectors(list(d["vocab"]), np.asarray(d["vectors"], np.float32)),
            Hashing(h["ngrams"], tuple(h["chars"]), h["buckets"]),
            *((np.asarray(standardize[k], np.float32) for k in ("mean", "std")) if standardize else ()),
        )  # fmt: skip


def save_encoder(encoder: TextEncoder, path: Path) -> None:
    """The vectors as an array, the rest as JSON beside them, in to_dict's order (the train
    stage reads it back: reprolab/learning/model_file.py, text_encoder)."""
    d = encoder.to_dict()
    save_arrays(path, {"vectors": d["vectors"], "settings": np.array(json.dumps({**d, "vectors": None}))})


def featurize(task: Task, config, seed: int, out: Path) -> tuple[dict, dict]:
    """({split: arrays}, meta) for a text task; writes the fit encoder beside them."""
    rows = {split: read_split(task, split) for split in present_splits(task)}
    titles = {split: frame[task.text].tolist() for split, frame in rows.items()}
    train_sentences = [tokenize(t, config.lowercase) for t in titles["train"]]
    if config.pretrained.path:
        keep = {token for sentence in train_sentences for token in sentence}
        source = pretrained_file(task, config.pretrained)
        vectors = load_pretrained(source, binary=config.pretrained.binary, limit=config.pretrained.limit, keep=keep)
    else:
        vectors = train_word2vec(
            train_sentences, vector_size=config.vector_size, window=config.window,
            min_count=config.min_count, epochs=config.epochs, sg=config.sg, seed=seed,
        )  # fmt: skip
    encoder = TextEncoder(config.lowercase, vectors, Hashing(config.ngrams, tuple(config.chars), config.buckets))
    if config.standardize:
        encoder = encoder.standardized(titles["train"])
    arrays, stats = {}, {}
    for split, frame in rows.items():
        arrays[split], stats[split] = encoder.encode(titles[split])
        arrays[split] |= {"y": frame[TARGET].to_numpy(), "id": frame.index.to_numpy()}
    save_encoder(encoder, out / paths.TEXT_ENCODER)
    meta = {
        "n_features": vectors.vectors.shape[1],
        "vocab_size": len(vectors.words),
        "buckets": encoder.hashing.buckets,
        "split_metrics": stats,
    }
    return arrays, meta
