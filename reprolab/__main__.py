"""`python -m reprolab` (or `reprolab`, once installed): what a user does with a trained model."""

from __future__ import annotations

import argparse
from pathlib import Path

from reprolab.core import kernels

kernels.pin_configured("predict")  # the pin the stages take, so that predict computes what evaluate computed

from reprolab.cli import guarded  # noqa: E402
from reprolab.core import params, paths  # noqa: E402 (after the pin: they load torch)
from reprolab.data import tasks  # noqa: E402
from reprolab.prediction import apply as prediction  # noqa: E402


def _predict(task: str, inputs: list[Path], output: Path | None, model: Path) -> None:
    if Path(params.PARAMS_FILE).exists():  # in the repository: evaluate's threads, evaluate's bits
        kernels.check()
        kernels.use_threads(params.load({task: tasks.get(task)}).train_for(task).threads)
    prediction.run(task, inputs, output, model)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="reprolab", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    predict = commands.add_parser(
        "predict",
        help="apply models/TASK.pt to new inputs; CSV on stdout",
        description=prediction.__doc__.split("\n\n", 2)[2],
    )
    predict.add_argument("task", help="a task of params.yaml (its model file is models/TASK.pt)")
    predict.add_argument("inputs", nargs="+", type=Path, help="files (or folders of images)")
    predict.add_argument("--output", "-o", type=Path, help="write the CSV here instead of stdout")
    predict.add_argument("--model", type=Path, help="the model file (default: models/TASK.pt)")
    args = parser.parse_args(argv)
    model = args.model or paths.model(args.task)
    guarded("predict", lambda: _predict(args.task, args.inputs, args.output, model))


if __name__ == "__main__":
    main()
