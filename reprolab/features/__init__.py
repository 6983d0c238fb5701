"""Feature transforms, each fit on the training split only."""
