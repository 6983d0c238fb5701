"""One thin entry point per DVC stage (see dvc.yaml): parse, load params, call the library."""
