"""The task registry: the tasks are the blocks of params.yaml's `tasks`, in its order.

A block named after a classic task (NAMES) is described by that task's module here. Any
other block is a task of your own data, described by the module of its kind (OWN): its
`source` names a table (table.py), a folder of images (images.py) or a file of texts
(texts.py). A task's module is imported only when that task is asked for, so a stage run for
one task loads (and, in dvc.yaml, depends on) that task's module alone.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Any

from reprolab.core.errors import UserError
from reprolab.core.params import PARAMS_FILE, read_yaml
from reprolab.data.tasks.base import Task

IMPORTS_BY_NAME = "reprolab.data.tasks.{module}"  # for the plan (reprolab/plan.py)
NAMES = ("blobs", "advertising", "nslkdd", "mnist", "cifar10", "news")  # the classic tasks, a module each
OWN = ("table", "images", "texts")  # the kinds of data of your own, a module each
OWN_NAME = re.compile(r"[a-z][a-z0-9_-]{0,39}")  # a stage name's part, a folder's and a file's


def blocks(path: str | Path = PARAMS_FILE) -> dict[str, Any]:
    """params.yaml's task blocks, unchecked, in its order."""
    data = read_yaml(path)
    found = data.get("tasks") if isinstance(data, dict) else None
    if not isinstance(found, dict) or not found:
        raise UserError(f"{path}: tasks: a block per task (none found)")
    return found


def names(path: str | Path = PARAMS_FILE) -> tuple[str, ...]:
    return tuple(blocks(path))


def module_of(name: str, block: Any) -> str:
    """The module that describes a task: its own (classic), or its kind's (yours)."""
    if name in NAMES:
        return name
    where = f"{PARAMS_FILE}: tasks.{name}"
    if not OWN_NAME.fullmatch(name):
        raise UserError(f"{where}: a task's name is lower-case letters, digits, - and _ (40 at most)")
    source = block.get("source") if isinstance(block, dict) else None
    kinds = [kind for kind in OWN if isinstance(source, dict) and kind in source]
    if len(kinds) != 1:
        raise UserError(
            f"{where}.source: a task of your own names one of {', '.join(OWN)} "
            f"(a table file, a folder of images, a file of texts); the classic tasks are {', '.join(NAMES)}"
        )
    return kinds[0]


def get(name: str, block: Any = None) -> Task:
    """A task by name; a task of your own from its block (read from params.yaml if not given)."""
    if name not in NAMES and block is None:
        found = blocks()
        if name not in found:
            raise UserError(f"unknown task {name!r}; {PARAMS_FILE} has: {', '.join(found)}")
        block = found[name]
    module = importlib.import_module(IMPORTS_BY_NAME.format(module=module_of(name, block)))
    return module.TASK if name in NAMES else module.task(name, block)


def every(path: str | Path = PARAMS_FILE) -> dict[str, Task]:
    """Every task of params.yaml, in its order."""
    return {name: get(name, block) for name, block in blocks(path).items()}
