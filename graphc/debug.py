"""Debugging switches: stop at the first NaN/Inf and name the op and the user's line.

    with graphc.debug.check_numerics():
        loss = model(x)          # eager: checked after every op
        step(x, y)               # compiled: checked after each call; the culprit is found
                                 # by re-running the step node by node on the reference target
"""
from __future__ import annotations

import numpy as np

from .errors import GraphcError, op_error

_state = {"numerics": False}


class NumericsError(GraphcError, FloatingPointError):
    """An op produced NaN or Inf from finite inputs (raised under check_numerics)."""


def numerics_enabled() -> bool:
    return _state["numerics"]


class check_numerics:
    """Turn NaN/Inf checking on (also usable as a context manager that restores the old state)."""

    def __init__(self, enabled: bool = True):
        self.prev = _state["numerics"]
        _state["numerics"] = bool(enabled)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _state["numerics"] = self.prev


def _nonfinite(arr):
    arr = np.asarray(arr)
    if arr.dtype.kind != "f" or arr.size == 0:
        return 0
    return int(arr.size - np.count_nonzero(np.isfinite(arr)))


def _describe(arr):
    arr = np.asarray(arr)
    kinds = [k for k, bad in (("nan", np.isnan(arr).any()), ("inf", np.isinf(arr).any())) if bad]
    return f"{'/'.join(kinds)} in {_nonfinite(arr)} of {arr.size} values"


def check_op(op_name, input_arrays, output_arrays, location=None):
    """Raise if an op turned finite inputs into non-finite outputs."""
    if any(_nonfinite(a) for a in input_arrays):
        return  # not this op's fault: an earlier one (or the data) brought it in
    for arr in output_arrays:
        if _nonfinite(arr):
            raise op_error(NumericsError, op_name, f"produced {_describe(arr)}", location)


def locate_nonfinite(graph, feeds, target):
    """Re-run a graph node by node (reference target) and raise at the first culprit."""
    if any(_nonfinite(a) for a in feeds):
        bad = [i for i, a in enumerate(feeds) if _nonfinite(a)]
        raise NumericsError(f"inputs {bad} of the compiled function contain NaN/Inf")
    from .ir.interpreter import Interpreter

    class Checking(Interpreter):
        """The reference target's walk, checking each op's outputs as it goes."""

        def run_node(self, node, args):
            with np.errstate(all="ignore"):
                result = node.op.reference(*args, **node.attrs)
            results = result if node.op.num_outputs != 1 else (result,)
            check_op(node.op.name, args, results, node.location or _no_location())
            return [np.asarray(r, v.dtype.np) for v, r in zip(node.outputs, results)]

    Checking(graph).run(feeds)
    raise NumericsError(f"target {target!r} produced NaN/Inf, but the reference target does not: "
                        f"a numerics difference of the compiled code (try strict numerics)")


class _no_location:
    def __str__(self):
        return "an unknown line"


class track_memory:
    """Count the bytes of array storage that eager tensors hold while the block runs.

        with graphc.debug.track_memory() as mem:
            train_one_epoch()
        print(mem.peak_bytes, mem.current_bytes)

    Storage shared by several tensors (views, detach) is counted once, when its owner is made.
    """

    def __init__(self):
        self.current_bytes = 0
        self.peak_bytes = 0
        self._seen = set()

    def add(self, arr):
        import weakref
        owner = arr
        while isinstance(owner.base, np.ndarray):
            owner = owner.base
        key = id(owner)
        if key in self._seen:
            return
        self._seen.add(key)
        self.current_bytes += owner.nbytes
        self.peak_bytes = max(self.peak_bytes, self.current_bytes)
        weakref.finalize(owner, self._release, key, owner.nbytes)

    def _release(self, key, nbytes):
        self._seen.discard(key)
        self.current_bytes -= nbytes

    def __repr__(self):
        return (f"<graphc.debug.track_memory: peak {_bytes(self.peak_bytes)}, now "
                f"{_bytes(self.current_bytes)}>")

    def __enter__(self):
        from .eager import tensor
        self._prev = tensor.memory_tracker
        tensor.memory_tracker = self
        return self

    def __exit__(self, *exc):
        from .eager import tensor
        tensor.memory_tracker = self._prev


def _bytes(n):
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n} bytes"
