"""Tools for testing graphc and programs built on it (random-graph fuzzing)."""
