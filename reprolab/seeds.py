"""The pipeline over several training seeds: how much of a result is the seed's.

    python -m reprolab.seeds [STAGE...] [--seeds 1 2 3] [--jobs J] [--set KEY=VALUE...] [--out FILE]
    python -m reprolab.seeds --variant NAME [--seeds ...] [--jobs J]
    (make seeds: the whole pipeline, default params, into reports/seeds.json;
     make seeds VARIANT=mnist-mlp: a variant of search.yaml into reports/seeds-mnist-mlp.json)

Queues one `dvc exp run -S seed=N` per seed (the whole pipeline; the committed seed's
stages are up to date and skipped, and a stage whose code, data, params and seed already ran,
here or in a clone whose run cache was pulled, is restored from DVC's run cache: a repeat
trains nothing), runs them, says per seed which stages ran and which were restored, and
writes reports/seeds.json: for every headline metric, its
value under each seed, the mean and the standard deviation (sample, ddof 1), and the commit
they ran on; not the experiments' names, which hold the time of the run (`dvc exp show`
lists them). The README's results table shows mean ± std from it, and the pull-request
gate takes that spread as the noise a change must exceed to count as a regression.

A variant (a search of search.yaml that names its task and fixes some params, e.g. mnist's
`mlp`) runs its task's evaluate stage with its fixed params and its search's best trial.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

from reprolab import experiments
from reprolab.files import UserError, write_json

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
            values = [flat[seed].get(path, {}).get(key) for seed in sorted(flat)]
            if any(v is None for v in values):
                continue
            std = statistics.stdev(values) if len(values) > 1 else 0.0
            summary.setdefault(path, {})[key] = {"values": values, "mean": statistics.fmean(values), "std": std}
    return summary


def run_seeds(
    seeds: list[int], jobs: int = 1, targets: tuple[str, ...] = (), overrides: tuple[str, ...] = (), out: Path = OUT
) -> dict[str, Any]:
    """Run the pipeline (or the stages `targets` and what they need) once per seed, with
    params.yaml as it is plus `overrides` (KEY=VALUE, as `dvc exp run -S` takes them)."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    names = {seed: f"seed-{seed}-{stamp}" for seed in seeds}
    found = experiments.run({name: [f"seed={seed}", *overrides] for seed, name in names.items()}, targets, jobs)
    failed = [str(seed) for seed, name in names.items() if found[name] is None]
    if failed:
        raise UserError(f"the run of seed(s) {', '.join(failed)} failed (dvc queue logs NAME says why)")
    for seed, name in names.items():
        ran, restored = experiments.stages(name)
        print(f"seed {seed}: ran {', '.join(ran) or 'nothing'}; restored {', '.join(restored) or 'nothing'}")
    revision = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    result = {
        "seeds": seeds,
        "revision": revision,
        "overrides": list(overrides),
        "targets": list(targets),
        "metrics": summarise({seed: found[name] for seed, name in names.items()}),
    }
    write_json(out, result)
    return result


def main() -> None:
    from reprolab.cli import guarded

    parser = argparse.ArgumentParser(prog="python -m reprolab.seeds", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    parser.add_argument("--jobs", type=int, default=1, help="experiments at a time (default 1)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a param for every run")
    parser.add_argument("--variant", metavar="NAME", help="a search of search.yaml: its settings and best trial")
    parser.add_argument("--out", type=Path, help=f"default: {OUT}, or reports/seeds-NAME.json for a variant")
    parser.add_argument("targets", nargs="*", help="stages to run (default: the whole pipeline)")
    args = parser.parse_args()

    def work() -> None:
        targets, overrides, out = tuple(args.targets), tuple(args.set), args.out or OUT
        if args.variant:
            from reprolab.search import chosen

            task, found = chosen(args.variant)
            targets, overrides = targets or (f"publish@{task}",), (*found, *overrides)
            out = args.out or OUT.with_name(f"seeds-{args.variant}.json")
        run_seeds(args.seeds, args.jobs, targets, overrides, out)
        print(f"{out}: seeds {' '.join(map(str, args.seeds))} (dvc exp show lists their experiments)")

    guarded("seeds", work)


if __name__ == "__main__":
    main()
