"""The data, from the source to the tensors a model reads: downloads and checksums (sources),
splits into train, validation and test (splitting), the tasks (one module each, in tasks/) and
their features (one module per modality, in features/), fit on the training split only."""
