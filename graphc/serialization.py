"""graphc.save / graphc.load: tensors and state dicts in a safe, documented format.

The file is a ZIP archive (stored, uncompressed) holding:

- `manifest.json`: {"format": "graphc.save", "version": 1, "root": ENCODED}, where ENCODED
  is the saved object with every value written as JSON:
    null / true / false / a number / a string      -> itself
    a list                                          -> a JSON list of encoded items
    {"tuple": [...]}                                -> a tuple
    {"dict": [[key, value], ...]}                   -> a dict (keys: str, int, float, bool,
                                                        None, tuple, encoded like values)
    {"tensor": "arrays/N.npy", "requires_grad": b}  -> a graphc.Tensor
    {"ndarray": "arrays/N.npy"}                     -> a numpy.ndarray
    {"float": "nan" | "inf" | "-inf"}               -> a non-finite float
- `arrays/N.npy`: one array each in NumPy's .npy format (numeric and bool dtypes only).

Whole modules (`graphc.save(model, path)`, PyTorch's `torch.save(model)`) need a few more
entries; a file that holds any of them is version 2:
    {"parameter": "arrays/N.npy", "requires_grad": b}  -> a graphc.nn.Parameter
    {"uninitialized_parameter": "float32", "requires_grad": b}
                                     -> a lazy module's UninitializedParameter (no elements
                                        yet: its dtype only), so a saved lazy module loads
                                        still lazy, as PyTorch's
    tensors may also carry "persistent": true (a module's buffer, a graph variable)
    {"object": "module:QualName", "state": {"dict": ...}}
                                     -> an instance rebuilt without calling its __init__ (as
                                        pickle does): object.__new__(cls), then
                                        cls._load_state(state) if it defines one, else its
                                        __dict__ updated; saved from obj._save_state() or
                                        its __dict__ (Module drops its symbolic records)
    {"global": "module:QualName"}                   -> a class or function, by name
    {"op": "relu"}                                  -> a graphc op (an `activation=`)
    {"dtype": "float32"}, {"device": "cpu"}          -> graphc.float32, graphc.device("cpu")
    {"odict": [...]}, {"set": [...]}, {"frozenset": [...]}   (inside objects)
    {"ref": N}                        -> the object, tensor or dict written with "id": N
                                         earlier (shared parameters, tied weights, cycles)
Which classes and functions a load may rebuild is decided by serialization_globals.py (graphc's
own, those the user allow-listed with add_safe_globals / safe_globals, and with
weights_only=False the Module subclasses of already imported modules): loading never imports a
module named by the file and never calls code it names, except the `_load_state` of a class
it was allowed to rebuild.

Loading reads JSON and .npy headers and checks them (known tags only, no object dtypes,
sizes that match the stored bytes); it never imports or executes anything from the file, so a
malformed or hostile file is a GraphFormatError, not code execution. Saving writes to a
temporary file next to the target and renames it into place, so a crash never leaves a
half-written checkpoint.
"""
from __future__ import annotations

import io
import json
import math
import os
import struct
import tempfile
import types
import zipfile
import zlib

import numpy as np

from collections import OrderedDict

from . import storage
from .device import Device
from .eager.tensor import Tensor
from .errors import GraphFormatError
from .ops.registry import Op, REGISTRY
from .serialization_globals import (UnsafeGlobalError, add_safe_globals,
                                    clear_safe_globals, get_safe_globals, global_name,
                                    resolve, safe_globals)
from .types import DType

__all__ = ["save", "load", "add_safe_globals", "safe_globals", "get_safe_globals",
           "clear_safe_globals", "UnsafeGlobalError"]

# Tensor classes by entry tag: graphc.nn adds "parameter" (the core does not import nn).
TENSOR_CLASSES = {"tensor": Tensor}

FORMAT, VERSION = "graphc.save", 2  # (1: no objects; still written when a file has none)
MANIFEST = "manifest.json"
_MAX_DEPTH = 100


# ---- encoding ---------------------------------------------------------------------------------------
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
        if depth > _MAX_DEPTH:
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


