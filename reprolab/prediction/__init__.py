"""Prediction: a model file applied to inputs in the form a user holds them (table lines,
image files, headlines), as `python -m reprolab predict` does."""
