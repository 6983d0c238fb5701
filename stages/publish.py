"""Copy a task's small results out of DVC's cache to where git keeps them
(reprolab/evaluation/publish.py)."""

from reprolab.cli import run
from reprolab.evaluation.publish import publish

if __name__ == "__main__":
    run(publish)
