"""Deterministic call analysis from keywords and patterns."""
