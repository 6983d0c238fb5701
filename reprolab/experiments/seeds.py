"""The pipeline over several training seeds: how much of a result is the seed's.

    python -m reprolab.experiments.seeds [STAGE...] [--seeds 1 2 3] [--set KEY=VALUE...] [--out FILE] [--storage URL]
    python -m reprolab.experiments.seeds --variant NAME [--seeds ...] [--storage URL]
    python -m reprolab.experiments.seeds --task NAME [--seeds ...] [--storage URL]
    (make seeds: the whole pipeline, default params, into reports/seeds.json;
     make seeds TASK=news: one task's stages, its figures in reports/seeds.json replaced;
     make seeds VARIANT=mnist-mlp: a variant of search.yaml into reports/seeds-mnist-mlp.json)

Runs one `dvc exp run --temp -S seed=N` per seed (the whole pipeline; the committed seed's
stages are up to date and skipped, and a stage whose code, data, params and seed already ran,
here or in a clone whose run cache was pulled, is restored from DVC's run cache: a repeat
trains nothing), says per seed which stages ran and which were restored, and writes
reports/seeds.json: for every headline metric, its
value under each seed, the mean and the standard deviation (sample, ddof 1), and the commit
they ran on; not the experiments' names, which hold the time of the run (`dvc exp show`
lists them); and, per metrics file, the commit its figures ran on (`make seeds TASK=NAME`
re-runs one task after a change only it sees and replaces that task's figures, keeping the
others and their commits). The README's results table shows mean ± std from it, and the pull-request
gate takes that spread as the noise a change must exceed to count as a regression.

The seeds are the jobs of a study in Optuna's storage (reprolab/experiments/studies.py), named after the
commit and the arguments: every worker started with the same arguments on the same commit,
on any machine that reaches the storage (--storage URL, docs/many-machines.md), takes seeds
from it, and pushes each run before the study is told; each writes the same summary when
the last seed is done, from the figures kept in the storage.

A variant (a search of search.yaml that names its task and fixes some params, e.g. mnist's
`mlp`) runs its task's evaluate stage with its fixed params and its search's best trial.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
from pathlib import Path
from typing import Any

from reprolab.core.errors import UserError
from reprolab.core.files import write_json
from reprolab.data import tasks
from reprolab.experiments import runs as experiments
from reprolab.experiments import studies

OUT = Path("reports/seeds.json")
SEEDS = (1, 2, 3)


def flatten(data: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """{"test": {"accuracy": 0.9}} -> {"test.accuracy": 0.9}, numbers only."""
    flat: dict[str, float] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            flat |= flatten(value, f"{prefix}{key}.")
        elif isinstance(value, int | float) and not isinstance(value, bool):
            flat[f"{prefix}{key}"] = float(value)
    return flat


def summarise(runs: dict[int, dict[str, dict]]) -> dict[str, dict[str, dict[str, Any]]]:
    """{seed: {path: metrics}} -> {path: {key: {values, mean, std}}} over the metrics every seed has."""
    flat = {seed: {path: flatten(data) for path, data in found.items()} for seed, found in runs.items()}
    first = next(iter(flat.values()))
    summary: dict[str, dict[str, dict[str, Any]]] = {}
    for path in sorted(first):
        for key in sorted(first[path]):
            found = [flat[seed].get(path, {}).get(key) for seed in sorted(flat)]
            values = [v for v in found if v is not None]
            if len(values) < len(found):
                continue
            std = statistics.stdev(values) if len(values) > 1 else 0.0
            summary.setdefault(path, {})[key] = {"values": values, "mean": statistics.fmean(values), "std": std}
    return summary


def run_seeds(
    seeds: list[int],
    targets: tuple[str, ...] = (),
    overrides: tuple[str, ...] = (),
    out: Path = OUT,
    storage: str | None = None,
    remote: str | None = None,
    heartbeat: int = studies.HEARTBEAT,
    task: str | None = None,
) -> dict[str, Any]:
    """Run the pipeline (or the stages `targets` and what they need) once per seed, with
    params.yaml as it is plus `overrides` (KEY=VALUE, as `dvc exp run -S` takes them): each seed
    a job of a study in `storage`, which every worker started with the same arguments on the
    same commit takes from, pushing each run to `remote` before the study is told. With `task`,
    only that task's figures are kept, and they replace its figures in `out`."""
    import optuna

    revision = experiments.head()
    config = {"seeds": seeds, "targets": list(targets), "overrides": list(overrides)}
    name = "seeds-" + hashlib.sha256(json.dumps([revision, config]).encode()).hexdigest()[:12]
    store = studies.storage(storage, heartbeat)

    def setup(study) -> None:
        study.set_user_attr("stamp", studies.stamp())
        for seed in seeds:
            study.enqueue_trial({"seed": seed})

    def objective(trial) -> float:
        experiments.still_on(revision, "make seeds")
        seed = trial.suggest_categorical("seed", seeds)
        name = f"seed-{seed}-{study.user_attrs['stamp']}-{trial.number}"
        done = experiments.run(name, [f"seed={seed}", *overrides], targets)
        if remote:
            experiments.push([name], remote)
        kept = {"experiment": name, "metrics": done.metrics, "ran": done.ran, "restored": done.restored}
        for key, value in kept.items():
            trial.set_user_attr(key, value)
        return float(seed)

    study: Any = None  # the study, once work() has opened it

    def work() -> dict[str, dict]:
        nonlocal study
        if storage is None and name in optuna.study.get_all_study_names(store):
            finished = optuna.load_study(study_name=name, storage=store)
            if studies.counts(finished).get("complete", 0) >= len(seeds):
                optuna.delete_study(study_name=name, storage=store)  # run again: restored from the run cache
        study = studies.open_study(name, store, "minimize", config, setup)
        try:
            studies.work(study, len(seeds), objective, heartbeat)
        except experiments.ExperimentFailed as err:
            raise UserError(f"the run of a seed failed: {err} (dvc exp show lists what ran)") from None
        complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
        return {t.params["seed"]: t.user_attrs for t in sorted(complete, key=lambda t: t.params["seed"])}

    runs = studies.guarded_storage(storage, work)
    for seed, attrs in runs.items():
        ran, restored = attrs["ran"], attrs["restored"]
        print(f"seed {seed}: ran {', '.join(ran) or 'nothing'}; restored {', '.join(restored) or 'nothing'}")
    if sorted(runs) != sorted(seeds):  # a summary of some seeds would pass for one of all
        missing = " ".join(str(s) for s in seeds if s not in runs)
        raise UserError(f"seeds {missing}: not complete; {out} left as it was")
    figures = summarise({seed: attrs["metrics"] for seed, attrs in runs.items()})
    if task is not None:  # the task's own metrics file; the others are as committed, not this run's
        figures = {path: found for path, found in figures.items() if path == f"metrics/{task}.json"}
    result = {
        "seeds": seeds,
        "revisions": dict.fromkeys(figures, revision),
        "overrides": list(overrides),
        "targets": list(targets),
        "metrics": figures,
    }
    write_json(out, _merged(out, result) if task is not None else result)
    return result


