"""Names of tests/parity/torch_names.py that do not match PyTorch yet, with why.
Keep in step with docs/torch_parity.md; a test fails when a listed gap gets fixed."""

KNOWN_EAGER_GAPS = {}

KNOWN_JIT_GAPS = {}
