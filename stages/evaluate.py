"""Evaluate the saved model on every split: headline metrics, details, plot data, figures,
predictions, the model card (reprolab/evaluation/evaluate.py)."""

from reprolab.cli import run
from reprolab.evaluation.evaluate import evaluate
from reprolab.learning import models

if __name__ == "__main__":
    run(evaluate, models=models.entries())
