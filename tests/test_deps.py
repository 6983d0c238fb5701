"""The record is exact: every stage of every task depends on its plan file and on no code file
or param of its own, and the plan (reprolab/plan.py) names the project files that the stage
runs for that task: its script, every module imported on the way (at the top of a module or
inside a function), the packages' __init__ files, and the modules imported by a name made at
run time, which the importing module declares in IMPORTS_BY_NAME. The end-to-end test checks
the other side: every project file a real stage process loaded is in its plan
(tests/test_pipeline.py)."""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from reprolab import plan
from reprolab.core import params
from reprolab.core.errors import UserError
from reprolab.data import tasks
from reprolab.learning import models
from tests.conftest import ROOT, TASK_STAGES


def declared(root: Path) -> dict[str, list]:
    """{stage address: its deps as DVC reads dvc.yaml}, and its params under "params:" + address."""
    from dvc.repo import Repo

    with Repo(str(root)) as repo:
        found = {stage.name: [dep.def_path for dep in stage.deps] for stage in repo.index.stages}
        found |= {f"params:{stage.name}": list(stage.params) for stage in repo.index.stages}
    return found


def checked() -> params.Params:
    return params.load(tasks.every(), ROOT / "params.yaml", complete=True, models=models.entries())


def test_every_stage_depends_on_its_plan_and_on_no_code_or_param():
    deps = declared(ROOT)
    assert deps["plan"] == ["params.yaml", "reprolab", "stages", "data/inputs"]  # the plan alone reads the code's bytes
    addresses = {f"{s}@{t}" for s in TASK_STAGES for t in tasks.NAMES}
    assert {name for name in deps if not name.startswith("params:")} == {"plan"} | addresses
    assert set(plan.STAGES) == set(TASK_STAGES)
    for address in addresses:
        own = [d for d in deps[address] if d.startswith(("reprolab", "stages", "params.yaml", "data/plan"))]
        assert own == [f"data/plan/{address}.json"]
        assert deps[f"params:{address}"] == []


def test_each_plan_names_the_code_its_stage_runs_for_its_task():
    found = plan.plans(checked())
    assert set(found) == {f"{s}@{t}" for s in TASK_STAGES for t in tasks.NAMES}
    code = {address: set(p["code"]) for address, p in found.items()}
    for name in tasks.NAMES:
        for stage in TASK_STAGES:
            runs = code[f"{stage}@{name}"]
            own = {f"stages/{stage}.py", f"reprolab/data/tasks/{name}.py"}
            assert own | {"stages/__init__.py", "reprolab/cli.py"} <= runs
            others = {*(n for n in tasks.NAMES if n != name), "own", *tasks.OWN}
            assert not {f"reprolab/data/tasks/{n}.py" for n in others} & runs  # no other task's, none of yours
        assert not {p for p in code[f"train@{name}"] if p.startswith("reprolab/evaluation/")}
        assert not {
            p for p in code[f"train@{name}"] if p.startswith(("reprolab/data/features/", "reprolab/data/split"))
        }
        assert not {
            p for p in code[f"evaluate@{name}"] if p.startswith("reprolab/data/features/")
        }  # reads their output
        assert "reprolab/learning/loop.py" not in code[f"evaluate@{name}"]  # evaluate runs no training code
        assert "reprolab/evaluation/figures.py" in code[f"evaluate@{name}"]
    assert {p for p in code["featurize@mnist"] if p.startswith("reprolab/data/features/")} == {
        "reprolab/data/features/__init__.py", "reprolab/data/features/image.py"
    }  # fmt: skip
    # the model registry imports the file of the task's model alone
    assert {p for p in code["train@news"] if p.startswith("reprolab/learning/models/")} == {
        "reprolab/learning/models/__init__.py", "reprolab/learning/models/layers.py", "reprolab/learning/models/text.py"
    }  # fmt: skip
    assert "reprolab/learning/models/images.py" in code["train@cifar10"]
    assert not {p for p in code["download@blobs"] if p.startswith("reprolab/learning/")}
    assert found["train@news"]["settings"]["train"] == checked().train_for("news").model_dump()
    assert found["split@news"]["settings"] == {"split": checked().task("news").split.model_dump()}


