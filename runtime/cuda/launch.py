"""Launch configuration chosen from the problem size and the device.

The simulator runs every GPU thread as a Python thread, so it gets few, small blocks and
grid-stride loops do the rest; a real GPU gets enough blocks to fill its multiprocessors.
"""
from __future__ import annotations

from functools import lru_cache

from .device import require, simulated


@lru_cache(maxsize=None)
def _limits():
    if simulated():
        return {"threads": 16, "blocks": 2, "reduce": 8, "tile": 8}
    sms = require().get_current_device().MULTIPROCESSOR_COUNT
    return {"threads": 256, "blocks": 32 * sms, "reduce": 256, "tile": 16}


def grid_1d(n):
    """(blocks, threads) for a grid-stride loop over n items."""
    lim = _limits()
    threads = lim["threads"]
    return max(1, min(lim["blocks"], -(-n // threads))), threads


def rows(m):
    """(blocks, threads) for one block per row (grid-stride over rows), threads a power of 2."""
    lim = _limits()
    return max(1, min(lim["blocks"], m)), lim["reduce"]


def reduce_threads():
    return _limits()["reduce"]


def tile():
    return _limits()["tile"]
