"""scipy.special's functions, imported on their first call.

Importing scipy.special takes ~0.2 s, as long as the rest of `import graphc`, and only a few
references need it (sigmoid, erf, erfc, gelu, lgamma, softmax, log_softmax, logsumexp):
compiled programs and most eager steps never call them.
"""
from __future__ import annotations

import importlib


class _LazySpecial:
    """`special.erf` is a function that imports scipy.special when first called."""

    def __getattr__(self, name):
        fn = None

        def call(*args, **kwargs):
            nonlocal fn  # (found once: import_module costs ~0.6 µs a call, as much as expit)
            if fn is None:
                fn = getattr(importlib.import_module("scipy.special"), name)
            return fn(*args, **kwargs)
        call.__name__ = call.__qualname__ = name
        call.__module__ = "scipy.special"
        setattr(self, name, call)
        return call


special = _LazySpecial()