@pytest.fixture
def scratch(tmp_path) -> Path:
    """A copy of the code."""
    for name in ("reprolab", "stages"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def code_of(root: Path) -> dict[str, set[str]]:
    return {address: set(p["code"]) for address, p in plan.plans(checked(), root).items()}


def test_an_import_inside_a_function_counts_too(scratch):
    before = code_of(scratch)
    module = scratch / "reprolab/data/tasks/news.py"
    module.write_text(module.read_text() + "\n\ndef later():\n    from reprolab.pages import review\n")
    after = code_of(scratch)
    grown = {a: sorted(after[a] - before[a]) for a in after if after[a] != before[a]}
    assert grown == {
        f"{s}@news": ["reprolab/pages/__init__.py", "reprolab/pages/review.py"] for s in TASK_STAGES
    }  # and review's own imports, which the stages already ran


def test_a_module_that_does_not_parse_is_named_with_its_line(scratch):
    module = scratch / "reprolab/evaluation/figures.py"
    module.write_text(module.read_text() + "\n\ndef broken(:\n    pass\n")
    with pytest.raises(UserError, match=r"^reprolab/evaluation/figures.py:\d+: does not parse: "):
        plan.plans(checked(), scratch)


def edited(root: Path, path: str, text: str) -> set[str]:
    """The stages whose plan an edit changes: `text` appended to the file at `path`."""
    before = plan.plans(checked(), root)
    with (root / path).open("a") as f:
        f.write(text)
    after = plan.plans(checked(), root)
    (root / path).write_text((ROOT / path).read_text())
    return {address for address in after if after[address] != before[address]}


def test_an_edit_changes_the_plans_of_exactly_the_stages_that_run_it(scratch):
    """The edit-to-stages table of docs/pipeline.md."""
    every = lambda stage: {f"{stage}@{t}" for t in tasks.NAMES}  # noqa: E731
    assert edited(scratch, "reprolab/data/tasks/news.py", "\nEDITED = 1\n") == {f"{s}@news" for s in TASK_STAGES}
    assert edited(scratch, "reprolab/learning/loop.py", "\nEDITED = 1\n") == every("train")
    assert edited(scratch, "reprolab/evaluation/figures.py", "\nEDITED = 1\n") == every("evaluate")
    images = {f"{s}@{t}" for s in ("train", "evaluate") for t in ("mnist", "cifar10")}  # their models' file
    assert edited(scratch, "reprolab/learning/models/images.py", "\nEDITED = 1\n") == images
    assert edited(scratch, "reprolab/core/kernels.py", "\nEDITED = 1\n") == set(plan.plans(checked()))  # all pass
    assert edited(scratch, "reprolab/learning/loop.py", "\n# a comment\n") == set()


def test_a_comment_moved_or_a_docstring_rewritten_changes_no_plan(scratch):
    module = scratch / "reprolab/learning/loop.py"
    text = module.read_text()
    tree = ast.parse(text)
    doc = ast.get_docstring(tree, clean=False)
    assert doc and "# " in text
    lines = text.splitlines(keepends=True)
    comment = next(i for i, line in enumerate(lines) if line.lstrip().startswith("# "))
    moved = lines[:comment] + lines[comment + 1 :] + [lines[comment].lstrip()]  # the comment at the end instead
    before = plan.plans(checked(), scratch)
    module.write_text("".join(moved).replace(doc, "Rewritten.\n\nIn two paragraphs.", 1))
    assert plan.plans(checked(), scratch) == before


def project_modules(root: Path) -> list[str]:
    return sorted(
        ".".join(path.relative_to(root).with_suffix("").parts).removesuffix(".__init__")
        for package in plan.PACKAGES
        for path in (root / package).rglob("*.py")
    )


def unplanned(repo: Path, imports: Path) -> list[str]:
    """The runtime audit: each project file a stage process loaded (imports/<address>.txt, the
    import log's) that its plan does not name. The plan stage depends on all the code."""
    found = []
    for log in sorted(imports.glob("*@*.txt")):
        planned = json.loads((repo / "data/plan" / f"{log.stem}.json").read_text())["code"]
        found += [f"{log.stem} loaded {path}, which its plan does not name" for path in log.read_text().split()
                  if path.endswith(".py") and path not in planned]  # fmt: skip
    return found


def test_a_module_loaded_by_a_name_the_plan_cannot_see_fails_the_audit(scratch):
    """A stage process, logging what it loads, run after a dynamic import was added."""
    (scratch / "params.yaml").write_text((ROOT / "params.yaml").read_text())
    sources = scratch / "reprolab/data/sources.py"
    sources.write_text(sources.read_text() + '\n__import__("importlib").import_module("reprolab.pages." + "tables")\n')
    imports = scratch / "imports"
    imports.mkdir()
    env = os.environ | {
        "PYTHONPATH": f"{ROOT / 'tests/helpers/importlog'}{os.pathsep}{scratch}",
        "REPROLAB_IMPORT_LOG": str(imports),
    }
    for args in (["stages.plan"], ["stages.download", "blobs"]):
        result = subprocess.run([sys.executable, "-m", *args], cwd=scratch, capture_output=True, text=True, env=env)
        assert result.returncode == 0, result.stderr
    assert unplanned(scratch, imports) == [
        f"download@blobs loaded reprolab/pages/{name}, which its plan does not name"
        for name in ("__init__.py", "tables.py")
    ]


def test_imports_run_one_way_down():
    """No import cycle in the library, and no stage script imports another one."""
    graph = {
        name: {n for n in plan.parsed(ROOT, plan.module_file(ROOT, name))[0] if plan.module_file(ROOT, n)} - {name}
        for name in project_modules(ROOT)
    }
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
    experiments, pages; the stage wrapper, the plan and `python -m reprolab` sit above them all)."""
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


def test_what_changed_in_a_plan_is_named_by_setting_and_module():
    old = plan.plans(checked())["train@news"]
    new = json.loads(json.dumps(old))
    new["settings"]["train"]["lr"] *= 2
    new["code"]["reprolab/learning/loop.py"] = "0" * 32
    assert plan.changes(old, new) == ["setting train.lr", "reprolab/learning/loop.py"]
    assert plan.changes(None, new) == ["no plan yet"] and plan.changes(old, old) == []
