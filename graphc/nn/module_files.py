"""What graphc.save / graphc.load and copy.deepcopy do with a whole module (Module inherits
ModuleFiles): the attributes a file holds, their checks when loaded, and a deep copy with
its own storage."""
from __future__ import annotations

import copy
from collections import OrderedDict

from ..eager.tensor import Tensor
from ..errors import GraphFormatError
from .module_hooks import RemovableHandle
from .parameter import Parameter


class ModuleFiles:
    """The file and copy methods of Module (every ModuleFiles is a Module)."""

    # ---- whole-module files (graphc.save(model), graphc.load) ------------------------------
    _TRANSIENT = ("_pending_updates", "_symbolic", "_scope", "_state_named")

    def _save_state(self):
        """The attributes graphc.save writes: all but the records of symbolic forwards."""
        return {k: v for k, v in self.__dict__.items() if k not in ModuleFiles._TRANSIENT}

    def _load_state(self, state):
        """graphc.load's counterpart of _save_state (the instance was made without
        __init__, as pickle makes them)."""
        for table in ("_parameters", "_buffers", "_modules", "_pending_updates"):
            object.__setattr__(self, table, OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "training", True)
        self.__dict__.update(state)
        object.__setattr__(self, "_pending_updates", OrderedDict())
        for table, kind in (("_parameters", Parameter), ("_buffers", Tensor),
                            ("_modules", ModuleFiles)):
            values = self.__dict__[table]
            if not isinstance(values, OrderedDict) or not all(
                    isinstance(k, str) and (v is None or isinstance(v, kind))
                    for k, v in values.items()):
                raise GraphFormatError(f"graphc.load: a saved {type(self).__name__}'s {table} "
                                       f"does not hold {kind.__name__}s by name (damaged file)")
        d = self.__dict__

        def damaged(what):
            raise GraphFormatError(f"graphc.load: a saved {type(self).__name__}'s {what} "
                                   f"(damaged file)")
        if type(d["training"]) is not bool:
            damaged("training flag is not a bool")
        if not isinstance(d["_non_persistent"], set):
            damaged("_non_persistent is not a set")
        hooks = d.get("_hooks", {})
        if not isinstance(hooks, dict) or not all(
                isinstance(t, OrderedDict) and all(type(k) is int and isinstance(h, tuple)
                                                   and len(h) in (2, 3) and callable(h[0])
                                                   for k, h in t.items())
                for t in hooks.values()):
            damaged("hook tables are malformed")
        for table in hooks.values():
            if table:  # new handles must not reuse the saved hooks' ids
                RemovableHandle._next_id = max(RemovableHandle._next_id, max(table) + 1)

    def __deepcopy__(self, memo):
        """A copy with its own parameter and buffer storage (symbolic records are not
        copied: they belong to graphs built from the original)."""
        new = type(self).__new__(type(self))
        memo[id(self)] = new
        for key, value in self.__dict__.items():
            value = OrderedDict() if key == "_pending_updates" else copy.deepcopy(value, memo)
            object.__setattr__(new, key, value)
        return new
