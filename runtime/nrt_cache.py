"""Numba's runtime (NRT) started from cached machine code.

Before any compiled function runs, Numba compiles NRT's few LLVM functions (reference
counts, atomics): ~15 ms of every process that loads cached kernels, a tenth of a warm start.
Their machine code is the same for every process of one Numba, llvmlite and CPU, so it is
kept as a cache entry (runtime/cache.py: checksummed; Numba's own object-code form, stored
as plain bytes, no pickle) and loaded instead. Anything unexpected (another Numba's
internals, a missing or damaged entry) falls back to Numba's own start-up.
"""
from __future__ import annotations

import hashlib
import struct

from . import cache

_LENGTHS = struct.Struct("<III")


def initialize(target_context):
    """Start NRT (as numba.core.runtime.rtsys.initialize), from the cache when possible."""
    from numba.core.runtime import rtsys
    if rtsys._init:
        return
    try:
        _initialize_from_cache(rtsys, target_context)
    except Exception:
        pass
    rtsys.initialize(target_context)  # (nothing left to do when the cache served)


def _key():
    return hashlib.sha256(("numba-nrt|" + cache.environment()).encode()).hexdigest()[:40]


def _encode(state):
    name, kind, (object_code, bitcode) = state
    if kind != "object":
        raise ValueError(kind)
    name = name.encode()
    return _LENGTHS.pack(len(name), len(object_code), len(bitcode)) + name + object_code + \
        bitcode


def _decode(payload):
    """Numba's serialized library from an entry, or None if it does not parse."""
    if payload is None or len(payload) < _LENGTHS.size:
        return None
    sizes = _LENGTHS.unpack_from(payload)
    if _LENGTHS.size + sum(sizes) != len(payload):
        return None
    at = _LENGTHS.size
    parts = []
    for size in sizes:
        parts.append(payload[at:at + size])
        at += size
    name, object_code, bitcode = parts
    return name.decode("ascii", "replace"), "object", (object_code, bitcode)


def _initialize_from_cache(rtsys, target_context):
    from llvmlite import binding
    from numba.core import config
    from numba.core.compiler_lock import global_compiler_lock
    from numba.core.runtime import _nrt_python, nrtdynmod
    with global_compiler_lock:
        if rtsys._init:
            return
        if config.NRT_STATS:
            _nrt_python.memsys_enable_stats()
        for name, address in _nrt_python.c_helpers.items():  # (as rtsys.initialize)
            binding.add_symbol(name if name.startswith("_") else "NRT_" + name, address)
        codegen = target_context.codegen()
        state = _decode(cache.read_entry(_key()))
        if state is not None:
            library = codegen.unserialize_library(state)
        else:
            module, library = nrtdynmod.create_nrt_module(target_context)
            library.enable_object_caching()
            library.add_ir_module(module)
            library.finalize()
            cache.write_entry(_key(), _encode(library.serialize_using_object_code()))
        rtsys._library = library
        rtsys._init = True
