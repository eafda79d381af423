"""Ops that CUDA runs as sequences of other ops' kernels: batch_norm, batch_norm_backward
(reductions and elementwise) and linear (matmul and add). No kernel of their own yet, but
the data stays on the device. `apply(name, *args, **attrs)` runs one registered op on device
arrays (numbers as NumPy scalars of the arrays' dtype); storage/cuda_ops.py passes its own
and lists these functions in its table. The formulas are those of the ops' NumPy references
(graphc/ops/norm.py, graphc/ops/linalg.py).
"""
from __future__ import annotations


def _layout(x):
    dims = (0,) + tuple(range(2, x.ndim))
    count = 1
    for d in dims:
        count *= x.shape[d]
    return dims, (1, x.shape[1]) + (1,) * (x.ndim - 2), count


def batch_norm(apply, args, attrs):
    """(out, mean, invstd, new running mean, new running var), or None for an empty batch
    (the caller runs the NumPy reference)."""
    x, weight, bias, running_mean, running_var = args
    dims, col, count = _layout(x)
    if count == 0:
        return None
    num = x.dtype.type
    momentum = attrs["momentum"]
    if attrs["training"]:
        mean = apply("mean", x, dims=dims)
        var = apply("var", x, dims=dims, correction=0)
        unbiased = apply("mul", var, num(count / (count - 1)) if count > 1 else num("nan"))
        new_mean = apply("add", apply("mul", running_mean, num(1 - momentum)),
                         apply("mul", mean, num(momentum)))
        new_var = apply("add", apply("mul", running_var, num(1 - momentum)),
                        apply("mul", unbiased, num(momentum)))
    else:
        var = running_var  # outputs are copies: they never alias inputs or each other
        mean, new_mean = apply("mul", running_mean, num(1)), apply("mul", running_mean, num(1))
        new_var = apply("mul", running_var, num(1))
    invstd = apply("rsqrt", apply("add", var, num(attrs["eps"])))
    scale = apply("mul", weight, invstd)
    shift = apply("sub", bias, apply("mul", mean, scale))
    out = apply("add", apply("mul", x, scale.reshape(col)), shift.reshape(col))
    return [out, mean, invstd, new_mean, new_var]


def batch_norm_backward(apply, args, attrs):
    """(grad_input, grad_weight, grad_bias), or None for an empty batch."""
    g, x, weight, mean, invstd = args
    dims, col, count = _layout(x)
    if count == 0:
        return None
    num = x.dtype.type
    xhat = apply("mul", apply("sub", x, mean.reshape(col)), invstd.reshape(col))
    gbias = apply("sum", g, dims=dims)
    gweight = apply("sum", apply("mul", g, xhat), dims=dims)
    scale = apply("mul", weight, invstd).reshape(col)
    if attrs["training"]:
        centered = apply("sub", g, apply("mul", gbias, num(1 / count)).reshape(col))
        slope = apply("mul", gweight, num(1 / count)).reshape(col)
        g = apply("sub", centered, apply("mul", xhat, slope))
    return [apply("mul", g, scale), gweight, gbias]


def linear(apply, args, attrs):
    """x @ w.T (+ b)."""
    out = apply("matmul", args[0], apply("permute", args[1], dims=(1, 0)))
    return [out if len(args) == 2 else apply("add", out, args[2])]
