"""The searches that chose a task's defaults: an Optuna study whose trials are DVC experiments.

    python -m reprolab.experiments.search NAME [--storage URL] [--trials N] [--remote GIT_REMOTE] [--new]
    python -m reprolab.experiments.search NAME --report [--storage URL]     (make search TASK=NAME [STORAGE=URL])

search.yaml names the training seed(s) of every trial (42, 43, ...: apart from the seeds 1, 2
and 3 that the reported figures average over, so that no seed is both chosen on and reported)
and, per search, the params searched (keys under `tasks.TASK.` in params.yaml), their ranges,
the validation metric to optimise and the number of trials. A search is named after its task,
or names it (`task:`) and fixes some params (`set:`), e.g. the mnist `mlp` variant.

The study lives in Optuna's storage under the search's name (reprolab/experiments/studies.py): a SQLite
file by default, so that a search cut short goes on where it stopped, or a database that
workers on many machines share (docs/many-machines.md). Each process started so is a worker:
it takes trials until the study has N complete ones, runs each trial's experiments (one per
seed, `dvc exp run --temp -S ... publish@TASK`, named NAME-STAMP-TRIAL[-sSEED]), pushes them
to the remotes where the study is shared (`dvc exp push --run-cache`), and only then tells the
study their validation figure (the mean over the seeds where there are several). Only
validation figures are read: the test split never takes part in a choice. The trials, best
first, go to reports/search/NAME.json and .md (the selection tables of docs/experiments.md),
built from the storage and the trials' experiments (pulled where this clone lacks them, so
that any clone can write them and `dvc exp apply` the best); the best one's overrides are
printed, to be copied into params.yaml (or the variant's recipe) by hand.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import math
from pathlib import Path
from typing import Any

import yaml

from reprolab.core.errors import UserError
from reprolab.core.files import read_json, write_json, write_text
from reprolab.data import tasks
from reprolab.experiments import runs as experiments
from reprolab.experiments import studies

SPACE_FILE = Path("search.yaml")
OUT = Path("reports/search")
# The search of a task of your own that search.yaml does not name: its learning rate and dropout,
# on its validation loss (whatever its kind). Name the task in search.yaml to search otherwise.
OWN_SEARCH: dict[str, Any] = {
    "metric": "val.loss",
    "direction": "minimize",
    "trials": 8,
    "batch": 2,
    "space": {"train.lr": {"low": 0.0001, "high": 0.03, "log": True}, "model.dropout": {"choices": [0.0, 0.3]}},
}


def _distribution(spec: dict[str, Any]):
    import optuna

    if "choices" in spec:  # lists (layer widths) travel as their YAML text: Optuna wants scalars
        return optuna.distributions.CategoricalDistribution(
            [_flow(c) if isinstance(c, list) else c for c in spec["choices"]]
        )
    low, high = spec["low"], spec["high"]
    if isinstance(low, int) and isinstance(high, int) and not spec.get("log"):
        return optuna.distributions.IntDistribution(low, high, step=spec.get("step", 1))
    return optuna.distributions.FloatDistribution(float(low), float(high), log=bool(spec.get("log")))


def load_space(name: str, path: Path = SPACE_FILE) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text())
        spec = data[name] if name in data or name in tasks.NAMES or name not in tasks.names() else OWN_SEARCH
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


def _flow(value: list) -> str:
    """A list as one line of YAML, however long: PyYAML wraps at 80 columns otherwise, and a
    wrapped value reaches `dvc exp run -S` cut in two."""
    return yaml.safe_dump(value, default_flow_style=True, width=math.inf).strip()


def override(task: str, key: str, value: Any) -> str:
    if isinstance(value, list):  # a fixed list (set:), e.g. the attack types held out: [a, b]
        text = _flow(value)
    elif isinstance(value, bool):
        text = str(value).lower()
    else:
        text = str(value)
    return f"++tasks.{task}.{key}={text}"  # ++: set, whether params.yaml names the key or not


def _suggest(trial, key: str, distribution) -> Any:
    import optuna

    if isinstance(distribution, optuna.distributions.CategoricalDistribution):
        return trial.suggest_categorical(key, distribution.choices)
    if isinstance(distribution, optuna.distributions.IntDistribution):
        return trial.suggest_int(key, distribution.low, distribution.high, step=distribution.step, log=distribution.log)
    return trial.suggest_float(key, distribution.low, distribution.high, log=distribution.log, step=distribution.step)


def stored(config: dict[str, Any]) -> dict[str, Any]:
    """What a study keeps of its search, to refuse a worker of another search of that name."""
    import optuna

    kept = {key: config[key] for key in ("task", "set", "seeds", "metric")}
    return kept | {"space": {k: optuna.distributions.distribution_to_json(d) for k, d in config["space"].items()}}


def open_search(name: str, config: dict[str, Any], store, seed: int | None = None, new: bool = False, create=True):
    """The search's study: created by its first worker (for `sampler: grid`, every combination
    of the choices queued in order), joined by the others. Each worker samples with its own
    seed (TPE with a constant liar: the trials running elsewhere count as taken)."""
    import optuna

    if not create and name not in optuna.study.get_all_study_names(store):
        raise UserError(f"study {name}: not in the storage (run the search first)")
    if new:
        with contextlib.suppress(KeyError):  # none of that name yet
            optuna.delete_study(study_name=name, storage=store)

    def setup(study) -> None:
        study.set_user_attr("revision", experiments.head())
        study.set_user_attr("stamp", studies.stamp())  # in the experiments' names
        if config["sampler"] == "grid":
            keys = list(config["space"])
            for combination in itertools.product(*(config["space"][key].choices for key in keys)):
                study.enqueue_trial(dict(zip(keys, combination, strict=True)))

    sampler = optuna.samplers.TPESampler(seed=seed, constant_liar=True)
    study = studies.open_study(name, store, config["direction"], stored(config), setup, sampler)
    revision, here = study.user_attrs["revision"], experiments.head()
    if revision != here:
        raise UserError(
            f"study {name} runs on commit {revision[:12]}, this clone is at {here[:12]}: "
            f"git checkout {revision[:12]}, or --new to start the study again here"
        )
    return study


def search(
    name: str,
    trials: int | None = None,
    storage: str | None = None,
    remote: str | None = None,
    heartbeat: int = studies.HEARTBEAT,
    seed: int | None = None,
    new: bool = False,
) -> list[dict[str, Any]]:
    """Work on the search `name` until its study has `trials` complete trials (search.yaml's
    number by default), then write its results; `remote`: the git remote each trial's
    experiments are pushed to before the study is told (and the others' pulled from)."""
    config = load_space(name)
    task, seeds, wanted = config["task"], config["seeds"], trials or config["trials"]
    fixed = [override(task, k, v) for k, v in config["set"].items()]
    store = studies.storage(storage, heartbeat)

    def objective(trial) -> float:
        experiments.still_on(study.user_attrs["revision"], f"search {name}")
        params = {key: _suggest(trial, key, d) for key, d in config["space"].items()}
        searched = [override(task, k, v) for k, v in params.items()]
        stem = f"{name}-{study.user_attrs['stamp']}-{trial.number}"
        names = [stem + (f"-s{s}" if len(seeds) > 1 else "") for s in seeds]
        trial.set_user_attr("experiments", names)
        print(f"trial {trial.number}: {' '.join(searched)}", flush=True)
        try:
            runs = [
                experiments.run(n, [f"seed={s}", *fixed, *searched], (f"publish@{task}",))
                for n, s in zip(names, seeds, strict=True)
            ]
        except experiments.ExperimentFailed as err:
            trial.set_user_attr("failed", str(err))
            print(f"trial {trial.number}: failed: {err}", flush=True)
            raise
        for r in runs:
            print(f"{r.name}: ran {', '.join(r.ran) or 'nothing'}; restored {', '.join(r.restored) or 'nothing'}")
        figures = [r.metrics.get(f"metrics/{task}.json", {}).get("val") for r in runs]
        val = _mean(figures) if all(figures) else {}
        value = experiments.lookup({"val": val}, config["metric"])
        if not (isinstance(value, int | float) and math.isfinite(value)):
            trial.set_user_attr("failed", f"no finite {config['metric']}")
            raise experiments.ExperimentFailed(f"{stem}: {config['metric']} is {value}")
        if remote:  # told only once its refs, outputs and run-cache entries are on the remotes
            experiments.push(names, remote)
        print(f"trial {trial.number}: {config['metric']} {value} ({', '.join(names)})", flush=True)
        return value

    study: Any = None  # the study, once work() has opened it

    def work() -> list[dict[str, Any]]:
        nonlocal study
        study = open_search(name, config, store, seed, new)
        studies.work(study, wanted, objective, heartbeat, catch=(experiments.ExperimentFailed,))
        return report(name, config, study, remote)

    return studies.guarded_storage(storage, work)


def report(name: str, config: dict[str, Any], study, remote: str | None = None) -> list[dict[str, Any]]:
    """The study's trials, best first, to reports/search/NAME.json and .md: its complete trials
    (their validation figures read from their experiments, pulled from `remote` where this
    clone lacks them) and the failed ones that were not run again. A trial killed with its
    worker, run again as another, and a trial pruned unrun are left out."""
    from optuna.trial import TrialState

    task, revision = config["task"], study.user_attrs["revision"]
    trials = [t for t in study.get_trials(deepcopy=False) if t.state in (TrialState.COMPLETE, TrialState.FAIL)]
    done = [t for t in trials if t.state == TrialState.COMPLETE]
    names = [n for t in done for n in t.user_attrs["experiments"]]
    found = experiments.metrics(names, revision) if names else {}
    missing = [n for n in names if found[n] is None]
    if missing and remote:
        experiments.pull(missing, remote)
        found = experiments.metrics(names, revision)
    rows = []
    for trial in trials:
        if trial.state == TrialState.FAIL and "failed" not in trial.user_attrs:
            continue  # its worker died, or was stopped: the trial was queued again
        mine = trial.user_attrs.get("experiments", [])
        figures = [(found.get(n) or {}).get(f"metrics/{task}.json", {}).get("val") for n in mine]
        if trial.state == TrialState.COMPLETE and not all(figures):
            print(f"trial {trial.number}: its experiments {', '.join(mine)} are not here: left out", flush=True)
            continue
        val = _mean(figures) if trial.state == TrialState.COMPLETE else {}
        row = {"trial": trial.number, "experiment": mine[0] if mine else None, "params": trial.params, "val": val}
        rows.append(row | ({"experiments": mine} if len(mine) > 1 else {}))
    return save(name, config, rows)


def save(name: str, config: dict[str, Any], rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The trials so far, best first (failed ones last), to reports/search/NAME.json and .md."""
    sign = -1 if config["direction"] == "maximize" else 1

    def rank(row: dict[str, Any]) -> float:
        value = experiments.lookup(row, config["metric"])
        return sign * value if isinstance(value, int | float) else math.inf

    order = sorted(rows, key=rank)
    if not order or not order[0]["val"]:  # a report of nothing replaces no report
        raise UserError(f"search {name}: no trial complete; {OUT / name}.json and .md left as they were")
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

    parser = argparse.ArgumentParser(prog="python -m reprolab.experiments.search", description=__doc__.split("\n\n")[0])
    parser.add_argument("search", help="a search of search.yaml: a task's name, or a variant's (e.g. mnist-mlp)")
    parser.add_argument(
        "--trials", type=studies.positive, help="complete trials the study ends with (default: search.yaml's)"
    )
    studies.add_arguments(parser)
    parser.add_argument("--new", action="store_true", help="delete the stored study of this name first")
    parser.add_argument("--report", action="store_true", help="run no trial: write the results of the stored study")
    args = parser.parse_args()
    remote = studies.remote(args)

    def work() -> None:
        if args.report:
            config = load_space(args.search)
            store = studies.storage(args.storage, args.heartbeat)

            def written() -> list[dict[str, Any]]:
                return report(args.search, config, open_search(args.search, config, store, create=False), remote)

            order = studies.guarded_storage(args.storage, written)
        else:
            order = search(args.search, args.trials, args.storage, remote, args.heartbeat, new=args.new)
        best = order[0]
        print(f"best ({best['experiment']}): dvc exp apply {best['experiment']}, or set in params.yaml:")
        print("  " + " ".join(f"-S {o}" for o in chosen(args.search)[1]))

    guarded(f"search@{args.search}", work)


if __name__ == "__main__":
    main()
