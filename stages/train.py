"""Train a task's model; log per-epoch curves with DVCLive; save the model file
(reprolab/learning/train.py)."""

from reprolab.cli import run
from reprolab.learning import models
from reprolab.learning.train import train

if __name__ == "__main__":
    run(train, models=models.entries())