def _merged(out: Path, new: dict[str, Any]) -> dict[str, Any]:
    """The summary in `out` with one task's figures (and their commit) replaced by `new`'s."""
    if not out.exists():
        return new
    old = json.loads(out.read_text())
    if (old["seeds"], old["overrides"]) != (new["seeds"], new["overrides"]):
        raise UserError(
            f"{out} holds seeds {' '.join(map(str, old['seeds']))} with overrides {old['overrides'] or 'none'}: "
            "a task's figures join it only from the same seeds and overrides"
        )
    return {
        **old,
        "revisions": {**old["revisions"], **new["revisions"]},
        "metrics": {**old["metrics"], **new["metrics"]},
    }


def main() -> None:
    from reprolab.cli import guarded

    parser = argparse.ArgumentParser(prog="python -m reprolab.experiments.seeds", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=studies.seed, nargs="+", default=list(SEEDS))
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a param for every run")
    parser.add_argument("--variant", metavar="NAME", help="a search of search.yaml: its settings and best trial")
    parser.add_argument("--task", metavar="NAME", help=f"one task's stages; its figures in {OUT} replaced")
    parser.add_argument("--out", type=Path, help=f"default: {OUT}, or reports/seeds-NAME.json for a variant")
    studies.add_arguments(parser)
    parser.add_argument("targets", nargs="*", help="stages to run (default: the whole pipeline)")
    args = parser.parse_args()
    remote = studies.remote(args)

    def work() -> None:
        targets, overrides, out = tuple(args.targets), tuple(args.set), args.out or OUT
        if args.task and (args.variant or targets):
            raise UserError("--task runs its task's stages: no --variant, no STAGE")
        if args.task:
            tasks.get(args.task)
            targets = (f"publish@{args.task}",)
        if args.variant:
            from reprolab.experiments.search import chosen

            task, found = chosen(args.variant)
            targets, overrides = targets or (f"publish@{task}",), (*found, *overrides)
            out = args.out or OUT.with_name(f"seeds-{args.variant}.json")
        run_seeds(args.seeds, targets, overrides, out, args.storage, remote, args.heartbeat, args.task)
        print(f"{out}: seeds {' '.join(map(str, args.seeds))} (dvc exp show lists their experiments)")

    guarded("seeds", work)


if __name__ == "__main__":
    main()
