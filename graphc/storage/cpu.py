"""CPU storage: NumPy arrays. The eager fast path in dispatch.py calls op kernels directly;
everything else that eager code does to CPU elements is here."""
from __future__ import annotations

import numpy as np


def run(op, arrays, attrs):
    """The op's result on host arrays: its eager kernel, or its NumPy reference."""
    return (op.eager or op.reference)(*arrays, **attrs)


def clone(arr):
    return arr.copy()


def write(dst, value):
    if type(value) is not np.ndarray and hasattr(value, "copy_to_host"):
        value = value.copy_to_host()  # a CUDA array written into a CPU tensor
    np.copyto(dst, value, casting="unsafe")


def add_into(dst, src):
    np.add(dst, src, out=dst)


def ones_like(arr):
    return np.ones(arr.shape, arr.dtype)
