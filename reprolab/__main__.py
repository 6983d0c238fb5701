"""`python -m reprolab` (or `reprolab`, once installed): what a user does with a trained model."""

from __future__ import annotations

import argparse
from pathlib import Path

from reprolab import paths, prediction
from reprolab.cli import guarded
from reprolab.tasks import NAMES


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="reprolab", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    predict = commands.add_parser(
        "predict",
        help="apply models/TASK.pt to new inputs; CSV on stdout",
        description=prediction.__doc__.split("\n\n", 2)[2],
    )
    predict.add_argument("task", choices=NAMES)
    predict.add_argument("inputs", nargs="+", type=Path, help="files (or folders of images)")
    predict.add_argument("--output", "-o", type=Path, help="write the CSV here instead of stdout")
    predict.add_argument("--model", type=Path, help="the model file (default: models/TASK.pt)")
    args = parser.parse_args(argv)
    model = args.model or paths.model(args.task)
    guarded("predict", lambda: prediction.run(args.task, args.inputs, args.output, model))


if __name__ == "__main__":
    main()
