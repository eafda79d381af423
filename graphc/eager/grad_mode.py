"""Whether eager ops record a tape: no_grad / enable_grad / set_grad_enabled (thread-local)."""
from __future__ import annotations

import functools
import threading

class _GradState(threading.local):
    enabled = True  # each thread starts with recording on (a class default: no exception
                    # raised and caught per lookup, as getattr(local, name, default) does)


_state = _GradState()


def is_grad_enabled() -> bool:
    return _state.enabled


def _set(mode: bool):
    _state.enabled = bool(mode)


class set_grad_enabled:
    """Context manager (and decorator) that turns gradient recording on or off."""

    def __init__(self, mode: bool):
        self.prev = is_grad_enabled()
        self.mode = bool(mode)
        _set(mode)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _set(self.prev)

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with type(self)(self.mode):
                return fn(*args, **kwargs)
        _set(self.prev)
        return wrapper


class no_grad(set_grad_enabled):
    """Run eager ops without recording a tape, as torch.no_grad."""

    def __init__(self):
        self.prev = is_grad_enabled()
        self.mode = False

    def __enter__(self):
        self.prev = is_grad_enabled()
        _set(False)
        return self

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with no_grad():
                return fn(*args, **kwargs)
        return wrapper


class enable_grad(no_grad):
    def __enter__(self):
        self.prev = is_grad_enabled()
        _set(True)
        return self

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with enable_grad():
                return fn(*args, **kwargs)
        return wrapper
