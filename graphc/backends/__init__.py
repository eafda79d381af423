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
        raise ValueError(f"unknown compile target {name!r}; targets: "
                         f"{', '.join(target_names())}") from None


BUILTIN_TARGETS = ("reference", "cpu", "cuda")


def target_names():
    """Every target graphc knows (built-in ones whether or not loaded yet, then registered)."""
    return list(BUILTIN_TARGETS) + sorted(set(_TARGETS) - set(BUILTIN_TARGETS))


def _load_builtin(name):
    if name == "reference":
        from . import reference  # noqa: F401
    elif name == "cuda":
        from . import cuda  # noqa: F401
    elif name == "cpu":
        from . import cpu  # noqa: F401


# where each built-in target's rule table lives (graphc/ops/rules.py): module, attribute
_RULE_TABLES = {"reference": ("graphc.backends.reference", "REFERENCE"),
                "cpu": ("graphc.lower.rules", "CPU"),
                "cuda": ("graphc.storage.cuda_ops", "CUDA")}


def rules_of(name):
    """The TargetRules of target `name` (which op runs how), or None if its module cannot
    load here (the cuda table needs the numba-cuda package)."""
    import importlib
    module, attr = _RULE_TABLES[name]
    try:
        return getattr(importlib.import_module(module), attr)
    except ImportError:
        return None


def unavailable_reason(name):
    """None when target `name` loads and can run here, else why not (one line)."""
    try:
        get_target(name)
    except Exception as e:  # a missing optional dependency must not stop the caller
        return str(e).splitlines()[0] if str(e) else type(e).__name__
    if name == "cuda":
        from ..cuda import is_available
        if not is_available():
            return "no usable CUDA GPU or driver"
    return None


def default_target():
    """The best target that runs here, the default of graphc.compile, graphc.jit and the
    command line: "cpu" when the Numba CPU target loads, else "reference"."""
    return "cpu" if unavailable_reason("cpu") is None else "reference"
