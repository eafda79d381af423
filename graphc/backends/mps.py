"""torch.backends.mps: Apple's Metal backend, which graphc does not have."""
from __future__ import annotations


def is_available():
    return False


def is_built():
    return False
