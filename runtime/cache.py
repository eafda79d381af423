"""On-disk cache of generated modules (runtime never imports graphc).

A module's file name is a hash of its source and of everything that changes what Numba
makes of it (Python, NumPy, Numba and llvmlite versions, the CPU, caller flags). The file is
written atomically and imported under its own name, registered in sys.modules before it
runs, so that Numba's `cache=True` stores the machine code next to it: a second process
that generates the same source loads the compiled code instead of compiling again.

A file whose content does not match its name (corrupt, truncated, foreign) is rewritten,
never trusted. If the cache directory cannot be written, modules are compiled in memory
(no on-disk cache) after one warning.

Entries (`read_entry` / `write_entry`) are opaque payloads stored under a key chosen by the
caller (graphc's whole-program cache: graphc/backends/program_cache.py). Each file starts
with a header naming its key and the SHA-256 of its payload: a damaged, truncated or
renamed file reads as missing (and is removed), never as data.
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import platform
import shutil
import sys
import tempfile
import threading
import types
import warnings

_PREFIX = "graphc_gen_"
_ENTRY_PREFIX = "graphc_prog_"
_ENTRY_MAGIC = b"graphc-entry"
_ENTRY_VERSION = b"1"
_lock = threading.Lock()
_loaded: dict[str, types.ModuleType] = {}
_warned = False


def cache_dir() -> str:
    """GRAPHC_CACHE_DIR, or ~/.cache/graphc."""
    return os.environ.get("GRAPHC_CACHE_DIR") or os.path.join(
        os.path.expanduser("~"), ".cache", "graphc")


def _environment() -> str:
    import llvmlite
    import numba
    import numpy
    try:
        from llvmlite import binding
        cpu = binding.get_host_cpu_name() + ":" + binding.get_host_cpu_features()
    except Exception:  # no LLVM CPU query: the machine name still separates architectures
        cpu = platform.machine()
    return "|".join([sys.version, numpy.__version__, numba.__version__, llvmlite.__version__,
                     platform.machine(), cpu])


_ENV = None


def environment() -> str:
    """Python, NumPy, Numba and llvmlite versions and the CPU: part of every key."""
    global _ENV
    if _ENV is None:
        _ENV = _environment()
    return _ENV


def module_key(source: str, flags: str = "") -> str:
    h = hashlib.sha256()
    for part in (source, flags, environment()):
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()[:40]


def load_module(source: str, flags: str = "") -> types.ModuleType:
    """Import generated `source` (cached on disk when possible). Defines CACHE for it."""
    key = module_key(source, flags)
    name = _PREFIX + key
    with _lock:
        if name in _loaded:
            return _loaded[name]
        path = _write(name, source)
        module = _import(name, path, source)
        _loaded[name] = module
        return module


def load_file(name: str, path: str) -> types.ModuleType:
    """Import a module that load_module wrote (another process compiling its functions
    into the same cache: runtime/compile_worker.py)."""
    with _lock:
        if name not in _loaded:
            _loaded[name] = _import(name, path, None)
        return _loaded[name]


def cached_file(module: types.ModuleType):
    """The file of a module load_module imported with an on-disk cache, else None."""
    return getattr(module, "__file__", None) if getattr(module, "CACHE", False) else None


def read_entry(key: str):
    """The payload stored under `key` (bytes), or None: missing, unreadable or damaged (the
    header's key or checksum does not match: the file is removed, so that it is rebuilt)."""
    path = os.path.join(cache_dir(), _ENTRY_PREFIX + key + ".entry")
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return None
    header, newline, payload = data.partition(b"\n")
    parts = header.split(b" ")
    if newline and len(parts) == 4 and parts[0] == _ENTRY_MAGIC and \
            parts[1] == _ENTRY_VERSION and parts[2] == key.encode() and \
            parts[3] == hashlib.sha256(payload).hexdigest().encode():
        return payload
    _remove(path)
    return None


def write_entry(key: str, payload: bytes) -> bool:
    """Store `payload` under `key` (atomically: a reader sees the old file or the new one).
    False when the cache directory cannot be written (nothing is stored)."""
    directory = cache_dir()
    header = b" ".join([_ENTRY_MAGIC, _ENTRY_VERSION, key.encode(),
                        hashlib.sha256(payload).hexdigest().encode()])
    tmp = None
    try:
        os.makedirs(directory, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp_", suffix=".entry")
        with os.fdopen(fd, "wb") as f:
            f.write(header + b"\n" + payload)
        os.replace(tmp, os.path.join(directory, _ENTRY_PREFIX + key + ".entry"))
        return True
    except OSError:
        if tmp is not None:
            _remove(tmp)
        return False


def _write(name, source):
    """The module's file, (re)written if missing or not exactly `source`; None if unwritable."""
    directory = cache_dir()
    path = os.path.join(directory, name + ".py")
    try:
        with open(path, encoding="utf-8") as f:
            if f.read() == source:
                return path
    except (OSError, UnicodeDecodeError):
        pass
    tmp = None
    try:
        os.makedirs(directory, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp_", suffix=".py")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(source)
        os.replace(tmp, path)
        _drop_stale_numba_cache(directory, name)
        return path
    except OSError as e:
        if tmp is not None and os.path.exists(tmp):  # a partial file (e.g. the disk is full)
            try:
                os.remove(tmp)
            except OSError:
                pass
        global _warned
        if not _warned:
            _warned = True
            warnings.warn(f"graphc: cannot write the compile cache at {directory!r} ({e}); "
                          f"compiling in memory (set GRAPHC_CACHE_DIR to a writable place)",
                          RuntimeWarning, stacklevel=4)
        return None


def _drop_stale_numba_cache(directory, name):
    """Numba's index for a rewritten file must not be trusted either."""
    pycache = os.path.join(directory, "__pycache__")
    if os.path.isdir(pycache):
        for f in os.listdir(pycache):
            if f.startswith(name + "."):
                try:
                    os.remove(os.path.join(pycache, f))
                except OSError:
                    pass


def _import(name, path, source):
    if path is None:
        module = types.ModuleType(name)
        module.CACHE = False
        exec(compile(source, f"<graphc {name}>", "exec"), module.__dict__)
        return module
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    module.CACHE = True
    sys.modules[name] = module  # before exec: Numba's cache finds the module by name
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    _treat_damaged_numba_files_as_misses(module, os.path.dirname(path), name)
    return module


def _treat_damaged_numba_files_as_misses(module, directory, name):
    """Numba trusts its index and data files: a truncated or garbled one makes the first
    call raise. Such a load becomes a miss instead: the files are dropped, the function is
    compiled again and Numba writes them anew."""
    for obj in list(vars(module).values()):
        numba_cache = getattr(obj, "_cache", None)
        load = getattr(numba_cache, "load_overload", None)
        if load is None:
            continue
        guard_numba_cache(obj)

        def load_or_miss(sig, target_context, _load=_without_refresh(numba_cache, load)):
            try:
                return _load(sig, target_context)
            except Exception:
                _drop_stale_numba_cache(directory, name)
                return None
        numba_cache.load_overload = load_or_miss


def _without_refresh(numba_cache, load):
    """Numba's load_overload, minus its first step: refreshing the target context installs
    every typing and lowering registry (~0.25 s, most of a warm start), and rebuilding cached
    machine code needs none of them (a compile, should one follow, refreshes by itself)."""
    from numba.core.caching import Cache
    inner = getattr(numba_cache, "_load_overload", None)
    guard = getattr(numba_cache, "_guard_against_spurious_io_errors", None)
    if inner is None or guard is None or type(numba_cache).load_overload is not \
            Cache.load_overload:  # another Numba's internals, or a target's own load (CUDA's)
        return load

    def load_only(sig, target_context):
        from .nrt_cache import initialize
        initialize(target_context)  # the one part of a refresh that loaded code needs: NRT
        with guard():
            return inner(sig, target_context)
    return load_only


def guard_numba_cache(dispatcher):
    """Make a damaged Numba cache file of `dispatcher` (its index or a data file: truncated,
    garbage, empty, another version's) a cache miss that is rebuilt, never an exception.

    Numba reads its index when loading *and* when saving a new overload, and unpickles both
    without a check: any error there would otherwise reach the user's call. The damaged
    file is removed, so that the next save writes a sound one. Returns the dispatcher (a
    decorator for cache=True functions: runtime/kernels/_jit.py, runtime/library.py).
    """
    files = getattr(getattr(dispatcher, "_cache", None), "_cache_file", None)
    if files is None or getattr(files, "_graphc_guarded", False):
        return dispatcher
    load_index, load_data = files._load_index, files._load_data

    def index_or_empty():
        try:
            index = load_index()
            if not isinstance(index, dict):
                raise TypeError("not an index")
            return index
        except Exception:
            _remove(files._index_path)
            return {}

    def data_or_miss(data_name):
        try:
            data = load_data(data_name)
            if not isinstance(data, tuple):
                raise TypeError("not a cache entry")
            return data
        except Exception:
            _remove(files._data_path(data_name))
            raise OSError("damaged cache entry") from None  # IndexDataCacheFile: a miss

    files._load_index, files._load_data = index_or_empty, data_or_miss
    files._graphc_guarded = True
    if hasattr(dispatcher, "_compilation_chain_init_hook"):
        # Numba's first call of any dispatcher loads the installed Numba extensions, which
        # scans every distribution's metadata (30-70 ms here): our kernels use none, and a
        # compile loads them anyway (the target's refresh does), so a cached load skips it
        dispatcher._compilation_chain_init_hook = _nothing
    numba_cache = dispatcher._cache  # and a warm load skips the target refresh, as ours do
    numba_cache.load_overload = _without_refresh(numba_cache, numba_cache.load_overload)
    return dispatcher


def _nothing():
    pass


def _remove(path):
    try:
        os.remove(path)
    except OSError:
        pass


def cache_info() -> dict:
    """Where the cache is, how many generated modules and whole-program entries it holds and
    its size in bytes."""
    directory = cache_dir()
    files, entries, size = 0, 0, 0
    for root, _, names in os.walk(directory):
        for n in names:
            try:
                size += os.path.getsize(os.path.join(root, n))
            except OSError:
                continue
            files += n.endswith(".py") and n.startswith(_PREFIX)
            entries += n.startswith(_ENTRY_PREFIX)
    return {"path": directory, "modules": files, "programs": entries, "bytes": size,
            "loaded": len(_loaded)}


def clear_cache() -> None:
    """Delete every generated module and compiled artifact (in-process modules stay usable)."""
    directory = cache_dir()
    if not os.path.isdir(directory):
        return
    for n in os.listdir(directory):
        p = os.path.join(directory, n)
        if n == "__pycache__":
            shutil.rmtree(p, ignore_errors=True)
        elif n.startswith((_PREFIX, _ENTRY_PREFIX, ".tmp_")):
            try:
                os.remove(p)
            except OSError:
                pass
