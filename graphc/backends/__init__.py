"""Compile targets. Each target is a factory `(program_spec) -> runner` registered by name."""
from __future__ import annotations

_TARGETS = {}


def register_target(name, factory):
    _TARGETS[name] = factory


def get_target(name):
    if name not in _TARGETS:
        _load_builtin(name)
    try:
        return _TARGETS[name]
    except KeyError:
        raise ValueError(f"unknown compile target {name!r}; available: "
                         f"{', '.join(sorted(set(_TARGETS) | {'reference'}))}") from None


def _load_builtin(name):
    if name == "reference":
        from . import reference  # noqa: F401
    elif name == "cuda":
        from . import cuda  # noqa: F401
    elif name == "cpu":
        from . import cpu  # noqa: F401


def default_target():
    """"cpu" when the Numba CPU target loads, else "reference"."""
    try:
        get_target("cpu")
        return "cpu"
    except (ValueError, ImportError):
        return "reference"
