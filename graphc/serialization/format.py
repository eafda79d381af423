"""The names of graphc.save's format (described in serialization/__init__.py)."""
from __future__ import annotations

from ..eager.tensor import Tensor

# Tensor classes by entry tag: graphc.nn adds "parameter" (the core does not import nn).
TENSOR_CLASSES = {"tensor": Tensor}

FORMAT, VERSION = "graphc.save", 2  # (1: no objects; still written when a file has none)
MANIFEST = "manifest.json"
MAX_DEPTH = 100
