"""Generated kernel source: written to an on-disk cache and imported from there.

A module's file is named by a hash of its source and the numba version, so a second process
finds the same file and (on a real GPU, with cache=True) Numba's compiled kernels next to it.
The module is registered in sys.modules before it runs, as Numba's cache requires.
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import tempfile


def cache_dir():
    root = os.environ.get("GRAPHC_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"),
        "graphc")
    path = os.path.join(root, "cuda")
    os.makedirs(path, exist_ok=True)
    return path


_loaded = {}


def load_module(source: str, prefix: str = "kernel"):
    """Import generated `source` (cached per process and on disk); returns the module."""
    import numba
    key = hashlib.sha256((source + numba.__version__).encode()).hexdigest()[:20]
    if key in _loaded:
        return _loaded[key]
    name = f"graphc_cuda_{prefix}_{key}"
    path = os.path.join(cache_dir(), name + ".py")
    if not os.path.exists(path):
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            f.write(source)
        os.replace(tmp, path)  # atomic: a concurrent process never sees half a file
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    _loaded[key] = module
    return module
