"""What each stage runs with: the plan stage's files, one per stage and task,
data/plan/<stage>@<task>.json, each naming

    settings  the values of params.yaml that the stage takes, checked, defaults filled in
              (train: the task's effective training settings, defaults plus its overrides);
    code      the project modules the stage runs for that task, each with the digest of
              its meaning (reprolab/core/identity.py: tokens, no comments, docstrings or layout).

Every other stage depends on its own plan file and on no `.py` file and no param, so a
comment, a docstring or a reformat re-runs no stage but the plan itself (a second), a
behaviour edit re-runs exactly the stages whose code it changes, and a change to a task's
block re-runs that task's stages that take it. The run cache keys stay as they were.

The modules a stage runs are its script, what that imports (anywhere in a module, at the top
or inside a function, transitively) and their packages' __init__ files. A module that imports
another by a name made at run time declares it in IMPORTS_BY_NAME, a literal string at its top
with fields {module}, {modality} or {model_file} (the task registry, the feature modules, the
model registry); a new dynamic import needs the same, or the runtime audit
(tests/test_pipeline.py) fails naming the module and the stage.

`python -m reprolab.plan` says, before anything runs, which stages an edit will re-run and
why (`dvc status` alone names only the plan stage).
"""

from __future__ import annotations

import argparse
import ast
import functools
import hashlib
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from reprolab.cli import guarded
from reprolab.core import identity, params, paths
from reprolab.core.errors import UserError
from reprolab.core.files import atomic_path
from reprolab.core.params import Params
from reprolab.data import sources, tasks
from reprolab.learning import models

PACKAGES = ("reprolab", "stages")
ROOT = Path(__file__).resolve().parent.parent  # where the project's code is (the stages run in it)
BY_NAME = "IMPORTS_BY_NAME"


def _train(checked: Params, task: str) -> dict:
    return checked.train_for(task).model_dump()


def _block(part: str) -> Callable[[Params, str], dict]:
    return lambda checked, task: getattr(checked.task(task), part).model_dump()


def _inputs(checked: Params, task: str) -> dict[str, str] | None:
    """A task of your own's files under data/inputs/, by sha256 (checked against their pins):
    an edit to one re-runs that task's download and what follows. None: no such file."""
    try:
        found = {s.path: sources.input_sha256(s) for s in tasks.get(task).sources if s.path}
    except UserError as err:
        raise UserError(f"task {task}: {err}") from None
    return found or None


# stage -> {setting: how to read it}: what each stage takes from params.yaml (None: nothing)
SETTINGS: dict[str, dict[str, Callable[[Params, str], Any]]] = {
    "download": {"source": _block("source"), "inputs": _inputs},
    "split": {"split": _block("split")},
    "featurize": {
        "reproducible": lambda c, t: c.reproducible,  # numpy's and OpenBLAS's kernels
        "seed": lambda c, t: c.seed,  # word2vec's
        "features": _block("features"),
    },
    "train": {
        "reproducible": lambda c, t: c.reproducible,  # the kernels every library computes with
        "seed": lambda c, t: c.seed,
        "device": lambda c, t: c.device,
        "model": _block("model"),
        "train": _train,
    },
    "evaluate": {"reproducible": lambda c, t: c.reproducible, "train": _train},  # the card shows the settings
    "publish": {},
}
STAGES = tuple(SETTINGS)


def module_file(root: Path, name: str) -> Path | None:
    """The file of a project module or package, relative to root; None for other modules."""
    if name.split(".")[0] not in PACKAGES:
        return None
    base = Path(*name.split("."))
    for candidate in (base / "__init__.py", base.with_suffix(".py")):
        if (root / candidate).is_file():
            return candidate
    return None


def parsed(root: Path, path: Path) -> tuple[frozenset[str], tuple[str, ...]]:
    """(the modules a project file's import statements name, anywhere in it; its IMPORTS_BY_NAME)."""
    return _parse((root / path).read_text(encoding="utf-8"), path.as_posix())


@functools.cache
def _parse(text: str, where: str) -> tuple[frozenset[str], tuple[str, ...]]:
    try:
        tree = ast.parse(text, where)
    except SyntaxError as err:
        raise UserError(f"{where}:{err.lineno}: does not parse: {err.msg}") from None
    found: set[str] = set()
    by_name: tuple[str, ...] = ()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                raise UserError(f"{where}:{node.lineno}: a relative import; name the module in full")
            found.add(node.module or "")
            found |= {f"{node.module}.{alias.name}" for alias in node.names}  # a submodule, maybe
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == BY_NAME for t in node.targets):
            value = ast.literal_eval(node.value)
            by_name = (value,) if isinstance(value, str) else tuple(value)
    return frozenset(found), by_name


