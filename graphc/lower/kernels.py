"""Loop code for the ops that do not fuse: copies, matmul, multi-pass reductions, indexing.

Each emitter writes straight-line loops with literal sizes into the program function; the
only library calls are np.dot (BLAS, for float matrices big enough to pay for it) and
np.linalg.inv. Index checks return an error code that the runner maps to the graph node.
"""
from __future__ import annotations

import math

from ..ops import linalg, reduce, shape as shape_ops
from ..ops.scalar import reduction_combine, reduction_identity
from ..ops.shape import _pad_widths, _slice_infer
from ..passes.layout import Layout, _slice_layout, contiguous_strides
from .emit import _linear, aligned_strides, collapse, matrix_view
from .scalar import CTOR, literal

# BLAS pays for itself above this much work (multiply-adds), and only for inner sizes of
# at least BLAS_MIN_K: a literal-size loop wins on skinny products (NUMBA_NOTES).
BLAS_MIN_WORK = 32768
BLAS_MIN_K = 16


def emit_copy(em, src, dst_name, dst_base, dst_strides, shape=None):
    """dst[...] = src[...] over src's shape (dst_strides over that shape)."""
    shape = shape or src.type.shape
    lit = em.scalar_constant(src)
    sets = [list(dst_strides)] + ([] if lit else [aligned_strides(em.layout(src), shape)])
    cshape, cstrides, _ = collapse(list(shape), sets)
    idx = em.loops(em.bounds(cshape))
    if lit:
        value = lit
    else:
        name, base = em.array_of(src)
        value = f"{name}[{_linear(base, cstrides[1], cshape, idx)}]"
    em.line(f"{dst_name}[{_linear(dst_base, cstrides[0], cshape, idx)}] = {value}")
    em.close(len(cshape))


def emit_fill(em, value, n, literal_value):
    name, base = em.array_of(value)
    i = em.loops([em.size(n)])
    em.line(f"{name}[{base} + {i[0]}] = {literal_value}")
    em.close(1)


def _out(em, value):
    name, base = em.array_of(value)
    return name, base, contiguous_strides(value.type.shape)


# ---- shape ops that copy ------------------------------------------------------------------------
def emit_reshape(em, node, opts, helpers):
    x, y = node.inputs[0], node.outputs[0]
    name, base = em.array_of(y)
    emit_copy(em, x, name, base, contiguous_strides(x.type.shape))


def emit_cat(em, node, opts, helpers):
    y = node.outputs[0]
    dim = node.attrs["dim"]
    name, base, strides = _out(em, y)
    start = 0
    for x in node.inputs:
        emit_copy(em, x, name, base + start * strides[dim], strides)
        start += x.type.shape[dim]


def emit_pad(em, node, opts, helpers):
    x, y = node.inputs[0], node.outputs[0]
    emit_fill(em, y, y.type.numel(), literal(node.attrs["value"], y.dtype.name))
    name, base, strides = _out(em, y)
    widths = _pad_widths(x.ndim, node.attrs["pad"])
    emit_copy(em, x, name, base + sum(a * s for (a, _), s in zip(widths, strides)), strides)


def _sliced_out(em, y, index):
    """Where y[index] lives: (array, offset, strides over the selection's shape)."""
    name, base, strides = _out(em, y)
    target = _slice_infer([y.type], index)[0].shape
    lay = _slice_layout(index, Layout(y, 0, strides, y.type.shape), target)
    if lay.offset and all(st >= 0 for st in lay.strides):
        # where the slice starts is a kernel argument: the gradients of x[t] for every t
        # (an unrolled time loop) share one kernel
        return name, f"{base} + {em.size(lay.offset)}", lay.strides
    return name, base + lay.offset, lay.strides


def emit_slice_backward(em, node, opts, helpers):
    g, y = node.inputs[0], node.outputs[0]
    emit_fill(em, y, y.type.numel(), literal(0, y.dtype.name))
    name, base, strides = _sliced_out(em, y, node.attrs["index"])
    emit_copy(em, g, name, base, strides)


