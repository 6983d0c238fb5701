"""The committed state: a fresh clone shows every task's metrics and plots, with no data.

`dvc metrics show`, `dvc plots show` and `dvc exp show` read what git holds: each metrics
and plot file that dvc.yaml declares must be committed, parse, and load without a warning.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from reprolab.core import kernels
from reprolab.data import tasks
from reprolab.experiments import seeds
from reprolab.pages import plots as plots_page
from reprolab.pages import tables as results
from tests.conftest import MIRROR, ROOT

# What differs between two machines or two runs, and so never belongs in a committed file: an
# absolute path (of a user's home, a temporary or a work folder), a wall time, the version of
# one torch wheel (+cpu, +cu130), a host.
VOLATILE = re.compile(
    r"(?<![\w.])/(?:home|root|tmp|work|Users|var/folders|mnt|private)/|[A-Z]:\\\\|"
    r"wall_time|train_seconds|\+cu\d+|\+cpu\b|hostname|\"seconds\""
)


def dvc(*args: str) -> subprocess.CompletedProcess:
    env = os.environ | {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run(["dvc", *args], cwd=ROOT, capture_output=True, text=True, env=env)


def committed() -> set[str]:
    return set(subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split())


def test_every_declared_metric_and_plot_file_is_committed_and_parses():
    metrics = {f"metrics/{name}.json" for name in tasks.names()}
    plots = {path for path in committed() if path.startswith("plots/")}
    assert {p.split("/")[1] for p in plots} == set(tasks.names())  # every task has its plots
    assert metrics <= committed(), sorted(metrics - committed())
    for path in metrics:
        assert all(
            isinstance(v, float) for split in json.loads((ROOT / path).read_text()).values() for v in split.values()
        )
    for name in tasks.names():
        curves = pd.read_csv(ROOT / "plots" / name / "curves.csv")
        assert list(curves.columns) == ["epoch", "split", "metric", "value"] and len(curves) > 0, name
        assert {p.rpartition("/")[2].rpartition(".")[2] for p in plots if p.split("/")[1] == name} == {"csv", "png"}


def test_dvc_shows_metrics_plots_and_experiments_without_a_warning():
    for args in (("metrics", "show", "--json"), ("plots", "show", "--json"), ("exp", "show", "--json")):
        result = dvc(*args)
        assert result.returncode == 0, result.stderr
        assert "failed to load" not in result.stderr.lower() + result.stdout.lower(), (args, result.stderr)
    shown = json.loads(dvc("metrics", "show", "--json").stdout)
    loaded = {path for rev in shown.values() for path in rev.get("data", {})}
    assert loaded == {f"metrics/{name}.json" for name in tasks.names()}


@pytest.mark.parametrize("name", sorted(results.FILES))
def test_the_generated_tables_are_current(name):
    """README.md's results table and docs/experiments.md's selection tables (make results)."""
    text = (ROOT / name).read_text()
    assert results.updated(name, text, ROOT) == text, f"{name}: a generated table is stale (run: make results)"


# [text](target) or ![alt](target), with an optional "title"; code (fenced or inline) holds no links.
LINK = re.compile(r"!?\[[^\]]*\]\(\s*([^)\s]+)(?:\s+\"[^\"]*\")?\s*\)")
CODE = re.compile(r"^```.*?^```|`[^`]*`", re.MULTILINE | re.DOTALL)


def pages() -> list[Path]:
    """The documentation: README.md, the first visit, and docs/*.md, the rest by topic."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def links(page: Path) -> list[str]:
    """The targets of a page's relative links, without their #fragment (none for an anchor alone,
    an address with a scheme, http(s): or mailto:)."""
    targets = LINK.findall(CODE.sub("", page.read_text()))
    return [t.partition("#")[0] for t in targets if not t.startswith("#") and not re.match(r"[a-zA-Z][\w+.-]*:", t)]


def test_every_relative_link_of_the_readme_and_docs_resolves():
    broken = []
    for page in pages():
        for target in links(page):
            path = (page.parent / target).resolve()
            if not (path.is_relative_to(ROOT.resolve()) and path.exists()):
                broken.append(f"{page.relative_to(ROOT)}: {target}")
    assert broken == []


def test_the_readme_is_a_first_visit_that_links_every_docs_page():
    readme = ROOT / "README.md"
    assert len(readme.read_text().splitlines()) <= 160, "README.md: keep it to a first visit; move the rest to docs/"
    linked = {(ROOT / target).resolve() for target in links(readme)}
    assert [p.name for p in pages()[1:] if p.resolve() not in linked] == []
    for page in pages()[1:]:
        assert page.read_text().startswith("# "), f"{page.name}: a page starts with its # title"


def test_the_seed_summary_is_of_the_committed_run_and_every_task():
    """reports/seeds.json (make seeds) ran the default params: under the default seed it gives
    exactly the committed metrics, so the README's mean ± std and the gate's noise are current."""
    summary = json.loads((ROOT / "reports/seeds.json").read_text())
    seed = yaml.safe_load((ROOT / "params.yaml").read_text())["seed"]
    assert summary["seeds"] == [1, 2, 3] and seed in summary["seeds"]
    assert summary["overrides"] == [] and summary["targets"] == []
    assert set(summary["metrics"]) == set(summary["revisions"]) == {f"metrics/{name}.json" for name in tasks.names()}
    at = summary["seeds"].index(seed)
    for path, figures in summary["metrics"].items():
        metrics = seeds.flatten(json.loads((ROOT / path).read_text()))
        assert set(figures) == set(metrics), path
        assert {key: f["values"][at] for key, f in figures.items()} == metrics, f"{path}: stale (run: make seeds)"


def test_the_committed_template_holds_the_installed_vega_bundle():
    """.dvc/offline.html is what `python -m reprolab.pages.plots` writes from the pinned
    vl-convert-python: after an upgrade, that command refreshes it."""
    committed = (ROOT / plots_page.TEMPLATE).read_text(encoding="utf-8")
    assert committed == plots_page.page(committed), "stale: run python -m reprolab.pages.plots and commit it"


def test_the_map_of_the_code_names_every_module():
    """docs/pipeline.md's map (its Layout block) names each module of the library, or its
    package's folder, with a line of purpose: a new module joins the map."""
    page = (ROOT / "docs/pipeline.md").read_text()
    start = page.index("```", page.index("## Layout")) + 3
    named = {line.split()[0] for line in page[start : page.index("```", start)].splitlines() if line.strip()}
    modules = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "reprolab").rglob("*.py"))
    missing = [m for m in modules if m not in named and f"{m.rpartition('/')[0]}/" not in named]
    assert missing == [], "docs/pipeline.md's map lacks these modules"
    packages = sorted(f"{p.parent.relative_to(ROOT).as_posix()}/" for p in (ROOT / "reprolab").glob("*/__init__.py"))
    assert [p for p in packages if p not in named] == [], "docs/pipeline.md's map lacks these packages"


