"""The searches that chose a task's defaults: an Optuna study whose trials are DVC experiments.

    python -m reprolab.search TASK [--trials N] [--jobs J]     (make search TASK=...)

search.yaml names the training seed of every trial (42: apart from the seeds 1, 2 and 3 that
the reported figures average over, so that no seed is both chosen on and reported) and, per
task, the params searched (keys under `tasks.TASK.` in params.yaml),
their ranges, the validation metric to optimise and the number of trials. Each round asks
the study for `batch` trials, queues one `dvc exp run -S ... evaluate@TASK` each (named
TASK-STAMP-N), runs them and tells the study their validation figure. Only validation
figures are read: the test split never takes part in a choice. The trials, best first, go
to reports/search/TASK.json and .md (the README's selection table); the best one's
overrides are printed, to be copied into params.yaml by hand.
"""

from __future__ import annotations

import argparse
import itertools
import math
import time
from pathlib import Path
from typing import Any

import yaml

from reprolab import experiments
from reprolab.files import UserError, write_json, write_text

SPACE_FILE = Path("search.yaml")
OUT = Path("reports/search")


def _distribution(spec: dict[str, Any]):
    import optuna

    if "choices" in spec:  # lists (layer widths) travel as their YAML text: Optuna wants scalars
        return optuna.distributions.CategoricalDistribution(
            [yaml.safe_dump(c, default_flow_style=True).strip() if isinstance(c, list) else c for c in spec["choices"]]
        )
    low, high = spec["low"], spec["high"]
    if isinstance(low, int) and isinstance(high, int) and not spec.get("log"):
        return optuna.distributions.IntDistribution(low, high, step=spec.get("step", 1))
    return optuna.distributions.FloatDistribution(float(low), float(high), log=bool(spec.get("log")))


def load_space(task: str, path: Path = SPACE_FILE) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text())
        spec = data[task]
        return {
            "seed": int(data["seed"]),
            "metric": spec["metric"],
            "direction": spec["direction"],
            "trials": int(spec["trials"]),
            "batch": int(spec.get("batch", 1)),
            "sampler": spec.get("sampler", "tpe"),  # or grid
            "space": {key: _distribution(value) for key, value in spec["space"].items()},
        }
    except FileNotFoundError:
        raise UserError(f"{path}: not found") from None
    except (KeyError, TypeError, ValueError) as err:
        raise UserError(
            f"{path}: needs seed, and {task}: metric, direction, trials and space ({type(err).__name__}: {err})"
        ) from None


def override(task: str, key: str, value: Any) -> str:
    text = str(value).lower() if isinstance(value, bool) else str(value)
    return f"++tasks.{task}.{key}={text}"  # ++: set, whether params.yaml names the key or not


def _study(config: dict[str, Any], seed: int):
    """A TPE study; for `sampler: grid`, every combination of the choices is enqueued in order
    (each trial then takes the next one; Optuna's GridSampler stops a study only inside
    `optimize`, not under ask and tell)."""
    import optuna

    study = optuna.create_study(direction=config["direction"], sampler=optuna.samplers.TPESampler(seed=seed))
    if config["sampler"] == "grid":
        keys = list(config["space"])
        for combination in itertools.product(*(config["space"][key].choices for key in keys)):
            study.enqueue_trial(dict(zip(keys, combination, strict=True)))
    return study


def search(task: str, trials: int | None = None, jobs: int = 1, seed: int = 0) -> list[dict[str, Any]]:
    import optuna

    config = load_space(task)
    trials = trials or config["trials"]
    study = _study(config, seed)
    stamp, rows = time.strftime("%Y%m%d-%H%M%S"), []
    while len(rows) < trials:
        asked = [study.ask(config["space"]) for _ in range(min(config["batch"], trials - len(rows)))]
        names = {f"{task}-{stamp}-{t.number}": t for t in asked}
        runs = {
            name: [f"seed={config['seed']}", *(override(task, k, v) for k, v in t.params.items())]
            for name, t in names.items()
        }
        results = experiments.run(runs, (f"evaluate@{task}",), jobs)
        for name, trial in names.items():
            figures = (results[name] or {}).get(f"metrics/{task}.json", {})
            val, value = figures.get("val", {}), experiments.lookup(figures, config["metric"])
            if isinstance(value, int | float) and math.isfinite(value):
                study.tell(trial, value)
            else:
                study.tell(trial, state=optuna.trial.TrialState.FAIL)
            rows.append({"trial": trial.number, "experiment": name, "params": trial.params, "val": val})
            print(f"{name}: {config['metric']} {value}  {' '.join(runs[name][1:])}", flush=True)
    sign = -1 if config["direction"] == "maximize" else 1

    def rank(row: dict[str, Any]) -> float:  # best first, failed trials last
        value = experiments.lookup(row, config["metric"])
        return sign * value if isinstance(value, int | float) else math.inf

    order = sorted(rows, key=rank)
    result = {"task": task, "metric": config["metric"], "direction": config["direction"], "seed": config["seed"]}
    result["trials"] = order
    write_json(OUT / f"{task}.json", result)
    write_text(OUT / f"{task}.md", table(result))
    return order


def _cell(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def table(result: dict[str, Any], top: int | None = None) -> str:
    """The trials as a markdown table, best first: each searched param, then validation figures."""
    trials = result["trials"][:top] if top else result["trials"]
    keys = list(trials[0]["params"]) if trials else []
    figures = sorted({key for trial in trials for key in trial["val"]})
    lines = [
        "| " + " | ".join(["trial", *keys, *(f"val {f}" for f in figures)]) + " |",
        "|" + "---|" * (1 + len(keys) + len(figures)),
    ]
    for trial in trials:
        cells = [str(trial["trial"]), *(_cell(trial["params"].get(k)) for k in keys)]
        cells += [f"{trial['val'][f]:.4f}" if f in trial["val"] else "failed" for f in figures]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    from reprolab.cli import guarded

    parser = argparse.ArgumentParser(prog="python -m reprolab.search", description=__doc__.split("\n\n")[0])
    parser.add_argument("task")
    parser.add_argument("--trials", type=int, help="default: search.yaml's")
    parser.add_argument("--jobs", type=int, default=1, help="experiments at a time (default 1)")
    args = parser.parse_args()

    def work() -> None:
        best = search(args.task, args.trials, args.jobs)[0]
        print(f"best ({best['experiment']}): dvc exp apply {best['experiment']}, or set in params.yaml:")
        print("  " + " ".join(f"-S {override(args.task, k, v)}" for k, v in best["params"].items()))

    guarded(f"search@{args.task}", work)


if __name__ == "__main__":
    main()
