"""The record is exact: the code deps of every stage in dvc.yaml, for every task, are the
project files that the stage runs for that task, no fewer (DVC would serve stale results)
and no more (an edit to one task would re-run the others).

A stage runs the files its script imports, and what they import in turn, anywhere in a
module (at the top or inside a function), together with the packages' __init__ files.
Two imports are made by name at run time, where no import statement shows them; DYNAMIC
lists them. The end-to-end test checks the same from the other side: every project file
that a real stage process loaded is among that stage's deps (test_pipeline.py).
"""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

import pytest

from reprolab.data import tasks
from tests.conftest import ROOT, TASK_STAGES

PACKAGES = ("reprolab", "stages")
MODELS = ROOT / "reprolab/learning/models"
# module imported -> the modules it then imports (or reads) by name, for the task at hand
DYNAMIC = {
    "reprolab.data.tasks": lambda task: [f"reprolab.data.tasks.{task.name}"],  # the task registry
    "reprolab.data.features": lambda task: [f"reprolab.data.features.{task.modality}"],  # the task's modality
    # the model registry reads every model file, and imports the one of the model asked for
    "reprolab.learning.models": lambda task: [f"reprolab.learning.models.{p.stem}" for p in MODELS.glob("*.py")],
}


def module_file(root: Path, name: str) -> Path | None:
    """The file of a project module or package, relative to root; None for other modules."""
    if name.split(".")[0] not in PACKAGES:
        return None
    base = Path(*name.split("."))
    for candidate in (base / "__init__.py", base.with_suffix(".py")):
        if (root / candidate).is_file():
            return candidate
    return None


def imported(root: Path, name: str) -> set[str]:
    """The modules that a module's import statements name (anywhere in it)."""
    tree = ast.parse((root / module_file(root, name)).read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{name}: relative import"
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}  # a submodule, maybe
    return found


def closure(root: Path, script: str, task) -> set[str]:
    """The project files that `python -m stages.SCRIPT TASK` runs."""
    todo, seen = [f"stages.{script}", "stages"], set()
    while todo:
        name = todo.pop()
        if name in seen or module_file(root, name) is None:
            continue
        seen.add(name)
        todo += imported(root, name)
        todo += [".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)]  # its packages
        if name in DYNAMIC and (task is not None or name == "reprolab.learning.models"):
            todo += DYNAMIC[name](task)
        if name == "reprolab.data.tasks" and task is None:  # the params stage: every task
            todo += [f"reprolab.data.tasks.{n}" for n in tasks.NAMES]
    return {module_file(root, name).as_posix() for name in seen}


def declared(root: Path) -> dict[str, set[str]]:
    """{stage address: its deps that are project code}, as DVC itself reads dvc.yaml; a
    folder stands for the Python files in it."""
    from dvc.repo import Repo

    def files(path: str) -> set[str]:
        if (root / path).is_dir():
            return {p.relative_to(root).as_posix() for p in (root / path).rglob("*.py")}
        return {Path(path).as_posix()}

    with Repo(str(root)) as repo:
        return {
            stage.name: {f for dep in stage.deps if dep.def_path.startswith(PACKAGES) for f in files(dep.def_path)}
            for stage in repo.index.stages
        }


def problems(root: Path) -> list[str]:
    found = []
    for address, deps in sorted(declared(root).items()):
        script, _, name = address.partition("@")
        runs = closure(root, script, tasks.get(name) if name else None)
        found += [f"{address}: dvc.yaml misses {path}" for path in sorted(runs - deps)]
        found += [f"{address}: dvc.yaml declares {path}, which it does not run" for path in sorted(deps - runs)]
    return found


def test_every_stage_depends_on_exactly_the_code_it_runs():
    assert problems(ROOT) == []


def test_every_task_has_its_stages():
    stages = declared(ROOT)
    for name in tasks.NAMES:
        assert {f"{s}@{name}" for s in TASK_STAGES} <= set(stages)


@pytest.fixture
def scratch(tmp_path) -> Path:
    """The code, dvc.yaml and params.yaml in a DVC project outside git."""
    for name in ("reprolab", "stages"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("dvc.yaml", "params.yaml"):
        shutil.copy(ROOT / name, tmp_path / name)
    (tmp_path / ".dvc").mkdir()
    (tmp_path / ".dvc/config").write_text("[core]\n    no_scm = true\n    analytics = false\n")
    return tmp_path


def test_an_import_without_its_dep_is_caught(scratch):
    assert problems(scratch) == []
    script = scratch / "stages/split.py"
    script.write_text(
        script.read_text().replace(
            "from reprolab.cli import run\n", "from reprolab.cli import run\nfrom reprolab.evaluation import figures\n"
        )
    )
    assert problems(scratch) == [
        f"split@{name}: dvc.yaml misses reprolab/evaluation/{module}"
        for name in sorted(tasks.NAMES)
        for module in ("__init__.py", "figures.py")
    ]


def test_an_import_inside_a_function_counts_too(scratch):
    module = scratch / "reprolab/data/tasks/news.py"
    module.write_text(module.read_text() + "\n\ndef later():\n    from reprolab.pages import review\n")
    assert set(problems(scratch)) == {
        f"{stage}: dvc.yaml misses reprolab/pages/{file}"
        for stage in ("params", *(f"{s}@news" for s in TASK_STAGES))
        for file in ("__init__.py", "review.py")
    }


def test_a_dep_the_stage_does_not_run_is_caught(scratch):
    dvc_yaml = scratch / "dvc.yaml"
    text = dvc_yaml.read_text()
    line = "        - stages/train.py\n"
    assert text.count(line) == 1
    dvc_yaml.write_text(text.replace(line, line + "        - reprolab/data/splitting.py\n"))
    assert problems(scratch) == [
        f"train@{name}: dvc.yaml declares reprolab/data/splitting.py, which it does not run"
        for name in sorted(tasks.NAMES)
    ]


def project_modules(root: Path) -> list[str]:
    return sorted(
        ".".join(path.relative_to(root).with_suffix("").parts).removesuffix(".__init__")
        for package in PACKAGES
        for path in (root / package).rglob("*.py")
    )


def test_imports_run_one_way_down():
    """No import cycle in the library, and no stage script imports another one."""
    graph = {name: {n for n in imported(ROOT, name) if module_file(ROOT, n)} - {name} for name in project_modules(ROOT)}
    for name, targets in graph.items():
        if name.startswith("stages."):
            assert not {t for t in targets if t.startswith("stages.")} - {"stages"}, name
    state: dict[str, str] = {}

    def visit(name: str, path: list[str]) -> None:
        state[name] = "open"
        for target in sorted(graph[name]):
            assert state.get(target) != "open", f"import cycle: {' -> '.join([*path, name, target])}"
            if target not in state:
                visit(target, [*path, name])
        state[name] = "done"

    for name in graph:
        if name not in state:
            visit(name, [])


def test_the_packages_import_one_way():
    """Imports run down: no package of the library imports one that imports it back (the
    order of docs/pipeline.md's map: core, data, learning, evaluation, prediction,
    experiments, pages; the stage wrapper and `python -m reprolab` sit above them all)."""
    order = ["core", "data", "learning", "evaluation", "prediction", "experiments", "pages"]
    upward = []
    for path in (ROOT / "reprolab").glob("*/**/*.py"):
        own = path.relative_to(ROOT / "reprolab").parts[0]
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("reprolab."):
                other = node.module.split(".")[1]
                if other in order and order.index(other) > order.index(own):
                    upward.append(f"{path.relative_to(ROOT)} imports {node.module}")
    assert upward == []
