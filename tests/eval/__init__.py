"""The labelled evaluation set and its runner: `python -m tests.eval` (`make eval`)."""
