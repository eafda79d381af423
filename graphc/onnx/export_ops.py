"""The export table: graphc op name -> function emitting ONNX nodes for one graphc node.

An exporter gets the emitter `e` (names of input values, constants, `e.emit(...)`) and the
graphc node, and returns the ONNX names of the node's outputs (None for an output that
cannot be expressed and is unused). Ops that ONNX defines alike are one line in `SAME`;
the others are small composites of ONNX ops. Adding an op is adding one entry.
"""
from __future__ import annotations

import math

import numpy as np

from .common import onnx_dtype

EXPORTERS: dict = {}

INT64_MAX = np.iinfo(np.int64).max


def exports(*names):
    def register(fn):
        for n in names:
            EXPORTERS[n] = fn
        return fn
    return register


# graphc op -> ONNX op with the same inputs, outputs and meaning
SAME = {
    "abs": "Abs", "neg": "Neg", "exp": "Exp", "log": "Log", "sqrt": "Sqrt", "sin": "Sin",
    "cos": "Cos", "tanh": "Tanh", "sigmoid": "Sigmoid", "relu": "Relu", "erf": "Erf",
    "sign": "Sign", "add": "Add", "sub": "Sub", "mul": "Mul", "div": "Div", "pow": "Pow",
    "maximum": "Max", "minimum": "Min", "eq": "Equal", "lt": "Less", "le": "LessOrEqual",
    "gt": "Greater", "ge": "GreaterOrEqual", "logical_and": "And", "logical_or": "Or",
    "logical_not": "Not", "where": "Where", "matmul": "MatMul",
    "detach": "Identity",  # (an inference graph: no gradient to stop)
}
for _name, _op_type in SAME.items():
    EXPORTERS[_name] = (lambda op_type: lambda e, n: e.emit(op_type, e.ins(n)))(_op_type)


def _x(e, n, i=0):
    return e.name(n.inputs[i])


def _scalar(e, value, like):
    """A 0-d constant of the dtype of graphc value `like`."""
    return e.const(np.asarray(value, like.dtype.np))


@exports("ne")
def _ne(e, n):
    return e.emit("Not", e.emit("Equal", e.ins(n)))


@exports("log1p")
def _log1p(e, n):
    x = n.inputs[0]
    return e.emit("Log", [e.emit("Add", [e.name(x), _scalar(e, 1, x)])[0]])


@exports("rsqrt")
def _rsqrt(e, n):
    return e.emit("Reciprocal", e.emit("Sqrt", [_x(e, n)]))


@exports("square")
def _square(e, n):
    return e.emit("Mul", [_x(e, n), _x(e, n)])


@exports("leaky_relu")
def _leaky_relu(e, n):
    return e.emit("LeakyRelu", [_x(e, n)], alpha=float(n.attrs["negative_slope"]))


@exports("elu")
def _elu(e, n):
    return e.emit("Elu", [_x(e, n)], alpha=float(n.attrs["alpha"]))


@exports("gelu")
def _gelu(e, n):
    approximate = n.attrs["approximate"]
    if e.opset >= 20:
        return e.emit("Gelu", [_x(e, n)], approximate=approximate)
    x = n.inputs[0]
    xn = e.name(x)
    if approximate == "tanh":  # 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
        cube = e.emit("Mul", [xn, e.emit("Mul", [xn, xn])[0]])[0]
        inner = e.emit("Add", [xn, e.emit("Mul", [cube, _scalar(e, 0.044715, x)])[0]])[0]
        t = e.emit("Tanh", [e.emit("Mul", [inner, _scalar(e, math.sqrt(2 / math.pi), x)])[0]])
    else:  # 0.5 x (1 + erf(x / sqrt(2)))
        t = e.emit("Erf", [e.emit("Mul", [xn, _scalar(e, 1 / math.sqrt(2), x)])[0]])
    one_plus = e.emit("Add", [t[0], _scalar(e, 1, x)])[0]
    return e.emit("Mul", [e.emit("Mul", [xn, _scalar(e, 0.5, x)])[0], one_plus])


@exports("softplus")
def _softplus(e, n):
    x = n.inputs[0]
    beta, threshold = n.attrs["beta"], n.attrs["threshold"]
    bx = e.emit("Mul", [e.name(x), _scalar(e, beta, x)])[0]
    soft = e.emit("Div", [e.emit("Softplus", [bx])[0], _scalar(e, beta, x)])[0]
    linear = e.emit("Greater", [bx, _scalar(e, threshold, x)])[0]  # torch's switch to x
    return e.emit("Where", [linear, e.name(x), soft])


@exports("clamp")
def _clamp(e, n):
    x = n.inputs[0]
    lo, hi = n.attrs["min"], n.attrs["max"]
    return e.emit("Clip", [e.name(x), "" if lo is None else _scalar(e, lo, x),
                           "" if hi is None else _scalar(e, hi, x)])


