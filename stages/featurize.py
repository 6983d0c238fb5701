"""Turn split rows into tensors, with every statistic fit on the training split only.

Tables: numeric columns standardized, categorical ones one-hot encoded. Images:
kept as uint8; the per-channel mean and deviation of the training images go into
meta.json, and the model normalises with them on the fly. Text: word2vec vectors
trained on the training titles (or pretrained ones), the mean vector per title,
and the token ids for models that embed them themselves.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from reprolab import paths
from reprolab.cli import run
from reprolab.features.images import channel_stats
from reprolab.features.tabular import TabularEncoder
from reprolab.features.text import encode, load_pretrained, tokenize, train_word2vec
from reprolab.io import UserError, atomic_path, write_json
from reprolab.params import FeatureParams, Params
from reprolab.sources import Source, fetch, sha256_of
from reprolab.tasks.base import TARGET, Task
from reprolab.training import n_outputs


def read_split(task: Task, split: str) -> pd.DataFrame:
    """One split's rows as written by the split stage, indexed by row id."""
    text = {"dtype": {task.text: str}, "keep_default_na": False} if task.text else {}  # titles verbatim
    return pd.read_csv(paths.split(task.name) / f"{split}.csv", index_col="id", **text)


def present_splits(task: Task) -> list[str]:
    return [s for s in paths.SPLITS if any(paths.split(task.name).glob(f"{s}.*"))]


def tabular(task: Task, config: FeatureParams, seed: int, out: Path) -> tuple[dict, dict]:
    """({split: arrays}, meta) for a table task."""
    unknown = sorted(set(config.drop) - set(task.features))
    if unknown:
        raise UserError(f"params.yaml: tasks.{task.name}.features.drop: unknown column {unknown[0]!r}")
    kept = [c for c in task.numeric if c not in config.drop], [c for c in task.categorical if c not in config.drop]
    if not any(kept):
        raise UserError(f"params.yaml: tasks.{task.name}.features.drop: no feature column is left")
    rows = {split: read_split(task, split) for split in present_splits(task)}
    encoder = TabularEncoder.fit(rows["train"], *kept, standardize=config.standardize)
    arrays, stats = {}, {}
    for split, frame in rows.items():
        x, unseen = encoder.transform(frame)
        arrays[split] = {"x": x, "y": frame[TARGET].to_numpy(), "id": frame.index.to_numpy()}
        if any(unseen.values()):
            stats[split] = {"unseen_categories": unseen}
    meta = {
        "n_features": len(encoder.feature_names),
        "feature_names": encoder.feature_names,
        "encoder": encoder.to_dict(),
        "split_metrics": stats,
    }
    return arrays, meta


def images(task: Task, config: FeatureParams, seed: int, out: Path) -> tuple[dict, dict]:
    """({split: arrays}, meta) for an image task."""
    if config.drop:
        raise UserError(f"params.yaml: tasks.{task.name}.features.drop: an image task has no columns to drop")
    arrays = {}
    for split in present_splits(task):
        with np.load(paths.split(task.name) / f"{split}.npz") as data:
            arrays[split] = {"x": data["pixels"], "y": data["labels"], "id": data["ids"]}
    channels = task.image_shape[0]
    train = arrays["train"]["x"]
    mean, std = channel_stats(train) if config.standardize else ([0.0] * channels, [1.0] * channels)
    return arrays, {"n_features": list(task.image_shape), "normalize": {"mean": mean, "std": std}}


def pretrained_file(task: Task, config) -> Path:
    """The pretrained vectors named in params: a local path, or a URL fetched once and pinned."""
    where = f"params.yaml: tasks.{task.name}.features.pretrained"
    if config.url:
        name = config.url.rstrip("/").rsplit("/", 1)[-1]
        cached = Path("data/pretrained") / name
        if not cached.exists() or sha256_of(cached) != config.sha256:
            fetch(Source(name, (config.url,), config.sha256), cached.parent)
        return cached
    path = Path(config.path)
    if not path.is_file():
        raise UserError(f"{where}.path: {path} not found")
    if config.sha256 and (seen := sha256_of(path)) != config.sha256:
        raise UserError(f"{where}.sha256: {path} has sha256 {seen}, expected {config.sha256}")
    return path


def text(task: Task, config, seed: int, out: Path) -> tuple[dict, dict]:
    """({split: arrays}, meta) for a text task; writes the vocabulary and vectors beside them."""
    rows = {split: read_split(task, split) for split in present_splits(task)}
    sentences = {split: [tokenize(t, config.lowercase) for t in frame[task.text]] for split, frame in rows.items()}
    if config.pretrained.path or config.pretrained.url:
        keep = {token for sentence in sentences["train"] for token in sentence}
        source = pretrained_file(task, config.pretrained)
        vectors = load_pretrained(source, binary=config.pretrained.binary, limit=config.pretrained.limit, keep=keep)
    else:
        vectors = train_word2vec(
            sentences["train"], vector_size=config.vector_size, window=config.window,
            min_count=config.min_count, epochs=config.epochs, sg=config.sg, seed=seed,
        )  # fmt: skip
    arrays, stats = {}, {}
    for split, frame in rows.items():
        means, tokens, stats[split] = encode(sentences[split], vectors)
        arrays[split] = {"x": means, "tokens": tokens, "y": frame[TARGET].to_numpy(), "id": frame.index.to_numpy()}
    if config.standardize:  # the mean vectors, with the training split's statistics
        mean, std = arrays["train"]["x"].mean(axis=0), arrays["train"]["x"].std(axis=0)
        for a in arrays.values():
            a["x"] = ((a["x"] - mean) / np.where(std > 0, std, 1.0)).astype(np.float32)
    (out / "vocab.txt").write_text("".join(f"{word}\n" for word in vectors.words))
    torch.save(torch.from_numpy(vectors.vectors), out / "vectors.pt")
    meta = {"n_features": vectors.vectors.shape[1], "vocab_size": len(vectors.words), "split_metrics": stats}
    return arrays, meta


def featurize(task: Task, params: Params) -> None:
    make = {"table": tabular, "image": images, "text": text}[task.modality]
    target_dtype = torch.long if task.kind == "multiclass" else torch.float32
    with atomic_path(paths.features(task.name)) as out:
        out.mkdir()
        arrays, meta = make(task, params.task(task.name).features, params.seed, out)
        meta |= {
            "kind": task.kind,
            "classes": list(task.classes),
            "n_outputs": n_outputs(task.kind, len(task.classes)),
            "rows": {split: len(a["y"]) for split, a in arrays.items()},
        }
        for split, a in arrays.items():
            tensors = {key: torch.from_numpy(np.array(value)) for key, value in a.items()}  # copies: writable
            tensors["y"] = tensors["y"].to(target_dtype)
            torch.save(tensors, out / f"{split}.pt")
        write_json(out / "meta.json", meta)


if __name__ == "__main__":
    run(featurize)
