"""Experiments: DVC experiments run and read back (runs), searches and seed runs over them,
and the studies that workers on many machines share through a database."""