# ---- decoding ---------------------------------------------------------------------------------------
def load(f, map_location=None, weights_only=None, **_ignored):
    """Load what graphc.save wrote. Raises GraphFormatError for anything else.

    A file holding whole modules or other objects needs their classes allowed (PyTorch's
    weights_only rule: weights_only=None means True): graphc's own classes always are, user
    classes through serialization.add_safe_globals / safe_globals, or weights_only=False
    (serialization_globals.py)."""
    where = os.fspath(f) if isinstance(f, (str, os.PathLike)) else "<file object>"
    try:
        zf = zipfile.ZipFile(f, "r")
    except _DAMAGE as e:
        if isinstance(e, (FileNotFoundError, IsADirectoryError, PermissionError,
                          GraphFormatError)):
            raise
        head = _head(f)
        if not head.startswith(b"PK\x03\x04"):
            raise GraphFormatError(f"graphc.load: {where} is not a graphc.save file ({e})") \
                from None
        raise GraphFormatError(f"graphc.load: {where} is damaged: {_first_damage(f)} "
                               f"({type(e).__name__}: {e})") from None
    with zf:
        decoder = _Decoder(zf, where, weights_only is not False)
        try:
            return decoder.load()
        except GraphFormatError:
            raise
        except _DAMAGE as e:  # a CRC mismatch, a bad header, data cut short ...
            raise GraphFormatError(f"graphc.load: {where} is damaged: member "
                                   f"{decoder.member!r} cannot be read ({type(e).__name__}: "
                                   f"{e})") from None


# What zipfile and the .npy reader raise for damaged bytes (a flipped bit, a truncated file).
_DAMAGE = (zipfile.BadZipFile, zlib.error, OSError, ValueError, EOFError, struct.error,
           NotImplementedError, OverflowError, UnicodeDecodeError, KeyError,
           RuntimeError)  # ("is encrypted": a flipped flag bit)


def _read_all(f):
    if isinstance(f, (str, os.PathLike)):
        with open(f, "rb") as stream:
            return stream.read()
    try:
        f.seek(0)
        return f.read()
    except (OSError, AttributeError, ValueError):
        return b""


def _head(f):
    return _read_all(f)[:4]


def _first_damage(f):
    """Which member a damaged archive loses first, found by walking its local headers (a
    ZIP's directory is at its end: a truncated file has none)."""
    data = _read_all(f)
    pos = 0
    while data[pos:pos + 4] == b"PK\x03\x04":
        if pos + 30 > len(data):
            return f"it is cut short in the header of the member after offset {pos}"
        size, = struct.unpack_from("<I", data, pos + 18)
        name_len, extra_len = struct.unpack_from("<HH", data, pos + 26)
        name = data[pos + 30:pos + 30 + name_len].decode("utf-8", "replace")
        end = pos + 30 + name_len + extra_len + size
        if end > len(data):
            return (f"member {name!r} is cut short ({len(data) - pos - 30 - name_len - extra_len}"
                    f" of {size} bytes; the file was truncated)")
        pos = end
    if pos >= len(data):
        return "it ends after its last member: the ZIP directory is missing (truncated)"
    return f"the ZIP directory (from byte {pos}) is unreadable"


