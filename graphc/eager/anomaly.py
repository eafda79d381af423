"""Anomaly detection for eager backward: torch.autograd.detect_anomaly / set_detect_anomaly.

While it is on, every tape entry remembers the user's line that made it (a frame walk per
recorded op: slow, as in PyTorch, so it is off by default), and backward checks the
cotangents each gradient rule returns: a NaN raises RuntimeError naming the rule's
grad_fn and that forward line. A global switch, as PyTorch's AnomalyMode is.
"""
from __future__ import annotations

import functools
import warnings

import numpy as np

from .. import storage
from ..errors import user_location


class _AnomalyState:
    enabled = False
    check_nan = True


_state = _AnomalyState()


def is_anomaly_enabled() -> bool:
    return _state.enabled


def is_anomaly_check_nan_enabled() -> bool:
    return _state.check_nan


def _set(mode, check_nan):
    _state.enabled, _state.check_nan = bool(mode), bool(check_nan)


class detect_anomaly:
    """Context manager (and decorator) that turns anomaly detection on."""

    def __init__(self, check_nan=True):
        self.check_nan = check_nan
        self.prev = (_state.enabled, _state.check_nan)
        warnings.warn("Anomaly Detection has been enabled. This mode will increase the runtime "
                      "and should only be enabled for debugging.", stacklevel=2)

    def __enter__(self):
        self.prev = (_state.enabled, _state.check_nan)
        _set(True, self.check_nan)
        return self

    def __exit__(self, *exc):
        _set(*self.prev)

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with detect_anomaly(self.check_nan):
                return fn(*args, **kwargs)
        return wrapper


class set_detect_anomaly:
    """set_detect_anomaly(mode, check_nan=True): sets the mode now; as a context manager,
    the previous mode comes back on exit."""

    def __init__(self, mode, check_nan=True):
        self.prev = (_state.enabled, _state.check_nan)
        _set(mode, check_nan)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _set(*self.prev)


def note_location(entry):
    """Called for each recorded tape entry while anomaly mode is on."""
    entry.location = user_location()


def check_gradients(entry, input_grads):
    """After entry's gradient rule ran: a NaN in what it returned raises, naming the rule
    and the forward line that recorded the entry."""
    if not _state.check_nan:
        return
    for i, g in enumerate(input_grads):
        if g is None or not g.dtype.is_floating_point:
            continue
        data = g._data if type(g._data) is np.ndarray else storage.move(g._data, "cpu")
        if np.isnan(data).any():
            where = getattr(entry, "location", None)
            raise RuntimeError(
                f"Function '{entry.name()}' returned nan values in its {i}th output."
                + (f"\n  the forward call that created it (recorded by detect_anomaly):\n"
                   f"    {where}" if where is not None else
                   "\n  (its forward call was made before anomaly detection was enabled)"))
