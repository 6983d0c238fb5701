"""Send this repository's runs to its DVC remote, so that a teammate's clone restores them:
the workspace's outputs, every run-cache entry, and the outputs those entries restore.

    python -m reprolab.experiments.sharing [-r REMOTE]    (make push)

A teammate then runs `dvc pull --run-cache`, and `dvc repro --pull` restores any
configuration run here (a seed, a search trial, a sweep's point) instead of training it.

`dvc push --run-cache` alone is not enough in DVC 3: it sends the entries (the files under
runs/), not the outputs of a run that the pushed commit does not hold, so the teammate's DVC
finds the entry, misses its objects and trains again; `dvc exp push` did not send them
either, here. This collects each entry's outputs as DVC itself does
(StageCache.get_used_objs) and pushes them beside the entries.
"""

from __future__ import annotations

import argparse

from dvc.exceptions import DvcException
from dvc.repo import Repo

from reprolab.cli import guarded
from reprolab.core.errors import UserError


def push(remote: str | None = None) -> dict[str, int]:
    """Push; how many files of the workspace's outputs, run-cache entries and objects of the
    runs were sent, and how many of the runs' objects this cache no longer holds."""
    try:
        with Repo() as repo:
            outputs = repo.push(remote=remote)
            entries = repo.stage_cache.push(remote)
            sent = missing = 0
            for objects in repo.stage_cache.get_used_objs(entries, remote=remote).values():
                result = repo.cloud.push(objects, remote=remote)
                sent, missing = sent + len(result.transferred), missing + len(result.failed)
    except DvcException as err:
        raise UserError(str(err)) from err
    return {"outputs": outputs, "entries": len(entries), "objects": sent, "missing": missing}


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m reprolab.experiments.sharing", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("-r", "--remote", help="a DVC remote's name (default: the default remote)")
    args = parser.parse_args()

    def work() -> None:
        counts = push(args.remote)
        print(
            f"{counts['outputs']} files of the workspace's outputs, {counts['entries']} run-cache entries "
            f"and {counts['objects']} objects of their runs pushed"
            + (f"; {counts['missing']} objects of older runs are no longer in this cache" if counts["missing"] else "")
        )

    guarded("push", work)


if __name__ == "__main__":
    main()
