"""Benchmarks (`make bench`): intake, pipeline overhead and local transcription, each printing
its figures and its ratio to a baseline measured in the same run. See bench/run.py."""
