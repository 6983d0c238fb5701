"""The pull-request report: what changed against a base branch, and a regression gate.

    python -m reprolab.pages.review --base main [--out report] [--gate gate.yaml]

Compares the workspace with the merge-base of BASE and HEAD (not HEAD~1): params
that changed, every metric's old and new value, and the curves (plots/T/curves.csv) of
both revisions rendered to PNG (vl-convert, no browser). Writes OUT/report.md and
OUT/*.png, prints the report, and exits 1 when a metric regressed by more than
gate.yaml allows, naming each one.

A metric may get worse by its rule's `tolerance`, or by gate.yaml's `noise` times its
standard deviation across seeds, whichever is larger: the spread that `make seeds`
measured and committed in the base revision's reports/seeds.json. So a change that
moves a metric no more than another seed would is not a regression.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from reprolab.core.errors import UserError
from reprolab.core.files import atomic_path, os_error, write_text


@dataclass(frozen=True)
class Rule:
    match: str  # "path:key" pattern, e.g. "metrics/*.json:test.accuracy"
    higher_is_better: bool
    tolerance: float  # how much worse than the base a metric may get


@dataclass(frozen=True)
class Change:
    name: str  # "path:key"
    old: float | None
    new: float | None


def _run(*args: str) -> str:
    result = subprocess.run(args, capture_output=True, text=True)
    if result.returncode != 0:
        raise UserError(f"{' '.join(args)}: {result.stderr.strip() or result.stdout.strip()}")
    return result.stdout


SEEDS_FILE = "reports/seeds.json"


def load_gate(path: Path) -> tuple[list[Rule], float]:
    """The rules, and `noise`: how many standard deviations across seeds a drop may be."""
    try:
        data = yaml.safe_load(path.read_text())
        rules = [Rule(r["match"], bool(r["higher_is_better"]), float(r["tolerance"])) for r in data["rules"]]
        noise = float(data.get("noise", 0.0))
    except FileNotFoundError:
        raise UserError(f"{path}: not found") from None
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise UserError(f"{path}: each rule needs match, higher_is_better and tolerance ({err})") from None
    if noise < 0:
        raise UserError(f"{path}: noise: must be 0 or more (got {noise})")
    return rules, noise


def load_rules(path: Path) -> list[Rule]:
    return load_gate(path)[0]


def seed_spread(seeds: dict) -> dict[str, float]:
    """{"path:key": std} from a reports/seeds.json."""
    return {f"{path}:{key}": v["std"] for path, keys in seeds.get("metrics", {}).items() for key, v in keys.items()}


def base_spread(base: str) -> dict[str, float]:
    """The seed spread committed at the base revision; none where it has no reports/seeds.json."""
    shown = subprocess.run(["git", "show", f"{base}:{SEEDS_FILE}"], capture_output=True, text=True)
    return seed_spread(json.loads(shown.stdout)) if shown.returncode == 0 else {}


def metric_changes(diff: dict) -> list[Change]:
    """`dvc metrics diff --json` output as a flat list."""
    return [
        Change(f"{path}:{key}", values.get("old"), values.get("new"))
        for path, metrics in sorted(diff.items())
        for key, values in sorted(metrics.items())
    ]


def check_rules(rules: list[Rule], names: list[str], gate: Path) -> None:
    """Every rule must match a metric: a rule that names none (a metric renamed or gone) would
    pass silently forever."""
    for number, rule in enumerate(rules, 1):
        if not any(fnmatch.fnmatchcase(name, rule.match) for name in names):
            raise UserError(f"{gate}: rule {number} ({rule.match}) matches no metric that dvc.yaml declares")


def regressions(
    changes: list[Change], rules: list[Rule], spread: dict[str, float] | None = None, noise: float = 0.0
) -> list[str]:
    """One line per metric that got worse than allowed: by the first matching rule's tolerance
    or by `noise` times the metric's standard deviation across seeds, whichever is larger."""
    found = []
    for change in changes:
        rule = next((r for r in rules if fnmatch.fnmatchcase(change.name, r.match)), None)
        if rule is None or not isinstance(change.old, int | float) or not isinstance(change.new, int | float):
            continue
        worse = (change.old - change.new) if rule.higher_is_better else (change.new - change.old)
        seeds = noise * (spread or {}).get(change.name, 0.0)
        allowed = max(rule.tolerance, seeds)
        if worse > allowed:
            why = f"{noise:g} x the seed std {seeds / noise:.3g}" if seeds > rule.tolerance else "the tolerance"
            found.append(
                f"{change.name}: {change.old} -> {change.new} (worse by {worse:.6g}, allowed {allowed:.6g}: {why})"
            )
    return found