def emit_index_put(em, node, opts, helpers):
    x, v = node.inputs
    y = node.outputs[0]
    name, base, strides = _out(em, y)
    emit_copy(em, x, name, base, strides)
    target = _slice_infer([y.type], node.attrs["index"])[0].shape
    name, base, strides = _sliced_out(em, y, node.attrs["index"])
    emit_copy(em, v, name, base, strides, shape=target)


# ---- gather / scatter with bounds checks ------------------------------------------------------------
def _gathered_address(em, node, out_idx, index_values, ishape):
    """Emit the index loads and bounds checks for one output position; returns the picked
    indices and the position's index before and after the indexed dims."""
    axis = node.attrs["axis"]
    k = len(ishape)
    iv = out_idx[axis:axis + k]
    picks = []
    for j, ix in enumerate(index_values):
        n = node.inputs[0].type.shape[axis + j] if node.op is shape_ops.index else \
            node.inputs[1].type.shape[axis + j]
        t = em.fresh("ix")
        st = aligned_strides(em.layout(ix), ishape)
        name, base = em.array_of(ix)
        em.line(f"{t} = {name}[{_linear(base, st, ishape, iv)}]")
        em.line(f"if {t} < 0:")
        em.line(f"    {t} += {n}")
        em.line(f"if {t} < 0 or {t} >= {n}:")
        em.error(node, f"index out of bounds for dim {axis + j} with size {n}", t, indent=1)
        picks.append(t)
    return picks, out_idx[:axis], out_idx[axis + k:]


def _x_address(base, strides, shape, head, picks, tail):
    index = list(head) + list(picks) + list(tail)
    return _linear(base, strides, shape, index)


def emit_index(em, node, opts, helpers):
    x, idx = node.inputs[0], node.inputs[1:]
    y = node.outputs[0]
    ishape = y.type.shape[node.attrs["axis"]:node.attrs["axis"] + _ishape_len(node, idx)]
    out_idx = em.loops(y.type.shape)
    picks, head, tail = _gathered_address(em, node, out_idx, idx, ishape)
    lay = em.layout(x)
    name, base = em.array_of(x)
    yname, ybase, yst = _out(em, y)
    em.line(f"{yname}[{_linear(ybase, yst, y.type.shape, out_idx)}] = "
            f"{name}[{_x_address(base, lay.strides, lay.shape, head, picks, tail)}]")
    em.close(len(y.type.shape))


def _ishape_len(node, idx):
    from ..types import broadcast_shapes
    return len(broadcast_shapes(*(v.type.shape for v in idx)))


def emit_index_backward(em, node, opts, helpers):
    g, _, idx = node.inputs[0], node.inputs[1], node.inputs[2:]
    y = node.outputs[0]
    emit_fill(em, y, y.type.numel(), literal(0, y.dtype.name))
    ishape = g.type.shape[node.attrs["axis"]:node.attrs["axis"] + _ishape_len(node, idx)]
    g_idx = em.loops(g.type.shape)
    picks, head, tail = _gathered_address(em, node, g_idx, idx, ishape)
    yname, ybase, yst = _out(em, y)
    target = f"{yname}[{_x_address(ybase, yst, y.type.shape, head, picks, tail)}]"
    em.line(f"{target} += {em.load(g, g_idx)}")
    em.close(len(g.type.shape))


# ---- reductions that need several passes or return indices ------------------------------------------
def _rows(em, x, dims):
    """Open loops over x's kept dims; returns (kept index, inner-loop opener)."""
    shape = x.type.shape
    kept = [i for i in range(len(shape)) if i not in dims]
    outer = em.loops([shape[i] for i in kept])
    red = sorted(dims)

    def inner():
        names = em.loops([shape[i] for i in red])
        index = [None] * len(shape)
        for i, n in zip(kept, outer):
            index[i] = n
        for i, n in zip(red, names):
            index[i] = n
        return index, len(red)
    return outer, inner, kept


def _store_row(em, value, outer, kept, x_shape, expr):
    """Store a per-row result: the output holds the kept dims in order (keepdim or not)."""
    name, base = em.array_of(value)
    strides = contiguous_strides([x_shape[i] for i in kept])
    em.line(f"{name}[{_linear(base, strides, [x_shape[i] for i in kept], outer)}] = {expr}")


