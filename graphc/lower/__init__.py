"""Code generation: graphs (after the passes) to Python source for Numba.

The names are imported on first use: a program loaded whole from the cache needs only
`Options` (graphc/backends/program_cache.py), not the code generator.
"""
from .options import Options

_LAZY = {"GeneratedProgram": "steps", "lower_program": "program"}


def __getattr__(name):
    if name in _LAZY:
        import importlib
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["GeneratedProgram", "Options", "lower_program"]