def _cell(value) -> str:
    return "-" if value is None else f"{value:.6g}" if isinstance(value, float) else str(value)


def changed_tasks(changes: list[Change], param_names: list[str]) -> set[str]:
    """Tasks whose metrics changed (metrics/T.json) or whose own params did (tasks.T.*)."""
    tasks = {Path(c.name.split(":")[0]).stem for c in changes}
    return tasks | {name.split(":")[1].split(".")[1] for name in param_names if ":tasks." in name}


def render_plots(base: str, out: Path, tasks: set[str]) -> list[str]:
    """PNG files of the curves of the given tasks (plots/T/curves.csv: T-curves.png), base and
    workspace in one chart each."""
    import vl_convert

    shown = json.loads(_run("dvc", "plots", "diff", base, "--json"))
    files = []
    for plot_id, renders in sorted(shown.get("data", {}).items()):
        folder, _, file = plot_id.rpartition("/")
        task = folder.rpartition("/")[2]
        if file != "curves.csv" or task not in tasks or not renders or renders[0].get("type") != "vega":
            continue
        name = f"{task}-curves.png"
        with atomic_path(out / name) as tmp:
            tmp.write_bytes(vl_convert.vegalite_to_png(renders[0]["content"], scale=1))
        files.append(name)
    return files


def report(base_branch: str, out: Path, gate: Path, plots: bool = True) -> tuple[str, list[str]]:
    base = _run("git", "merge-base", base_branch, "HEAD").strip()
    params = json.loads(_run("dvc", "params", "diff", base, "--json") or "{}")
    every = metric_changes(json.loads(_run("dvc", "metrics", "diff", base, "--all", "--json") or "{}"))
    rules, noise = load_gate(gate)
    check_rules(rules, [c.name for c in every if c.new is not None], gate)
    changes = [c for c in every if c.old != c.new]
    failed = regressions(changes, rules, base_spread(base), noise)

    lines = [f"# Report against {base_branch} (merge-base {base[:12]})", ""]
    lines += ["## Params", ""]
    param_rows = [(f"{p}:{k}", v.get("old"), v.get("new")) for p, keys in params.items() for k, v in keys.items()]
    if param_rows:
        lines += ["| param | base | this |", "|---|---|---|"]
        lines += [f"| {name} | {_cell(old)} | {_cell(new)} |" for name, old, new in param_rows]
    else:
        lines.append("No params changed.")
    lines += ["", "## Metrics", ""]
    if changes:
        lines += ["| metric | base | this | change |", "|---|---|---|---|"]
        for c in changes:
            delta = c.new - c.old if isinstance(c.new, int | float) and isinstance(c.old, int | float) else None
            lines.append(f"| {c.name} | {_cell(c.old)} | {_cell(c.new)} | {_cell(delta)} |")
    else:
        lines.append("No metric changed.")
    lines += ["", "## Regression gate", ""]
    lines += [f"- REGRESSED {line}" for line in failed] or [f"Passed ({gate})."]
    out.mkdir(parents=True, exist_ok=True)
    if plots:
        images = render_plots(base, out, changed_tasks(changes, [name for name, _, _ in param_rows]))
        lines += ["", "## Curves (base and this revision)", ""] + [f"![{name}]({name})" for name in images]
    text = "\n".join(lines) + "\n"
    write_text(out / "report.md", text)
    return text, failed


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m reprolab.pages.review", description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default="main", help="the branch the change goes into")
    parser.add_argument("--out", type=Path, default=Path("report"))
    parser.add_argument("--gate", type=Path, default=Path("gate.yaml"))
    parser.add_argument("--no-plots", action="store_true", help="leave the PNG curves out")
    args = parser.parse_args()
    try:
        text, failed = report(args.base, args.out, args.gate, plots=not args.no_plots)
    except (UserError, OSError) as err:
        print(f"error: report: {os_error(err) if isinstance(err, OSError) else err}", file=sys.stderr)
        sys.exit(2)
    print(text)
    for line in failed:
        print(f"regression: {line}", file=sys.stderr)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