def emit_var(em, node, opts, helpers):
    x, y = node.inputs[0], node.outputs[0]
    dims = node.attrs["dims"]
    n = math.prod(x.type.shape[d] for d in dims)
    outer, inner, kept = _rows(em, x, dims)
    s, q = em.fresh("s"), em.fresh("q")
    em.line(f"{s} = f64(0.0)")
    index, depth = inner()
    em.line(f"{s} += {em.load(x, index)}")
    em.close(depth)
    em.line(f"{s} = {s} / {max(n, 1)}")
    em.line(f"{q} = f64(0.0)")
    index, depth = inner()
    d = em.fresh("d")
    em.line(f"{d} = {em.load(x, index)} - {s}")
    em.line(f"{q} += {d} * {d}")
    em.close(depth)
    _store_row(em, y, outer, kept, x.type.shape,
               f"{CTOR[y.dtype.name]}({q} / f64({max(n - node.attrs['correction'], 0)}))")
    em.close(len(outer))


def _row_max(em, x, inner, dt):
    m = em.fresh("m")
    em.line(f"{m} = {reduction_identity(reduce.amax.reduction, dt)}")
    index, depth = inner()
    v = em.fresh("v")
    em.line(f"{v} = {em.load(x, index)}")
    em.line(f"{m} = {reduction_combine(reduce.amax.reduction, m, v)}")
    em.close(depth)
    return m


def emit_logsumexp(em, node, opts, helpers):
    x, y = node.inputs[0], node.outputs[0]
    dt = x.dtype.name
    outer, inner, kept = _rows(em, x, node.attrs["dims"])
    m = _row_max(em, x, inner, dt)
    em.line(f"if not math.isfinite({m}):")
    em.line(f"    {m} = {literal(0, dt)}")
    s = em.fresh("s")
    em.line(f"{s} = f64(0.0)")
    index, depth = inner()
    em.line(f"{s} += math.exp({em.load(x, index)} - {m})")
    em.close(depth)
    _store_row(em, y, outer, kept, x.type.shape, f"{CTOR[dt]}({m} + math.log({s}))")
    em.close(len(outer))


def emit_softmax(em, node, opts, helpers):
    x, y = node.inputs[0], node.outputs[0]
    dt = x.dtype.name
    outer, inner, kept = _rows(em, x, (node.attrs["dim"],))
    m = _row_max(em, x, inner, dt)
    s = em.fresh("s")
    em.line(f"{s} = {literal(0, dt)}")
    index, depth = inner()
    em.line(f"{s} += math.exp({em.load(x, index)} - {m})")
    em.close(depth)
    yname, ybase, yst = _out(em, y)
    index, depth = inner()
    if node.op is reduce.softmax:
        value = f"math.exp({em.load(x, index)} - {m}) / {s}"
    else:
        value = f"{em.load(x, index)} - {m} - math.log({s})"
    em.line(f"{yname}[{_linear(ybase, yst, y.type.shape, index)}] = {value}")
    em.close(depth)
    em.close(len(outer))


def emit_arg_reduce(em, node, opts, helpers):
    """max_dim / min_dim (values and indices), argmax / argmin (indices; dim None = all)."""
    x = node.inputs[0]
    dim = node.attrs["dim"]
    dims = tuple(range(x.ndim)) if dim is None else (dim,)
    better = ">" if node.op in (reduce.max_dim, reduce.argmax) else "<"
    outer, inner, kept = _rows(em, x, dims)
    best, at, k = em.fresh("b"), em.fresh("at"), em.fresh("k")
    em.line(f"{best} = {literal(0, x.dtype.name)}")
    em.line(f"{at} = 0")
    em.line(f"{k} = 0")
    first = em.fresh("first")
    em.line(f"{first} = True")
    index, depth = inner()
    v = em.fresh("v")
    em.line(f"{v} = {em.load(x, index)}")
    em.line(f"if {first} or ({v} {better} {best} and {best} == {best}) or "
            f"({v} != {v} and {best} == {best}):")
    em.line(f"    {best} = {v}")
    em.line(f"    {at} = {k}")
    em.line(f"    {first} = False")
    em.line(f"{k} += 1")
    em.close(depth)
    if node.op.num_outputs == 2:  # max_dim, min_dim: values and indices
        _store_row(em, node.outputs[0], outer, kept, x.type.shape, best)
        _store_row(em, node.outputs[1], outer, kept, x.type.shape, f"i64({at})")
    else:
        _store_row(em, node.outputs[0], outer, kept, x.type.shape, f"i64({at})")
    em.close(len(outer))