@exports("cast")
def _cast(e, n):
    return e.emit("Cast", [_x(e, n)], to=onnx_dtype(n.attrs["dtype"]))


@exports("full_like")
def _full_like(e, n):
    out = n.outputs[0]
    value = e.tensor(np.asarray([n.attrs["value"]], out.dtype.np))
    return e.emit("ConstantOfShape", [e.emit("Shape", [_x(e, n)])[0]], value=value)


# ---- reductions ----------------------------------------------------------------------------
def _reduce(e, op_type, x, dims, keepdim):
    """ONNX Reduce* over `dims` (axes as an input from opset 18, ReduceSum from 13)."""
    axes = list(dims)
    if op_type == "ReduceSum" or e.opset >= 18:
        return e.emit(op_type, [x, e.const(np.asarray(axes, np.int64))], keepdims=int(keepdim))
    return e.emit(op_type, [x], axes=axes, keepdims=int(keepdim))


def _reduction(op_type):
    def export(e, n):
        return _reduce(e, op_type, _x(e, n), n.attrs["dims"], n.attrs["keepdim"])
    return export


for _name, _op_type in {"sum": "ReduceSum", "mean": "ReduceMean", "amax": "ReduceMax",
                        "amin": "ReduceMin", "logsumexp": "ReduceLogSumExp"}.items():
    EXPORTERS[_name] = _reduction(_op_type)


def count(e, x, dims, dtype):
    """The number of elements of graphc value x over dims, as a 0-d ONNX value of dtype:
    a constant when those sizes are known, else computed from Shape(x)."""
    sizes = [x.shape[d] for d in dims]
    if all(isinstance(s, int) for s in sizes):
        return e.const(np.asarray(math.prod(sizes), dtype.np))
    shape = e.emit("Shape", [e.name(x)])[0]
    picked = e.emit("Gather", [shape, e.const(np.asarray(list(dims), np.int64))])[0]
    prod = _reduce(e, "ReduceProd", picked, [0], False)[0]
    return e.emit("Cast", [prod], to=onnx_dtype(dtype))[0]


@exports("shape_prod")
def _shape_prod(e, n):
    return [count(e, n.inputs[0], n.attrs["dims"], n.attrs["dtype"])]


@exports("cross_entropy")
def _cross_entropy(e, n):
    """ONNX's SoftmaxCrossEntropyLoss has the same meaning; lse is ReduceLogSumExp."""
    loss = e.emit("SoftmaxCrossEntropyLoss", e.ins(n), ignore_index=n.attrs["ignore_index"],
                  reduction=n.attrs["reduction"])[0]
    return [loss, _reduce(e, "ReduceLogSumExp", _x(e, n), [1], False)[0]]


@exports("var")
def _var(e, n):
    x = n.inputs[0]
    dims, keep = n.attrs["dims"], n.attrs["keepdim"]
    mean = _reduce(e, "ReduceMean", e.name(x), dims, True)[0]
    d = e.emit("Sub", [e.name(x), mean])[0]
    total = _reduce(e, "ReduceSum", e.emit("Mul", [d, d])[0], dims, keep)[0]
    denom = e.emit("Sub", [count(e, x, dims, x.dtype), _scalar(e, n.attrs["correction"], x)])[0]
    return e.emit("Div", [total, denom])


def _arg(op_type):
    def export(e, n):
        x, dim, keep = e.name(n.inputs[0]), n.attrs["dim"], n.attrs["keepdim"]
        if dim is None:  # over all elements: flatten first
            x = e.emit("Reshape", [x, e.const(np.asarray([-1], np.int64))])[0]
            out = e.emit(op_type, [x], axis=0, keepdims=0)[0]
            if keep:
                shape = e.const(np.ones(n.inputs[0].ndim, np.int64))
                return e.emit("Reshape", [out, shape])
            return [out]
        return e.emit(op_type, [x], axis=dim, keepdims=int(keep))
    return export


EXPORTERS["argmax"] = _arg("ArgMax")
EXPORTERS["argmin"] = _arg("ArgMin")


def _extreme_dim(reduce_type, arg_type):
    def export(e, n):
        x, dim, keep = _x(e, n), n.attrs["dim"], n.attrs["keepdim"]
        return [_reduce(e, reduce_type, x, [dim], keep)[0],
                e.emit(arg_type, [x], axis=dim, keepdims=int(keep))[0]]
    return export


EXPORTERS["max_dim"] = _extreme_dim("ReduceMax", "ArgMax")
EXPORTERS["min_dim"] = _extreme_dim("ReduceMin", "ArgMin")


@exports("softmax")
def _softmax(e, n):
    return e.emit("Softmax", [_x(e, n)], axis=n.attrs["dim"])


@exports("log_softmax")
def _log_softmax(e, n):
    return e.emit("LogSoftmax", [_x(e, n)], axis=n.attrs["dim"])

