"""graphc.save: an object as JSON entries and .npy arrays in a ZIP, written atomically."""
from __future__ import annotations

import io
import json
import math
import os
import tempfile
import types
import zipfile
from collections import OrderedDict

import numpy as np

from .. import storage
from ..device import Device
from ..eager.tensor import Tensor
from ..ops.registry import Op
from ..types import DType
from .format import FORMAT, MANIFEST, MAX_DEPTH
from .safe_globals import global_name


class _Encoder:
    def __init__(self):
        self.arrays = []
        self.memo = {}      # id(obj) -> (its entry, obj): shared objects are written once
        self.next_id = 0
        self.version = 1    # 2 once an entry only version 2 has is written
        self.in_object = 0  # inside an object's state: OrderedDict and set keep their type

    def array(self, arr):
        if not isinstance(arr, np.ndarray) and hasattr(arr, "copy_to_host"):  # CUDA elements
            # (loaded on the CPU)
            arr = storage.move(arr, "cpu")
        arr = np.asarray(arr)  # (not ascontiguousarray: it turns 0-d arrays into 1-d)
        if arr.dtype.hasobject or arr.dtype.kind not in "biufc":
            raise TypeError(f"graphc.save: cannot save an array of dtype {arr.dtype}")
        name = f"arrays/{len(self.arrays)}.npy"
        self.arrays.append((name, arr))
        return name

    def shared(self, obj):
        """{"ref": N} for an object written before (its first entry gets "id": N), else
        None."""
        seen = self.memo.get(id(obj))
        if seen is None:
            return None
        entry = seen[0]
        if "id" not in entry:
            entry["id"] = self.next_id
            self.next_id += 1
        self.version = 2
        return {"ref": entry["id"]}

    def remember(self, obj, entry):
        self.memo[id(obj)] = (entry, obj)  # (obj kept alive: its id is not reused)
        return entry

    def encode(self, obj, depth=0):
        if depth > MAX_DEPTH:
            raise ValueError("graphc.save: the object is nested too deeply (or refers to itself)")
        if obj is None or isinstance(obj, (bool, str)):
            return obj
        if isinstance(obj, (int, np.integer)) and not isinstance(obj, np.bool_):
            return int(obj)
        if isinstance(obj, (float, np.floating)):
            value = float(obj)
            return value if math.isfinite(value) else {"float": str(value)}
        if isinstance(obj, np.bool_):
            return bool(obj)
        if isinstance(obj, Tensor):
            return self.shared(obj) or self.tensor(obj)
        if isinstance(obj, np.ndarray):
            return {"ndarray": self.array(obj)}
        if isinstance(obj, (dict, list, tuple)) and type(obj) not in (
                dict, OrderedDict, list, tuple):
            self.plain_container(obj)
        if isinstance(obj, dict):
            ref = self.shared(obj)
            if ref is not None:
                return ref
            tag = "odict" if type(obj) is OrderedDict and self.in_object else "dict"
            entry = self.remember(obj, {tag: None})
            entry[tag] = [[self.encode(k, depth + 1), self.encode(v, depth + 1)]
                          for k, v in obj.items()]
            self.version = max(self.version, 2 if tag == "odict" else 1)
            return entry
        if isinstance(obj, tuple):
            return {"tuple": [self.encode(x, depth + 1) for x in obj]}
        if isinstance(obj, list):
            return [self.encode(x, depth + 1) for x in obj]
        return self.encode_v2(obj, depth)

    def plain_container(self, obj):
        """A dict, list or tuple subclass (a namedtuple, a defaultdict) is written as the
        plain container, as graphc.save always did; inside a saved object, where its type
        matters to the object's code, it is refused instead."""
        if self.in_object:
            raise TypeError(f"graphc.save: cannot save an attribute of type "
                            f"{type(obj).__name__} inside an object (only plain dicts, "
                            f"OrderedDicts, lists and tuples keep their type)")

    def tensor(self, t):
        kind = type(t).__name__
        if kind == "UninitializedParameter":  # a lazy module's, before its first call
            self.version = 2
            return self.remember(t, {"uninitialized_parameter": t.dtype.name,
                                     "requires_grad": bool(t.requires_grad)})
        if type(t) is not Tensor and kind != "Parameter":
            raise TypeError(f"graphc.save: cannot save a {kind} (only tensors and "
                            f"parameters)")
        tag = "parameter" if kind == "Parameter" else "tensor"
        entry = {tag: self.array(t._data), "requires_grad": bool(
            t.requires_grad and (t.grad_fn is None or tag == "parameter"))}
        if t._persistent and self.in_object:
            entry["persistent"] = True
        if tag == "parameter":
            self.version = 2
        return self.remember(t, entry)

    def encode_v2(self, obj, depth):
        """The entries of whole-module files (module docstring)."""
        self.version = 2
        if isinstance(obj, DType):
            return {"dtype": obj.name}
        if isinstance(obj, Device):
            return {"device": str(obj)}
        if isinstance(obj, Op):
            return {"op": obj.name}
        if type(obj) in (set, frozenset):
            items = sorted(obj, key=repr)  # (a stable file for equal sets)
            return {type(obj).__name__: [self.encode(x, depth + 1) for x in items]}
        if isinstance(obj, (type, types.FunctionType, types.BuiltinFunctionType)):
            name = global_name(obj)
            if name is None:
                raise TypeError(f"graphc.save: cannot save {obj!r}: only classes and functions "
                                f"importable by their name can be saved (not lambdas or local "
                                f"functions)")
            return {"global": name}
        return self.shared(obj) or self.instance(obj, depth)

    def instance(self, obj, depth):
        cls = type(obj)
        name = global_name(cls)
        owned = cls.__module__.startswith("graphc")
        if name is None or not hasattr(obj, "__dict__") or (
                owned and not getattr(cls, "_graphc_loadable", False)):
            raise TypeError(f"graphc.save: cannot save an object of type {cls.__name__} "
                            f"(supported: tensors, arrays, numbers, strings, None, lists, "
                            f"tuples and dicts of them, modules, and instances of classes "
                            f"importable by name; save an optimizer's state_dict())")
        save_state = getattr(obj, "_save_state", None)
        if save_state is None:
            for method in ("__reduce__", "__reduce_ex__", "__getstate__", "__setstate__"):
                if getattr(cls, method, None) is not getattr(object, method, None):
                    raise TypeError(f"graphc.save: {cls.__name__} defines {method}: its "
                                    f"state cannot be saved safely without running it; give "
                                    f"it _save_state()/_load_state(state) (a dict of "
                                    f"attributes) instead")
            state = dict(obj.__dict__)
        else:
            state = save_state()
        entry = self.remember(obj, {"object": name, "state": None})
        self.in_object += 1
        try:
            entry["state"] = self.encode(dict(state), depth + 1)
        finally:
            self.in_object -= 1
        return entry


def save(obj, f):
    """Save tensors, arrays, numbers, strings and nested dicts/lists/tuples of them (a
    model's or optimizer's state_dict) to a path or a binary file object."""
    encoder = _Encoder()
    root = encoder.encode(obj)
    manifest = {"format": FORMAT, "version": encoder.version, "root": root}
    if isinstance(f, (str, os.PathLike)):
        path = os.fspath(f)
        directory = os.path.dirname(os.path.abspath(path))
        fd, tmp = tempfile.mkstemp(prefix=".graphc-save-", suffix=".tmp", dir=directory)
        try:
            with os.fdopen(fd, "wb") as out:
                _write_zip(out, manifest, encoder.arrays)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
    else:
        _write_zip(f, manifest, encoder.arrays)


def _write_zip(stream, manifest, arrays):
    with zipfile.ZipFile(stream, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr(MANIFEST, json.dumps(manifest, allow_nan=False))
        for name, arr in arrays:
            buf = io.BytesIO()
            np.lib.format.write_array(buf, arr, allow_pickle=False)
            zf.writestr(name, buf.getvalue())
