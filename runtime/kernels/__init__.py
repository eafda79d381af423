"""The runtime kernel library: fast @njit(cache=True) kernels that compiled programs call by name.

Every kernel takes arrays and int/float scalars only (no Python objects), writes preallocated
outputs and can be called from inside another @njit function. Its calling convention is the
first line of its docstring: `signature(name)`. Library kernels are compiled once per argument
types and cached on disk, so a new graph pays only for its own code.

    from runtime.kernels import get, signature
    get("conv2d")(x, w, b, out, 1, 1, 0, 0, 1, 1, 1)

Generated source that calls a kernel imports it from `location(name)`; a compile cache must
include these files' contents in its key (graphc/backends/cpu.py `_library_hash`), because
Numba's cache of a caller does not notice when a callee's source changes.
"""
from __future__ import annotations


import importlib

# name -> (module of this package, function): a module is imported when one of its kernels
# is first asked for (a program loaded from the cache imports only the kernels it calls:
# each module's @njit functions cost ~0.3 ms apiece to create)
_WHERE = {
    # linear algebra
    "matmul": ("matmul", "matmul"),
    "matmul_loops": ("matmul", "matmul_loops"),
    "batched_matmul": ("matmul", "batched_matmul"),
    # convolution
    "conv2d": ("conv", "conv2d"),
    "conv_transpose2d": ("conv", "conv_transpose2d"),
    "conv2d_weight_grad": ("conv", "conv2d_weight_grad"),
    # pooling
    "max_pool2d": ("pool", "max_pool2d"),  # (chooses one of the three below at run time)
    "max_pool2d_2x2": ("pool", "max_pool2d_2x2"),
    "max_pool2d_inside": ("pool", "max_pool2d_inside"),
    "max_pool2d_clipped": ("pool", "max_pool2d_clipped"),
    "max_pool2d_backward": ("pool", "max_pool2d_backward"),
    "max_pool2d_gather": ("pool", "max_pool2d_gather"),
    "avg_pool2d": ("pool", "avg_pool2d"),
    "avg_pool2d_backward": ("pool", "avg_pool2d_backward"),
    "adaptive_avg_pool2d": ("pool", "adaptive_avg_pool2d"),
    "adaptive_avg_pool2d_backward": ("pool", "adaptive_avg_pool2d_backward"),
    # batch normalization over (N, C, S)
    "batch_norm": ("norm", "batch_norm"),
    "batch_norm_backward": ("norm", "batch_norm_backward"),
    # reductions along one axis of (outer, n, inner)
    "sum_axis": ("reduce", "sum_axis"),
    "max_axis": ("reduce", "max_axis"),
    "min_axis": ("reduce", "min_axis"),
    # scans, sorting and products along one axis of (outer, n, inner)
    "cumsum_axis": ("scan", "cumsum_axis"),
    "cumprod_axis": ("scan", "cumprod_axis"),
    "cummax_axis": ("scan", "cummax_axis"),
    "cummin_axis": ("scan", "cummin_axis"),
    "sort_axis": ("scan", "sort_axis"),
    "prod_axis": ("scan", "prod_axis"),
    # factorizations over a batch of matrices
    "det_batched": ("linalg", "det_batched"),
    "slogdet_batched": ("linalg", "slogdet_batched"),
    "cholesky_batched": ("linalg", "cholesky_batched"),
    "eigh_batched": ("linalg", "eigh_batched"),
    "svd_batched": ("linalg", "svd_batched"),
    "svdvals_batched": ("linalg", "svdvals_batched"),
    "qr_batched": ("linalg", "qr_batched"),
    "pinv_batched": ("linalg", "pinv_batched"),
    # copies
    "transpose2d": ("copy", "transpose2d"),
    "strided_copy": ("copy", "strided_copy"),
    # randomness
    "dropout": ("dropout", "dropout"),
    "dropout_mask": ("dropout", "dropout_mask"),
    # losses
    "cross_entropy": ("loss", "cross_entropy"),
    "cross_entropy_backward": ("loss", "cross_entropy_backward"),
}


def __getattr__(name):
    if name == "KERNELS":  # every kernel by name (imports the whole library)
        return {n: get(n) for n in _WHERE}
    if name in {module for module, _ in _WHERE.values()} | {"conv_numpy"}:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def get(name):
    """The kernel (a Numba dispatcher) registered under `name`."""
    try:
        module, attr = _WHERE[name]
    except KeyError:
        raise KeyError(f"no runtime kernel named {name!r}; known: {', '.join(sorted(_WHERE))}") \
            from None
    return getattr(importlib.import_module(f"{__name__}.{module}"), attr)


def signature(name):
    """The calling convention of a kernel: the first line of its docstring."""
    return get(name).__doc__.strip().splitlines()[0]


# Same calling conventions, driven from Python with NumPy's BLAS (conv_numpy.py): for callers
# outside Numba, whose GEMMs then run up to 2x faster and need no compile of their own.
# Compiled programs take the im2col + GEMM forms: the direct 3x3 kernels that eager mode runs
# (conv_direct.py) would add ~4 s of Numba compile to a cold program.
PYTHON_DRIVERS = {"conv2d": "conv2d_im2col", "conv_transpose2d": "conv_transpose2d_im2col",
                  "conv2d_weight_grad": "conv2d_weight_grad_im2col"}


def _compiled_pieces(name):
    """The @njit functions a call of kernel `name` compiles (a Python driver: the pieces it
    runs; they compile their callees in turn)."""
    if name in PYTHON_DRIVERS:
        from . import conv
        return (conv.im2col_batch, conv.col2im_add_batch, conv.add_channel_bias)
    return (get(name),)


def cold(names):
    """Whether any of these kernels has never been compiled on this machine: neither loaded
    in this process nor in Numba's on-disk cache (no index file yet)."""
    import os
    for name in names:
        for fn in _compiled_pieces(name):
            index = getattr(getattr(getattr(fn, "_cache", None), "_cache_file", None),
                            "_index_path", None)
            if not fn.overloads and index and not os.path.exists(index):
                return True
    return False


def location(name, from_python=False):
    """(module, attribute) to import the kernel from in generated source; `from_python`: the
    caller is plain Python (a kernel-layout program), which may take a NumPy-driven form."""
    if from_python and name in PYTHON_DRIVERS:
        return f"{__name__}.conv_numpy", PYTHON_DRIVERS[name]
    fn = get(name).py_func
    return fn.__module__, fn.__name__


__all__ = ["KERNELS", "get", "signature", "location", "cold"]
