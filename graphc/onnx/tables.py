"""The two op tables, complete: importing this module imports every module that registers
an exporter or a converter (they import export_ops / import_ops for the decorators, never the
other way round: no import cycle)."""
from . import export_shapes  # noqa: F401  (shape and nn exporters)
from . import (import_attention, import_extra, import_nn, import_reduce,  # noqa: F401
               import_resize, import_shapes)
from .export_ops import EXPORTERS
from .import_ops import CONVERTERS

__all__ = ["EXPORTERS", "CONVERTERS"]
