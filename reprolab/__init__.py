"""reprolab: the library behind the DVC pipeline in dvc.yaml (see README.md)."""
