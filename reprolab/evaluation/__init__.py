"""Evaluation: the headline and detailed metrics, the figures, the predictions table, the
model card, and the evaluate stage's one function. No training code."""
