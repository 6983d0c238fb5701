"""The searches that chose a task's defaults: an Optuna study whose trials are DVC experiments.

    python -m reprolab.search NAME [--trials N] [--jobs J]     (make search TASK=NAME)

search.yaml names the training seed(s) of every trial (42, 43, ...: apart from the seeds 1, 2
and 3 that the reported figures average over, so that no seed is both chosen on and reported)
and, per search, the params searched (keys under `tasks.TASK.` in params.yaml), their ranges,
the validation metric to optimise and the number of trials. A search is named after its task,
or names it (`task:`) and fixes some params (`set:`), e.g. the mnist `mlp` variant. Each round
asks the study for `batch` trials, queues one `dvc exp run -S ... publish@TASK` per trial and
seed (named NAME-STAMP-N[-sSEED]), runs them and tells the study their validation figure, the
mean over the seeds where there are several. Only validation figures are read: the test split
never takes part in a choice. The trials, best first, go to reports/search/NAME.json and .md
(the selection tables of docs/experiments.md); the best one's overrides are printed, to be
copied into params.yaml (or the variant's recipe) by hand.
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
from reprolab.files import UserError, read_json, write_json, write_text

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


def load_space(name: str, path: Path = SPACE_FILE) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text())
        spec = data[name]
        seeds = spec.get("seeds", data["seed"])
        return {
            "task": spec.get("task", name),
            "set": dict(spec.get("set", {})),  # fixed for every trial
            "seeds": [int(s) for s in (seeds if isinstance(seeds, list) else [seeds])],
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
            f"{path}: needs seed, and {name}: metric, direction, trials and space ({type(err).__name__}: {err})"
        ) from None


def override(task: str, key: str, value: Any) -> str:
    if isinstance(value, list):  # a fixed list (set:), e.g. the attack types held out: [a, b]
        text = yaml.safe_dump(value, default_flow_style=True, width=math.inf).strip()
    else:
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


def search(name: str, trials: int | None = None, jobs: int = 1, seed: int = 0) -> list[dict[str, Any]]:
    import optuna

    config = load_space(name)
    task, seeds, trials = config["task"], config["seeds"], trials or config["trials"]
    fixed = [override(task, k, v) for k, v in config["set"].items()]
    study = _study(config, seed)
    stamp, rows, order = time.strftime("%Y%m%d-%H%M%S"), [], []
    while len(rows) < trials:
        asked = [study.ask(config["space"]) for _ in range(min(config["batch"], trials - len(rows)))]
        asked = {f"{name}-{stamp}-{t.number}": t for t in asked}
        runs, names = {}, {}  # one experiment per trial and seed; its name carries the seed where there are several
        for trial_name, t in asked.items():
            searched = [override(task, k, v) for k, v in t.params.items()]
            names[trial_name] = [trial_name + (f"-s{s}" if len(seeds) > 1 else "") for s in seeds]
            runs |= {n: [f"seed={s}", *fixed, *searched] for n, s in zip(names[trial_name], seeds, strict=True)}
        results = experiments.run(runs, (f"publish@{task}",), jobs)
        for trial_name, trial in asked.items():
            mine = names[trial_name]
            figures = [(results[n] or {}).get(f"metrics/{task}.json", {}).get("val") for n in mine]
            val = _mean(figures) if all(figures) else {}
            value = experiments.lookup({"val": val}, config["metric"])
            if isinstance(value, int | float) and math.isfinite(value):
                study.tell(trial, value)
            else:
                study.tell(trial, state=optuna.trial.TrialState.FAIL)
            rows.append({"trial": trial.number, "experiment": mine[0], "params": trial.params, "val": val})
            rows[-1] |= {"experiments": mine} if len(mine) > 1 else {}
            print(f"{trial_name}: {config['metric']} {value}  {' '.join(runs[mine[0]][1:])}", flush=True)
        order = save(name, config, rows)  # after every round: a search cut short keeps what it ran
    return order


def save(name: str, config: dict[str, Any], rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The trials so far, best first (failed ones last), to reports/search/NAME.json and .md."""
    sign = -1 if config["direction"] == "maximize" else 1

    def rank(row: dict[str, Any]) -> float:
        value = experiments.lookup(row, config["metric"])
        return sign * value if isinstance(value, int | float) else math.inf

    order = sorted(rows, key=rank)
    result = {"search": name, "task": config["task"], "set": config["set"], "seeds": config["seeds"]}
    result |= {"metric": config["metric"], "direction": config["direction"], "trials": order}
    write_json(OUT / f"{name}.json", result)
    write_text(OUT / f"{name}.md", table(result))
    return order


def chosen(name: str) -> tuple[str, list[str]]:
    """A search's task and the overrides of its outcome: its fixed `set:` and its best trial's
    params (reports/search/NAME.json), e.g. what the mnist `mlp` variant runs with."""
    config = load_space(name)
    path = OUT / f"{name}.json"
    trials = read_json(path)["trials"] if path.exists() else []
    if not trials:
        raise UserError(f"{path}: no trial (run: make search TASK={name})")
    best = trials[0]
    found = config["set"] | best["params"]
    return config["task"], [override(config["task"], k, v) for k, v in found.items()]


def _mean(figures: list[dict[str, float]]) -> dict[str, float]:
    """Each validation figure's mean over the seeds of a trial (one seed: its figures)."""
    return {key: sum(f[key] for f in figures) / len(figures) for key in figures[0] if all(key in f for f in figures)}


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
    parser.add_argument("search", help="a search of search.yaml: a task's name, or a variant's (e.g. mnist-mlp)")
    parser.add_argument("--trials", type=int, help="default: search.yaml's")
    parser.add_argument("--jobs", type=int, default=1, help="experiments at a time (default 1)")
    args = parser.parse_args()

    def work() -> None:
        best = search(args.search, args.trials, args.jobs)[0]
        print(f"best ({best['experiment']}): dvc exp apply {best['experiment']}, or set in params.yaml:")
        print("  " + " ".join(f"-S {o}" for o in chosen(args.search)[1]))

    guarded(f"search@{args.search}", work)


if __name__ == "__main__":
    main()