# ---- linear algebra ----------------------------------------------------------------------------------
def matmul_geometry(em, node):
    """(M, K, N, a's shape and strides, b's shape and strides, batch dims) of a matmul; a
    vector operand reads as a one-row (a) or one-column (b) matrix."""
    a, b = node.inputs
    y = node.outputs[0]
    la, lb = em.layout(a), em.layout(b)
    ash, ast = list(la.shape), list(la.strides)
    bsh, bst = list(lb.shape), list(lb.strides)
    if len(ash) == 1:
        ash, ast = [1] + ash, [0] + ast
    if len(bsh) == 1:
        bsh, bst = bsh + [1], bst + [0]
    batch = list(y.type.shape[:len(y.type.shape) - (a.ndim > 1) - (b.ndim > 1)])
    return ash[-2], ash[-1], bsh[-1], (ash, ast), (bsh, bst), batch


def blas_operands(em, node):
    """For a float matmul that is one BLAS product (no batch dims, or a dense `a` with batch
    dims times a matrix): ((array, start, shape, transposed) of a, b and the output),
    addressed in the program's arrays; None otherwise."""
    y = node.outputs[0]
    M, K, N, (ash, ast), (bsh, bst), batch = matmul_geometry(em, node)
    if batch and len(bsh) == 2 and ast == list(contiguous_strides(ash)):
        # (..., M, K) @ (K, N) with `a` dense: one product of all its rows (a Linear layer
        # on a sequence or a batch of images)
        M, ast, batch = math.prod(ash[:-1]), [K, 1], []
    if batch or y.dtype.name not in ("float32", "float64") or min(M, K, N) == 0 or \
            max(K, N) < BLAS_MIN_K:  # a product with few columns and a short inner dim is
        return None                  # a loop kernel: BLAS took 7x its time on W2's
                                     # (40401, 2) @ (2, 3)
    out = []
    for value, (r, c, rs, cs) in zip((*node.inputs, y), ((M, K, ast[-2], ast[-1]),
                                                          (K, N, bst[-2], bst[-1]),
                                                          (M, N, N, 1))):
        view = matrix_view(r, c, rs, cs)
        if view is None:
            return None
        name, start = em.array_of(value)
        out.append((name, start, *view))
    return out


def emit_matmul(em, node, opts, helpers):
    a, b = node.inputs
    y = node.outputs[0]
    M, K, N, (ash, ast), (bsh, bst), batch = matmul_geometry(em, node)
    a_b = aligned_strides(Layout(None, 0, ast[:-2], ash[:-2]), batch) if batch else []
    b_b = aligned_strides(Layout(None, 0, bst[:-2], bsh[:-2]), batch) if batch else []
    aname, abase = em.array_of(a)
    bname, bbase = em.array_of(b)
    yname, ybase = em.array_of(y)
    bidx = em.loops(batch)
    ao = _linear(abase, a_b, batch, bidx)
    bo = _linear(bbase, b_b, batch, bidx)
    yo = _linear(ybase, contiguous_strides(batch + [M * N]), batch + [M * N], bidx + ["0"])
    use_blas = (y.dtype.name in ("float32", "float64") and M * N * K >= BLAS_MIN_WORK
                and K >= BLAS_MIN_K)
    # a BLAS call takes its sizes as arguments in kernel mode: one kernel per transposition
    # pattern serves every layer width
    sizes = (em.size(M), em.size(K), em.size(N)) if use_blas and not batch else None
    sm, sk, sn = sizes or (M, K, N)
    va = em.view2d(a, ao, M, K, ast[-2], ast[-1], sizes and (sm, sk)) if use_blas else None
    vb = em.view2d(b, bo, K, N, bst[-2], bst[-1], sizes and (sk, sn)) if use_blas else None
    if va and vb:
        n = f"{sm} * {sn}" if sizes else M * N
        em.line(f"gemm({va}, {vb}, {yname}[{yo}:{yo} + {n}].reshape(({sm}, {sn})))")
    else:
        i, j, k = em.fresh("i"), em.fresh("j"), em.fresh("k")
        zero = literal(0, y.dtype.name)
        em.line(f"for {i} in range({M}):")
        em.line(f"    for {j} in range({N}):")
        em.line(f"        {yname}[{yo} + {i} * {N} + {j}] = {zero}")
        em.line(f"    for {k} in range({K}):")
        aik = em.fresh("aik")  # (not "a": kernel parameters are a0, a1, ...)
        em.line(f"        {aik} = {aname}[{ao} + {i} * {ast[-2]} + {k} * {ast[-1]}]")
        em.line(f"        for {j} in range({N}):")
        em.line(f"            {yname}[{yo} + {i} * {N} + {j}] += "
                f"{aik} * {bname}[{bo} + {k} * {bst[-2]} + {j} * {bst[-1]}]")
    em.close(len(batch))


