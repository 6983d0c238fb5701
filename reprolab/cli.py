"""What every stage entry point shares: arguments, params check, one-line errors, and the
log of where and how long each stage ran (logs/runs.jsonl: for people, never for a record)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sqlite3
import sys
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from reprolab.core import kernels
from reprolab.core import params as params_module
from reprolab.core.errors import UserError
from reprolab.core.files import os_error, unwritten
from reprolab.core.params import Params
from reprolab.data import tasks
from reprolab.data.tasks.base import Task

RUNS_LOG = Path("logs/runs.jsonl")  # git-ignored, not a DVC output: wall times, machine, mirror


def _terminate(signum: int, frame) -> None:
    raise KeyboardInterrupt  # so that SIGTERM, as Ctrl-C, unwinds and removes temporary files


def guarded(where: str, work: Callable[[], None]) -> None:
    """Run `work`; a UserError, or an error of the operating system (no space, a file-size
    limit, a read-only folder), ends the process with one line on stderr and exit status 1,
    an interrupt (SIGINT, SIGTERM) with one line and 130, leaving no temporary file behind."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s")
    signal.signal(signal.SIGTERM, _terminate)
    try:
        work()
    except UserError as err:  # a KernelError among them
        print(f"error: {where}: {err}", file=sys.stderr)
        sys.exit(1)
    except OSError as err:
        print(f"error: {where}: {os_error(err)}", file=sys.stderr)
        sys.exit(1)
    except sqlite3.Error as err:  # a study's database (a search, seeds) on a full disk or under a size limit
        print(f"error: {where}: a database could not be used ({err}; {unwritten(Path.cwd(), err)})", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print(f"error: {where}: interrupted", file=sys.stderr)
        sys.exit(130)


def logged(stage: str, work: Callable[[], None]) -> Callable[[], None]:
    """`work`, appending one line to RUNS_LOG when it succeeds: the stage, its wall time and
    the volatile facts of the machine that ran it (the mirror location among them)."""

    def timed() -> None:
        started = time.perf_counter()
        work()
        entry = {
            "stage": stage,
            "finished": datetime.now(UTC).isoformat(timespec="seconds"),
            "seconds": round(time.perf_counter() - started, 1),
            "machine": kernels.machine(),
            "mirror": os.environ.get("REPROLAB_MIRROR"),
        }
        RUNS_LOG.parent.mkdir(exist_ok=True)
        with RUNS_LOG.open("a") as log:
            log.write(json.dumps(entry) + "\n")

    return timed


def run(stage: Callable[[Task, Params], None], models: Mapping[str, Any] | None = None) -> None:
    """Entry point of a per-task stage: `python -m stages.NAME TASK`. models: the model
    registry's entries, for a stage that uses the task's model (its block is checked
    against them)."""
    name = stage.__name__  # each stage function is named after its stage
    parser = argparse.ArgumentParser(prog=f"python -m stages.{name}", description=stage.__doc__)
    parser.add_argument("task", help="a task of params.yaml")
    args = parser.parse_args()

    def work() -> None:
        task = tasks.get(args.task)
        checked = params_module.load({task.name: task}, models=models)
        if "torch" in sys.modules:  # a stage that computes with torch: its kernels and threads
            kernels.check()
            kernels.use_threads(checked.train_for(task.name).threads)
        stage(task, checked)

    guarded(f"{name}@{args.task}", logged(f"{name}@{args.task}", work))