def modules(root: Path, stage: str, context: dict[str, str]) -> list[str]:
    """The project files (relative to root) that `python -m stages.STAGE TASK` runs; context:
    the task's {task, modality, model_file}."""
    todo, seen = [f"stages.{stage}", "stages"], set()
    while todo:
        name = todo.pop()
        if name in seen or (path := module_file(root, name)) is None:
            continue
        seen.add(name)
        names, by_name = parsed(root, path)
        todo += names
        todo += [".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)]  # its packages
        todo += [pattern.format(**context) for pattern in by_name]
    return sorted(module_file(root, name).as_posix() for name in seen)  # type: ignore[union-attr]


def context(checked: Params, task: str) -> dict[str, str]:
    known = tasks.get(task)
    return {
        "module": tasks.module_of(task, {"source": checked.task(task).source.model_dump()}),
        "modality": known.modality,
        "model_file": models.entry(checked.task(task).model.name).module,
    }


def plans(checked: Params, root: Path = ROOT) -> dict[str, dict]:
    """{stage address: its plan}, for every stage of every task."""
    digests: dict[str, str] = {}

    def digest(path: str) -> str:
        if path not in digests:
            digests[path] = identity.file_digest(root / path, path)
        return digests[path]

    found = {}
    for task in checked.task_names():
        ctx = context(checked, task)
        for stage, settings in SETTINGS.items():
            values = {key: read(checked, task) for key, read in settings.items()}
            found[f"{stage}@{task}"] = {
                "settings": {key: value for key, value in values.items() if value is not None},
                "code": {path: digest(path) for path in modules(root, stage, ctx)},
            }
    return found


def render(plan: dict) -> str:
    return json.dumps(plan, indent=2, sort_keys=True) + "\n"


def _flat(values: dict, prefix: str = "") -> dict[str, Any]:
    """{dotted key: value} of nested settings (a list stays one value)."""
    flat: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dict):
            flat |= _flat(value, f"{prefix}{key}.")
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def changes(old: dict | None, new: dict) -> list[str]:
    """What differs between a stage's plans: settings (by dotted key) and modules, by name."""
    if old is None:
        return ["no plan yet"]
    before, after = _flat(old["settings"]), _flat(new["settings"])
    said = [f"setting {key}" for key in sorted(set(before) | set(after)) if before.get(key) != after.get(key)]
    code = sorted(set(old["code"]) | set(new["code"]))
    return said + [path for path in code if old["code"].get(path) != new["code"].get(path)]


def _read(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def recorded(lock: Path = Path("dvc.lock")) -> dict[str, str]:
    """{stage address: the md5 of its plan file when it last ran}, from dvc.lock."""
    import yaml

    try:
        stages = (yaml.load(lock.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or {})["stages"]
    except (OSError, KeyError, TypeError):
        return {}
    found = {}
    for address, stage in stages.items():
        if "@" not in address:
            continue
        for dep in stage.get("deps", []):
            if dep["path"] == paths.plan(*address.split("@")).as_posix():
                found[address] = dep.get("md5")
    return found


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def checked_params() -> Params:
    """The whole of params.yaml, checked (every task's block, against the model registry)."""
    return params.load(tasks.every(), complete=True, models=models.entries())


def write(checked: Params) -> None:
    """The plan stage's work: every plan file, and a line for each one that changed."""
    new = plans(checked)
    texts = {address: render(plan) for address, plan in new.items()}
    last = recorded()
    folder = paths.plan("train", "any").parent
    for address, text in texts.items():
        old = folder / f"{address}.json"
        before = old.read_text() if old.is_file() else None
        if before is None or before == text:
            continue
        if md5(text) == last.get(address):
            print(f"{old}: edited by hand; rewritten as the code and params.yaml give it", file=sys.stderr)
        else:
            print(f"{old}: {', '.join(changes(_read(old), new[address]))}", file=sys.stderr)
    with atomic_path(folder) as tmp:
        tmp.mkdir()
        for address, text in texts.items():
            (tmp / f"{address}.json").write_text(text)


def main() -> None:
    """Which stages an edit will re-run: each stage whose plan differs from the one its last
    run recorded in dvc.lock, with what changed (settings, modules)."""
    argparse.ArgumentParser(prog="python -m reprolab.plan", description=main.__doc__).parse_args()
    last = recorded()
    rerun = []
    for address, plan in plans(checked_params()).items():
        if last.get(address) == md5(render(plan)):
            continue
        rerun.append(address)
        said = changes(_read(paths.plan(*address.split("@"))), plan) if address in last else ["never ran"]
        print(f"{address}: {', '.join(said) or 'its plan file differs from dvc.lock'}")
    if not rerun:
        print("no stage's code or settings changed: dvc repro re-runs none for them")


if __name__ == "__main__":
    guarded("plan", main)
