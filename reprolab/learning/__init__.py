"""Learning: the models (a registry, one entry per model next to its code), the training loop,
what a trained model gives (the forward pass and its decisions), the model file, and the
train stage's one function. No evaluation code: evaluate imports none of the loop."""
