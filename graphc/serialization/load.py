"""graphc.load: checks every entry and array of a graphc.save file, then rebuilds it."""
from __future__ import annotations

import json
import math
import os
import struct
import zipfile
import zlib
from collections import OrderedDict

import numpy as np

from ..device import Device
from ..eager.tensor import Tensor
from ..errors import GraphFormatError
from ..ops.registry import REGISTRY
from ..types import DType
from .format import FORMAT, MANIFEST, MAX_DEPTH, TENSOR_CLASSES, VERSION
from .safe_globals import resolve


def load(f, map_location=None, weights_only=None, **_ignored):
    """Load what graphc.save wrote. Raises GraphFormatError for anything else.

    A file holding whole modules or other objects needs their classes allowed (PyTorch's
    weights_only rule: weights_only=None means True): graphc's own classes always are, user
    classes through serialization.add_safe_globals / safe_globals, or weights_only=False
    (serialization/safe_globals.py)."""
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
        if depth > MAX_DEPTH:
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
