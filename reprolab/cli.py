"""What every stage entry point shares: arguments, params check, one-line errors."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from collections.abc import Callable

from reprolab import params as params_module
from reprolab import tasks
from reprolab.files import UserError
from reprolab.params import Params
from reprolab.tasks.base import Task


def _terminate(signum: int, frame) -> None:
    raise KeyboardInterrupt  # so that SIGTERM, as Ctrl-C, unwinds and removes temporary files


def guarded(where: str, work: Callable[[], None]) -> None:
    """Run `work`; a UserError ends the process with one line on stderr and exit status 1, an
    interrupt (SIGINT, SIGTERM) with one line and 130, leaving no temporary file behind."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s")
    signal.signal(signal.SIGTERM, _terminate)
    try:
        work()
    except UserError as err:
        print(f"error: {where}: {err}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print(f"error: {where}: interrupted", file=sys.stderr)
        sys.exit(130)


def run(stage: Callable[[Task, Params], None]) -> None:
    """Entry point of a per-task stage: `python -m stages.NAME TASK`."""
    name = stage.__name__  # each stage function is named after its stage
    parser = argparse.ArgumentParser(prog=f"python -m stages.{name}", description=stage.__doc__)
    parser.add_argument("task", help=f"one of: {', '.join(tasks.NAMES)}")
    args = parser.parse_args()

    def work() -> None:
        task = tasks.get(args.task)
        stage(task, params_module.load({task.name: task}))

    guarded(f"{name}@{args.task}", work)
