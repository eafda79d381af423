"""graphc benchmark suite: `python -m benchmarks.run --help` (also `graphc bench`)."""
