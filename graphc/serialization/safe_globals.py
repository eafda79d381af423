"""Which classes and functions graphc.load may rebuild from a file: PyTorch's
`torch.serialization.add_safe_globals` / `safe_globals`, with graphc's own rule set.

A saved object names its class (and a saved function or class names itself) as
"module:qualname". Loading never imports a module named by a file (no code of the file's
choosing runs) and never unpickles: it looks the name up and accepts it only if it is

1. one of graphc's own loadable classes (every `graphc.nn.Module` subclass of graphc, and the
   few helper classes marked `_graphc_loadable`, such as weight_norm's hook), an op, or a
   function of graphc's math namespaces (what layers store as an `activation`);
2. allow-listed by the user: `add_safe_globals([Net, swish])` or, for one load,
   `with safe_globals([Net]): graphc.load(...)`;
3. with `weights_only=False` (the user trusts the file, as in PyTorch): a `Module` subclass
   found in a module that is already imported, or a plain function of such a module (one that
   defines a Module subclass, or `__main__`).

Anything else is an UnsafeGlobalError that names it and says how to allow it.
"""
from __future__ import annotations

import pickle
import sys
import types

from ..errors import GraphFormatError

_safe_globals: dict = {}  # "module:qualname" -> object


class UnsafeGlobalError(GraphFormatError, pickle.UnpicklingError):
    """A file names a class or function that loading is not allowed to rebuild (PyTorch raises
    pickle.UnpicklingError for the same case; this is both)."""


def global_name(obj):
    """"module:qualname" of a class or function importable by that name, else None."""
    module, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    if not isinstance(module, str) or not isinstance(qualname, str) or "<" in qualname:
        return None
    found = lookup(f"{module}:{qualname}")
    return f"{module}:{qualname}" if found is obj else None


def lookup(name):
    """The object "module:qualname" names in an already imported module (never imports one
    outside graphc), or None."""
    if not isinstance(name, str) or name.count(":") != 1:
        return None
    module_name, qualname = name.split(":")
    module = sys.modules.get(module_name)
    if module is None and (module_name == "graphc" or module_name.startswith("graphc.")):
        import importlib
        try:
            module = importlib.import_module(module_name)  # graphc's own code only
        except ImportError:
            return None
    obj = module
    for part in qualname.split("."):
        if obj is None or part.startswith("__"):
            return None
        obj = getattr(obj, part, None)
    return obj


def _dotted(name):
    """A PyTorch-style "module.Class" name given to add_safe_globals as "module:Class"."""
    if ":" in name:
        return name
    module, _, qualname = name.rpartition(".")
    return f"{module}:{qualname}"


def add_safe_globals(safe_globals):
    """Allow graphc.load to rebuild these classes / call these functions by name. Items are
    objects or (object, "module.Name") pairs (a class saved under another name)."""
    for item in safe_globals:
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], str):
            obj, name = item[0], _dotted(item[1])
        else:
            obj, name = item, global_name(item)
            if name is None:
                raise TypeError(f"add_safe_globals: {item!r} is not a class or function "
                                f"importable by its name")
        _safe_globals[name] = obj


def get_safe_globals():
    return [obj if global_name(obj) == name else (obj, name.replace(":", "."))
            for name, obj in _safe_globals.items()]


def clear_safe_globals():
    _safe_globals.clear()


class safe_globals:
    """Context manager: add_safe_globals(items) for the duration of the block."""

    def __init__(self, safe_globals):
        self.items = list(safe_globals)

    def __enter__(self):
        self.saved = dict(_safe_globals)
        add_safe_globals(self.items)
        return self

    def __exit__(self, *exc):
        _safe_globals.clear()
        _safe_globals.update(self.saved)


_MATH_NAMESPACES = ("graphc", "graphc.nn.functional", "graphc.special", "graphc.linalg")


def _graphc_owned(obj, name):
    from ..ops.registry import Op
    if not (name.startswith("graphc.") or name.startswith("graphc:")):
        return False
    if isinstance(obj, type):
        return bool(getattr(obj, "_graphc_loadable", False))
    if isinstance(obj, Op):
        return True
    if not callable(obj):
        return False
    short = name.split(":")[1]
    return any(getattr(sys.modules.get(ns), short, None) is obj for ns in _MATH_NAMESPACES) \
        and short not in ("save", "load", "save_graph", "load_graph", "compile", "jit")


def _defines_modules(module_name):
    module = sys.modules.get(module_name)
    if module is None:
        return False
    return module_name == "__main__" or any(
        isinstance(v, type) and getattr(v, "_graphc_loadable", False)
        and v.__module__ == module_name for v in vars(module).values())


def resolve(name, weights_only, where, kind="class"):
    """The class or function `name` stands for, if loading may use it (module docstring)."""
    if not isinstance(name, str) or name.count(":") != 1:
        raise GraphFormatError(f"graphc.load: {where}: malformed global name {str(name)[:80]!r}")
    if name in _safe_globals:
        return _safe_globals[name]
    obj = lookup(name)
    if obj is not None and _graphc_owned(obj, name):
        return obj
    short = name.split(":")[1].split(".")[-1]
    if obj is not None and not weights_only:
        if isinstance(obj, type) and getattr(obj, "_graphc_loadable", False):
            return obj  # a Module subclass of an imported module
        if isinstance(obj, types.FunctionType) and _defines_modules(name.split(":")[0]):
            return obj
    if obj is None:
        hint = ("the module is not imported: import it (or define the class) before loading"
                if name.split(":")[0] not in sys.modules else "it does not exist there")
        raise UnsafeGlobalError(f"graphc.load: {where}: the file needs {kind} "
                                f"{name.replace(':', '.')}, which cannot be found ({hint}); "
                                f"graphc.load never imports modules named by a file")
    why = "" if weights_only else (" (weights_only=False admits only Module subclasses and "
                                   "functions of the modules that define them)")
    raise UnsafeGlobalError(
        f"graphc.load: {where}: Weights only load failed: unsupported global "
        f"{name.replace(':', '.')} is not an allowed global by default{why}. Please use "
        f"`graphc.serialization.add_safe_globals([{short}])` or the "
        f"`graphc.serialization.safe_globals([{short}])` context manager to allowlist this "
        f"global if you trust this class/function"
        + (", or graphc.load(..., weights_only=False) to trust the file's Module classes."
           if weights_only else "."))