def emit_inverse(em, node, opts, helpers):
    x, y = node.inputs[0], node.outputs[0]
    n = x.type.shape[-1]
    batch = list(x.type.shape[:-2])
    lay = em.layout(x)
    xname, xbase = em.array_of(x)
    yname, ybase = em.array_of(y)
    bidx = em.loops(batch)
    xo = _linear(xbase, lay.strides[:-2], batch, bidx)
    yo = _linear(ybase, contiguous_strides(batch + [n * n]), batch + [n * n], bidx + ["0"])
    m, r = em.fresh("mat"), em.fresh("inv")
    em.line(f"{m} = np.empty(({n}, {n}), {CTOR[x.dtype.name]})")
    em.line(f"for r_ in range({n}):")
    em.line(f"    for c_ in range({n}):")
    em.line(f"        {m}[r_, c_] = {xname}[{xo} + r_ * {lay.strides[-2]} + c_ * "
            f"{lay.strides[-1]}]")
    em.line(f"{r} = inverse({m})")
    em.line(f"for r_ in range({n}):")
    em.line(f"    for c_ in range({n}):")
    em.line(f"        {yname}[{yo} + r_ * {n} + c_] = {r}[r_, c_]")
    em.close(len(batch))


def dense(em, value):
    """A contiguous 1-D array expression holding `value`'s elements: a slice of its buffer,
    or a scratch copy when it is a strided view."""
    n = value.type.numel()
    if em.layout(value).is_contiguous:
        name, base = em.array_of(value)
        return f"{name}[{base}:{base + n}]"
    tmp = em.fresh("dense")
    em.line(f"{tmp} = np.empty({n}, {CTOR[value.dtype.name]})")
    emit_copy(em, value, tmp, 0, contiguous_strides(value.type.shape))
    return tmp


def emit_bitcast(em, node, opts, helpers):
    """y = x's bytes read as y's dtype (torch's view(dtype))."""
    x, y = node.inputs[0], node.outputs[0]
    if x.type.numel() == 0:
        return
    yname, ybase = em.array_of(y)
    em.line(f"{yname}[{ybase}:{ybase + y.type.numel()}] = "
            f"{dense(em, x)}.view({CTOR[y.dtype.name]})")


# op -> its loop emitter (graphc/lower/rules.py registers them as the cpu target's rules)
EMITTERS = {
    shape_ops.reshape: emit_reshape, shape_ops.cat: emit_cat, shape_ops.pad: emit_pad,
    shape_ops.slice_backward: emit_slice_backward, shape_ops.index_put: emit_index_put,
    shape_ops.index: emit_index, shape_ops.index_backward: emit_index_backward,
    reduce.var: emit_var, reduce.logsumexp: emit_logsumexp, reduce.softmax: emit_softmax,
    reduce.log_softmax: emit_softmax, reduce.max_dim: emit_arg_reduce,
    reduce.min_dim: emit_arg_reduce, reduce.argmax: emit_arg_reduce,
    reduce.argmin: emit_arg_reduce, linalg.matmul: emit_matmul, linalg.inverse: emit_inverse,
    shape_ops.bitcast: emit_bitcast,
}