def test_make_help_lists_every_target():
    makefile = (ROOT / "Makefile").read_text()
    phony = next(line for line in makefile.splitlines() if line.startswith(".PHONY:")).split()[1:]
    shown = subprocess.run(
        ["make", "--no-print-directory", "help"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert [line.split()[1] for line in shown.stdout.splitlines()] == phony


def test_make_names_the_python_it_needs(tmp_path):
    venv = tmp_path / "venv"
    result = subprocess.run(
        ["make", "--no-print-directory", "PYTHON=python2-nope", f"VENV={venv}", f"{venv}/.installed"],
        cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode != 0 and not venv.exists()
    assert result.stderr.splitlines()[0] == (
        "error: make: python2-nope is not Python 3.11 or newer (set PYTHON=/path/to/python3.11)"
    )


def test_no_committed_file_holds_a_path_a_wall_time_or_a_wheel():
    """The record names no machine (README.md and the tests may speak of these)."""
    text_files = [p for p in committed() if not p.endswith(".png") and not p.startswith(("tests/", ".ci/", ".github/"))]
    outputs = [p for p in text_files if p.startswith(("dvclive/", "metrics/", "plots/", "reports/", "data/"))]
    assert len(outputs) > 40  # the record itself is among them
    found = []
    for path in [*outputs, "dvc.lock"]:
        for number, line in enumerate((ROOT / path).read_text().splitlines(), 1):
            if VOLATILE.search(line):
                found.append(f"{path}:{number}: {line.strip()[:120]}")
    assert found == []


def test_the_volatile_pattern_catches_what_it_must():
    for line in (
        '"origin": "/work/shared/data/mirror/KDDTest+.txt"',
        '"train_seconds": 56.0',
        '"torch": "2.14.1+cu130"',
    ):
        assert VOLATILE.search(line), line
    for line in ('"origin": "mirror"', "| test | accuracy | 0.8016 |", "data/raw/nslkdd/KDDTest+.txt"):
        assert not VOLATILE.search(line), line


@pytest.mark.e2e
@pytest.mark.skipif(not (MIRROR / "SHA256SUMS").is_file(), reason="needs the shared mirror of the real data")
def test_a_fresh_clone_rebuilds_the_committed_table_tasks_byte_for_byte(tmp_path):
    """On the real data: a clone in another folder, with the mirror where this machine has it,
    re-runs the table tasks and leaves git with nothing to report."""
    clone = tmp_path / "elsewhere" / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    env = os.environ | {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "REPROLAB_MIRROR": str(MIRROR),
        "CI": "true",
    }
    env = kernels.unpinned_env(env)  # the stages pin themselves
    targets = ["publish@blobs", "publish@advertising", "publish@nslkdd"]
    result = subprocess.run(
        ["dvc", "repro", "--no-run-cache", *targets], cwd=clone, capture_output=True, text=True, env=env
    )
    assert result.returncode == 0, result.stderr
    assert "Running stage 'train@nslkdd'" in result.stdout  # rebuilt, not restored
    status = subprocess.run(["git", "status", "--porcelain"], cwd=clone, capture_output=True, text=True).stdout
    assert status == "", status


def test_pre_commit_runs_the_lint_of_make_lint():
    """.pre-commit-config.yaml's hooks are make lint's commands, in its order, from the venv."""
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    hooks = [hook["entry"].removeprefix(".venv/bin/") for repo in config["repos"] for hook in repo["hooks"]]
    makefile = (ROOT / "Makefile").read_text().splitlines()
    recipe = makefile[next(i for i, line in enumerate(makefile) if line.startswith("lint:")) + 1]
    assert hooks == [command.strip().removesuffix(" .") for command in recipe.split("&&")]
