"""Leaf ops: placeholders (fed per call), constants and variables (persistent state)."""
from __future__ import annotations

import numpy as np

from ..types import TensorType
from .registry import Op


def _no_reference(**attrs):
    raise RuntimeError("a placeholder has no value of its own: it is fed when the graph runs")


placeholder = Op("placeholder", num_inputs=0,
                 infer=lambda in_types, name, type: [type], reference=_no_reference,
                 defaults={"name": None, "type": None}, family="leaf",
                 doc="A graph input, fed by position or name at each call.")

constant = Op("constant", num_inputs=0,
              infer=lambda in_types, value: [TensorType(value.shape, value.dtype)],
              reference=lambda value: value, defaults={"value": None}, family="leaf",
              doc="A value fixed when the graph is built.")

variable = Op("variable", num_inputs=0,
              infer=lambda in_types, name, storage: [TensorType(storage.shape, storage.dtype)],
              reference=lambda name, storage: np.asarray(storage),
              defaults={"name": None, "storage": None}, family="leaf",
              doc="Persistent state (a parameter, an optimizer moment), bound to a tensor's "
                  "storage; compiled steps read it and may update it in place.")
