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
import zipfile
import zlib

import numpy as np

from .eager.tensor import Tensor
from .errors import GraphFormatError

FORMAT, VERSION = "graphc.save", 1
MANIFEST = "manifest.json"
_MAX_DEPTH = 100


# ---- encoding ---------------------------------------------------------------------------------------
class _Encoder:
    def __init__(self):
        self.arrays = []

    def array(self, arr):
        arr = np.asarray(arr)  # (not ascontiguousarray: it turns 0-d arrays into 1-d)
        if arr.dtype.hasobject or arr.dtype.kind not in "biufc":
            raise TypeError(f"graphc.save: cannot save an array of dtype {arr.dtype}")
        name = f"arrays/{len(self.arrays)}.npy"
        self.arrays.append((name, arr))
        return name

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
            return {"tensor": self.array(obj._data), "requires_grad": bool(obj.requires_grad)}
        if isinstance(obj, np.ndarray):
            return {"ndarray": self.array(obj)}
        if isinstance(obj, dict):
            return {"dict": [[self.encode(k, depth + 1), self.encode(v, depth + 1)]
                             for k, v in obj.items()]}
        if isinstance(obj, tuple):
            return {"tuple": [self.encode(x, depth + 1) for x in obj]}
        if isinstance(obj, list):
            return [self.encode(x, depth + 1) for x in obj]
        raise TypeError(f"graphc.save: cannot save an object of type {type(obj).__name__} "
                        f"(supported: tensors, arrays, numbers, strings, None, and lists, "
                        f"tuples and dicts of them; save a model's state_dict())")


def save(obj, f):
    """Save tensors, arrays, numbers, strings and nested dicts/lists/tuples of them (a
    model's or optimizer's state_dict) to a path or a binary file object."""
    encoder = _Encoder()
    manifest = {"format": FORMAT, "version": VERSION, "root": encoder.encode(obj)}
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
    """Load what graphc.save wrote. Raises GraphFormatError for anything else."""
    if map_location is not None and str(map_location) not in ("cpu",) and not callable(
            map_location):
        from .device import Device
        if Device(map_location).type != "cpu":
            from .errors import UnsupportedError
            raise UnsupportedError(f"graphc.load: map_location {map_location!r} is not "
                                   f"available; tensors are loaded on the CPU")
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
        decoder = _Decoder(zf, where)
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
    def __init__(self, zf, where):
        self.zf, self.where = zf, where
        self.names = set(zf.namelist())
        self.member = MANIFEST  # the member being read (named when it turns out damaged)

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
        if manifest.get("version") != VERSION:
            self.fail(f"format version {manifest.get('version')!r} is not supported (this "
                      f"graphc reads version {VERSION})")
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
        if not isinstance(obj, dict) or len(obj) not in (1, 2):
            self.fail(f"unexpected entry {str(obj)[:80]!r}")
        if "tensor" in obj and set(obj) <= {"tensor", "requires_grad"}:
            t = Tensor._wrap(self.array(obj["tensor"]))
            if obj.get("requires_grad") is True and t.dtype.is_floating_point:
                t.requires_grad = True
            return t
        if len(obj) != 1:
            self.fail(f"unexpected entry {str(obj)[:80]!r}")
        (tag, value), = obj.items()
        if tag == "ndarray":
            return self.array(value)
        if tag == "tuple" and isinstance(value, list):
            return tuple(self.decode(x, depth + 1) for x in value)
        if tag == "dict" and isinstance(value, list):
            out = {}
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
        if tag == "float" and value in ("nan", "inf", "-inf"):
            return float(value)
        self.fail(f"unknown entry tag {tag!r}")

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
