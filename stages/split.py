"""Split a task's rows into train, validation and (unless the task brings its own) test
(reprolab/data/splitting.py)."""

from reprolab.cli import run
from reprolab.data.splitting import split

if __name__ == "__main__":
    run(split)