class _Decoder:
    def __init__(self, zf, where, weights_only=True):
        self.zf, self.where = zf, where
        self.names = set(zf.namelist())
        self.member = MANIFEST  # the member being read (named when it turns out damaged)
        self.weights_only = weights_only
        self.refs = {}          # "id" of an entry -> what it decoded to

    def fail(self, message):
        raise GraphFormatError(f"graphc.load: {self.where}: {message}")

    def load(self):
        if MANIFEST not in self.names:
            self.fail(f"no {MANIFEST}: not a graphc.save file, or a damaged one (it holds "
                      f"{', '.join(sorted(self.names))[:200] or 'nothing'})")
        info = self.zf.getinfo(MANIFEST)
        if info.file_size > 64 * 2 ** 20:
            self.fail("the manifest is implausibly large")
        raw = self.zf.read(MANIFEST)  # (a damaged member raises here: see load())
        try:
            manifest = json.loads(raw.decode("utf-8"))
        except (ValueError, UnicodeDecodeError, RecursionError) as e:
            self.fail(f"the manifest is not valid JSON ({type(e).__name__}: {e})")
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            self.fail("the manifest does not describe a graphc.save file")
        if manifest.get("version") not in (1, VERSION) or type(manifest["version"]) is not int:
            self.fail(f"format version {manifest.get('version')!r} is not supported (this "
                      f"graphc reads versions 1 to {VERSION})")
        self.version = manifest["version"]
        if "root" not in manifest:
            self.fail("the manifest has no 'root'")
        return self.decode(manifest["root"], 0)

    def decode(self, obj, depth):
        if depth > _MAX_DEPTH:
            self.fail("the saved object is nested too deeply")
        if obj is None or isinstance(obj, (bool, int, float, str)):
            return obj
        if isinstance(obj, list):
            return [self.decode(x, depth + 1) for x in obj]
        if not isinstance(obj, dict) or not obj:
            self.fail(f"unexpected entry {str(obj)[:80]!r}")
        tags = [k for k in obj if k not in ("id", "requires_grad", "persistent", "state")]
        if len(tags) != 1:
            self.fail(f"unexpected entry {str(obj)[:80]!r}")
        tag = tags[0]
        value = obj[tag]
        if tag in ("tensor", "parameter"):
            return self.tensor(obj, tag)
        if tag == "uninitialized_parameter":
            return self.uninitialized(obj)
        if tag in ("dict", "odict"):
            return self.mapping(obj, tag, depth)
        if tag == "object":
            return self.instance(obj, depth)
        if len(obj) != 1:
            self.fail(f"unexpected entry {str(obj)[:80]!r}")
        if tag == "ndarray":
            return self.array(value)
        if tag == "tuple" and isinstance(value, list):
            return tuple(self.decode(x, depth + 1) for x in value)
        if tag == "float" and value in ("nan", "inf", "-inf"):
            return float(value)
        if self.version < 2:
            self.fail(f"unknown entry tag {tag!r}")
        if tag == "ref":
            if type(value) is not int or value not in self.refs:
                self.fail(f"reference {str(value)[:40]!r} to an entry not read before")
            return self.refs[value]
        if tag in ("set", "frozenset") and isinstance(value, list):
            items = [self.decode(x, depth + 1) for x in value]
            try:
                return set(items) if tag == "set" else frozenset(items)
            except TypeError:
                self.fail(f"a {tag} holds an unhashable item")
        if tag == "dtype" and isinstance(value, str) and value in DType._by_name:
            return DType._by_name[value]
        if tag == "device" and isinstance(value, str):
            try:
                return Device(value)
            except (ValueError, TypeError):
                self.fail(f"unknown device {value[:40]!r}")
        if tag == "op" and isinstance(value, str) and value in REGISTRY:
            return REGISTRY[value]
        if tag == "global":
            return resolve(value, self.weights_only, self.where, "global")
        self.fail(f"unknown entry tag {tag!r} (or a malformed {tag!r} entry)")

    def keep(self, obj, result):
        """Remember a decoded entry that carries an "id" (later entries refer to it)."""
        if "id" in obj:
            if type(obj["id"]) is not int or obj["id"] in self.refs or self.version < 2:
                self.fail(f"entry id {str(obj['id'])[:40]!r} is malformed or repeated")
            self.refs[obj["id"]] = result
        return result

    def tensor(self, obj, tag):
        if not set(obj) <= {tag, "requires_grad", "persistent", "id"} or (
                tag == "parameter" and self.version < 2):
            self.fail(f"unexpected entry {str(obj)[:80]!r}")
        t = Tensor._wrap(self.array(obj[tag]))
        grad = obj.get("requires_grad") is True and t.dtype.is_floating_point
        if tag == "parameter":
            t = TENSOR_CLASSES["parameter"](t, requires_grad=grad)
        elif grad:
            t.requires_grad = True
        if obj.get("persistent") is True:
            t._persistent = True  # a buffer: a graph variable when used symbolically
        return self.keep(obj, t)

    def uninitialized(self, obj):
        dtype = obj["uninitialized_parameter"]
        if not set(obj) <= {"uninitialized_parameter", "requires_grad", "id"} or (
                self.version < 2) or not isinstance(dtype, str) or dtype not in DType._by_name:
            self.fail(f"unexpected entry {str(obj)[:80]!r}")
        cls = TENSOR_CLASSES["uninitialized_parameter"]
        return self.keep(obj, cls(obj.get("requires_grad") is True,
                                  dtype=DType._by_name[dtype]))

    def mapping(self, obj, tag, depth):
        value = obj[tag]
        if not set(obj) <= {tag, "id"} or not isinstance(value, list) or (
                tag == "odict" and self.version < 2):
            self.fail(f"unexpected entry {str(obj)[:80]!r}")
        out = self.keep(obj, OrderedDict() if tag == "odict" else {})
        for pair in value:
            if not isinstance(pair, list) or len(pair) != 2:
                self.fail("a dict entry is not a [key, value] pair")
            key = self.decode(pair[0], depth + 1)
            try:
                hash(key)
            except TypeError:
                self.fail(f"a dict key of type {type(key).__name__} is not hashable")
            out[key] = self.decode(pair[1], depth + 1)
        return out

    def instance(self, obj, depth):
        if set(obj) - {"id"} != {"object", "state"} or self.version < 2:
            self.fail(f"unexpected entry {str(obj)[:80]!r}")
        cls = resolve(obj["object"], self.weights_only, self.where)
        if not isinstance(cls, type) or issubclass(cls, (Tensor, BaseException)) \
                or cls.__new__ not in (object.__new__,) and not getattr(
                    cls, "_graphc_loadable", False):
            self.fail(f"{obj['object']!r} is not a class whose instances can be rebuilt")
        instance = self.keep(obj, object.__new__(cls))
        state = self.decode(obj["state"], depth + 1)
        if not isinstance(state, dict) or not all(isinstance(k, str) for k in state):
            self.fail(f"the state of a {cls.__name__} is not a dict of attribute names")
        load_state = getattr(cls, "_load_state", None)
        if load_state is not None:
            load_state(instance, state)
        else:
            instance.__dict__.update(state)
        return instance

    def array(self, name):
        if not isinstance(name, str) or name not in self.names or not name.startswith("arrays/"):
            self.fail(f"array {str(name)[:80]!r} is missing from the archive (damaged or "
                      f"incomplete; it holds {', '.join(sorted(self.names))[:200]})")
        self.member = name
        info = self.zf.getinfo(name)
        if info.compress_type != zipfile.ZIP_STORED and info.file_size > 200 * max(
                info.compress_size, 1):  # graphc writes stored entries; refuse zip bombs
            self.fail(f"{name}: implausible compression ratio")
        with self.zf.open(info) as stream:
            try:
                version = np.lib.format.read_magic(stream)
                if version == (1, 0):
                    shape, fortran, dtype = np.lib.format.read_array_header_1_0(stream)
                elif version == (2, 0):
                    shape, fortran, dtype = np.lib.format.read_array_header_2_0(stream)
                else:
                    self.fail(f"{name}: unsupported .npy version {version}")
            except ValueError as e:
                self.fail(f"{name}: malformed .npy header ({e})")
            if dtype.hasobject or dtype.kind not in "biufc":
                self.fail(f"{name}: dtype {dtype} is not allowed")
            count = math.prod(shape)  # exact: NumPy's int64 product wraps around
            if min(shape, default=0) < 0 or count * dtype.itemsize > info.file_size:
                self.fail(f"{name}: the header promises {shape} x {dtype}, more data than the "
                          f"file holds")
            data = stream.read(count * dtype.itemsize)
        if len(data) != count * dtype.itemsize:
            self.fail(f"{name}: truncated array data")
        arr = np.frombuffer(data, dtype=dtype, count=count)
        arr = arr.reshape(shape[::-1]).T if fortran else arr.reshape(shape)
        return np.array(arr, dtype=dtype.newbyteorder("=") if dtype.byteorder not in "=|"
                        else dtype)
