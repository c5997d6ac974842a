"""Use cases: one class each, ports in __init__, one async __call__."""
