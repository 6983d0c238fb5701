"""The models, by name: one registry entry per model, next to its code in this folder.

Each module here that defines models opens with MODELS, a literal dict: for each model it
defines (a builder function of that name, `NAME(n_in, n_out, *keys, *features)`),

    inputs    the data it takes: "image", "text", or None (any: the features' x);
    reads     which tensor of a features file it reads: "x" (default), or "tokens", "ngrams";
    keys      the keys of params.yaml's `model:` block its builder takes (each a field of
              ModelParams, reprolab/core/params.py);
    features  what its builder takes from the featurize stage's meta.json (e.g. vocab_size).

A module may also define `start(name, model, x, folder)`: what a new model learns from the
training inputs `x` or the features folder before training (word vectors, whitening).

The entries are read from the files without importing them (no torch), so the params schema
of every stage checks model names and keys cheaply; `build` imports the module of the one
model asked for. A model in a new file here is registered by being here (docs/adding-a-model.md).
"""

from __future__ import annotations

import ast
import functools
import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reprolab.core.errors import UserError

FOLDER = Path(__file__).parent
IMPORTS_BY_NAME = "reprolab.learning.models.{model_file}"  # for the plan (reprolab/plan.py)


@dataclass(frozen=True)
class Entry:
    name: str
    module: str  # reprolab.learning.models.<module>
    inputs: str | None = None
    reads: str = "x"
    keys: tuple[str, ...] = ()
    features: tuple[str, ...] = ()


def _entries_of(path: Path) -> list[Entry]:
    tree = ast.parse(path.read_text(), str(path))
    for node in tree.body:
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == "MODELS" for t in targets) and node.value is not None:
                declared = ast.literal_eval(node.value)
                return [
                    Entry(
                        name,
                        path.stem,
                        d.get("inputs"),
                        d.get("reads", "x"),
                        tuple(d.get("keys", ())),
                        tuple(d.get("features", ())),
                    )  # fmt: skip
                    for name, d in declared.items()
                ]
    return []


@functools.cache
def entries() -> dict[str, Entry]:
    """Every model of this folder, by name."""
    found: dict[str, Entry] = {}
    for path in sorted(FOLDER.glob("*.py")):
        for e in _entries_of(path):
            if e.name in found:
                raise UserError(f"{path}: model {e.name!r} is defined in {found[e.name].module}.py too")
            found[e.name] = e
    return found


def entry(name: str) -> Entry:
    try:
        return entries()[name]
    except KeyError:
        raise UserError(f"no model {name!r}; the models are: {', '.join(entries())}") from None


def configure(model: dict[str, Any], meta: dict[str, Any]) -> dict[str, Any]:
    """A model's configuration, as the model file keeps it: its params block, the shape of
    its data and what else it takes from the featurize stage's meta.json (images: the
    training split's normalisation)."""
    e = entry(model["name"])
    config = {**model, "n_in": meta["n_features"], "n_out": meta["n_outputs"]}
    return config | {key: meta[key] for key in ("normalize", *e.features) if key in meta}


def build(config: dict[str, Any]) -> Any:
    """The untrained model (torch.nn.Module) of a configuration made by `configure`."""
    from reprolab.learning.models.layers import finish

    e = entry(config["name"])
    builder = getattr(importlib.import_module(IMPORTS_BY_NAME.format(model_file=e.module)), e.name)
    options = {key: config[key] for key in ("n_in", "n_out", *e.keys, *e.features) if key in config}
    return finish(builder(**options), config, convolutional=e.inputs == "image")


def start(config: dict[str, Any], model: Any, x: Any, folder: Path | None) -> None:
    """What a new model learns before training from the training inputs `x` (or the features
    folder): nothing for most models."""
    e = entry(config["name"])
    module = importlib.import_module(IMPORTS_BY_NAME.format(model_file=e.module))
    if hasattr(module, "start"):
        module.start(e.name, model, x, folder)


def from_features(model: dict[str, Any], meta: dict[str, Any], x: Any, folder: Path | None) -> tuple[dict, Any]:
    """(configuration, new model) for a task's model params and its featurized data: what the
    train stage and the benchmarks build."""
    config = configure(model, meta)
    built = build(config)
    start(config, built, x, folder)
    return config, built
