"""Op table cases for issue 12's indexing, rearranging, products and linear algebra, and the
eager-only functions (assembled with the others in tests/op_table_more.py)."""
from __future__ import annotations

import numpy as np
import scipy.linalg

import graphc as gc
from op_table import Case, distinct, normal, rng
from op_table_pointwise import _with_zeros, ints


def _i(name, op, fn, ref, inputs, **kw):
    return Case(name, op, fn, inputs, ref, grad_inputs=kw.pop("grad_inputs", [0]), **kw)


IDX = np.array([[0, 2, 1, 0], [1, 1, 0, 2]])  # into a (3, 4) tensor along dim 0, or (2, 3) dim 1


def _np_scatter_add(x, dim, index, src):
    out = x.copy()
    for pos in np.ndindex(index.shape):
        target = list(pos)
        target[dim] = index[pos]
        out[tuple(target)] += src[pos]
    return out


def _np_scatter_set(x, s):
    out = x.copy()
    idx = np.array([[2, 0], [1, 3]])
    for i in range(2):
        for j in range(2):
            out[i, idx[i, j]] = s[i, j]
    return out


def _np_scatter_set_value(x):
    out = x.copy()
    for j in range(4):
        out[IDX[0, j], j] = 5.0
    return out


def _np_scatter_mean(x, s):
    total, count = x.copy(), np.ones_like(x)
    for pos in np.ndindex(IDX.shape):
        total[IDX[pos], pos[1]] += s[pos]
        count[IDX[pos], pos[1]] += 1
    return total / count


def _np_scatter_ext(x, s, fn, include_self=True):
    out = x.copy()
    if not include_self:
        for pos in np.ndindex(IDX.shape):
            out[IDX[pos], pos[1]] = np.inf if fn is np.minimum else -np.inf
    for pos in np.ndindex(IDX.shape):
        out[IDX[pos], pos[1]] = fn(out[IDX[pos], pos[1]], s[pos])
    return out


def _np_index_add(x, s):
    out = x.copy()
    for k, i in enumerate([2, 0, 2]):
        out[i] += 2 * s[k]
    return out


INDEXING = [
    # Tensor.view(dtype): eagerly a view of the same storage, on symbolic values `bitcast`
    _i("view-dtype-same-size", "bitcast", lambda x: x.view(gc.int64),
       lambda x: x.view(np.int64), [normal(2, 3)], grad=False),
    _i("view-dtype-smaller", "bitcast", lambda x: x.view(gc.int32),
       lambda x: x.view(np.int32), [normal(2, 3)], grad=False),
    _i("gather", "index", lambda x: gc.gather(x, 0, IDX[:, :3]),
       lambda x: x[IDX[:, :3], np.arange(3)], [normal(3, 4)]),
    _i("gather-dim1", "index", lambda x, i: x.gather(1, i), lambda x, i: np.take_along_axis(x, i, 1),
       [normal(2, 4), np.array([[3, 0, 0], [1, 2, 3]])]),
    _i("take_along_dim", "index", lambda x, i: gc.take_along_dim(x, i, 1),
       lambda x, i: np.take_along_axis(x, i, 1), [normal(2, 4), np.argsort(normal(2, 4), 1)]),
    _i("scatter_add", "index_backward", lambda x, s: x.scatter_add(0, IDX, s),
       lambda x, s: _np_scatter_add(x, 0, IDX, s), [normal(3, 4), normal(2, 4)],
       grad_inputs=[0, 1]),
    _i("scatter", "index_backward", lambda x, s: gc.scatter(x, 1, np.array([[2, 0], [1, 3]]), s),
       lambda x, s: _np_scatter_set(x, s), [normal(2, 4), normal(2, 3)], grad_inputs=[0, 1]),
    _i("scatter-value", "index_backward", lambda x: x.scatter(0, IDX[:1], value=5.0),
       _np_scatter_set_value, [normal(3, 4)]),
    _i("scatter_reduce-mean", "index_backward",
       lambda x, s: gc.scatter_reduce(x, 0, IDX, s, "mean"),
       lambda x, s: _np_scatter_mean(x, s), [normal(3, 4), normal(2, 4)], grad_inputs=[0, 1]),
    _i("scatter_reduce-amax", "scatter_reduce_extreme",
       lambda x, s: gc.scatter_reduce(x, 0, IDX, s, "amax"), lambda x, s: _np_scatter_ext(x, s, np.maximum),
       [distinct(3, 4), distinct(2, 4) + 0.01], grad_inputs=[0, 1]),
    _i("scatter_reduce-amin-exclude", "scatter_reduce_extreme",
       lambda x, s: x.scatter_reduce(0, IDX, s, "amin", include_self=False),
       lambda x, s: _np_scatter_ext(x, s, np.minimum, False), [distinct(3, 4), distinct(2, 4) + 0.01],
       grad_inputs=[0, 1]),
    _i("index_select", "index", lambda x: x.index_select(1, np.array([3, 0, 3])),
       lambda x: x[:, [3, 0, 3]], [normal(2, 4)]),
    _i("index_add", "index_backward", lambda x, s: gc.index_add(x, 0, np.array([2, 0, 2]), s, alpha=2),
       lambda x, s: _np_index_add(x, s), [normal(3, 2), normal(3, 2)], grad_inputs=[0, 1]),
    _i("index_fill", "index_backward", lambda x: x.index_fill(1, np.array([0, 2]), -1.0),
       lambda x: np.where(np.isin(np.arange(3), [0, 2]), -1.0, x), [normal(2, 3)]),
    _i("index_copy", "index_backward", lambda x, s: gc.index_copy(x, 0, np.array([2, 0]), s),
       lambda x, s: np.stack([s[1], x[1], s[0]]), [normal(3, 2), normal(2, 2)], grad_inputs=[0, 1]),
    _i("masked_fill", "where", lambda x, m: x.masked_fill(m, 0.5), lambda x, m: np.where(m, 0.5, x),
       [normal(3, 4), rng.random(4) > 0.5]),
    _i("take", "index", lambda x: gc.take(x, np.array([[0, 5], [11, 3]])),
       lambda x: np.take(x, [[0, 5], [11, 3]]), [normal(3, 4)]),
    _i("select", "slice", lambda x: x.select(1, -1), lambda x: x[:, -1], [normal(3, 4)]),
    _i("narrow", "slice", lambda x: gc.narrow(x, 1, 1, 2), lambda x: x[:, 1:3], [normal(3, 4)]),
    _i("flip", "index", lambda x: x.flip((0, 2)), lambda x: np.flip(x, (0, 2)), [normal(2, 3, 2)]),
    _i("fliplr", "index", gc.fliplr, np.fliplr, [normal(2, 3)]),
    _i("flipud", "index", gc.flipud, np.flipud, [normal(2, 3)]),
    _i("roll", "index", lambda x: x.roll(1, 1), lambda x: np.roll(x, 1, 1), [normal(2, 3)]),
    _i("roll-flat", "index", lambda x: gc.roll(x, -2), lambda x: np.roll(x, -2), [normal(2, 3)]),
    _i("roll-two", "index", lambda x: gc.roll(x, (1, 2), (0, 1)), lambda x: np.roll(x, (1, 2), (0, 1)),
       [normal(2, 3)]),
    _i("rot90", "index", lambda x: gc.rot90(x), np.rot90, [normal(2, 3)]),
    _i("rot90-k3", "index", lambda x: x.rot90(3, (1, 2)), lambda x: np.rot90(x, 3, (1, 2)),
       [normal(2, 2, 3)]),
    _i("tril", "where", lambda x: x.tril(), np.tril, [normal(3, 4)]),
    _i("triu-batched", "where", lambda x: gc.triu(x, 1), lambda x: np.triu(x, 1), [normal(2, 3, 3)]),
    _i("diag-1d", "index_backward", lambda x: gc.diag(x, 1), lambda x: np.diag(x, 1), [normal(3)]),
    _i("diag-2d", "index", lambda x: x.diag(-1), lambda x: np.diag(x, -1), [normal(3, 4)]),
    _i("diagonal", "index", lambda x: x.diagonal(0, 1, 2), lambda x: np.diagonal(x, 0, 1, 2),
       [normal(2, 3, 3)]),
    _i("diag_embed", "index_backward", gc.diag_embed,
       lambda x: np.stack([np.diag(r) for r in x]), [normal(2, 3)]),
    _i("trace", "index", lambda x: x.trace(), np.trace, [normal(3, 4)]),
    _i("repeat", "broadcast_to", lambda x: x.repeat(2, 1, 3), lambda x: np.tile(x, (2, 1, 3)),
       [normal(2, 3)]),
    _i("tile", "broadcast_to", lambda x: gc.tile(x, (2,)), lambda x: np.tile(x, 2), [normal(2, 3)]),
    _i("repeat_interleave", "index", lambda x: x.repeat_interleave(2, 0),
       lambda x: np.repeat(x, 2, 0), [normal(2, 3)]),
    _i("movedim", "permute", lambda x: gc.movedim(x, 0, -1), lambda x: np.moveaxis(x, 0, -1),
       [normal(2, 3, 4)]),
    _i("movedim-two", "permute", lambda x: gc.movedim(x, (0, 1), (2, 0)),
       lambda x: np.moveaxis(x, (0, 1), (2, 0)), [normal(2, 3, 4)]),
    _i("swapdims", "permute", lambda x: x.swapdims(0, 2), lambda x: np.swapaxes(x, 0, 2),
       [normal(2, 3, 4)]),
    _i("unbind", "slice", lambda x: gc.unbind(x, 1)[2], lambda x: x[:, 2], [normal(2, 3)]),
    _i("unflatten", "reshape", lambda x: x.unflatten(1, (2, 3)), lambda x: x.reshape(2, 2, 3),
       [normal(2, 6)]),
    _i("tensor_split", "slice", lambda x: gc.tensor_split(x, 3, 1)[0], lambda x: x[:, :3],
       [normal(2, 7)]),
    _i("tensor_split-indices", "slice", lambda x: x.tensor_split([1, 5], 1)[1], lambda x: x[:, 1:5],
       [normal(2, 7)]),
    _i("vstack", "cat", lambda a, b: gc.vstack([a, b]), lambda a, b: np.vstack([a, b]),
       [normal(3), normal(2, 3)], grad_inputs=[0, 1]),
    _i("hstack", "cat", lambda a, b: gc.hstack([a, b]), lambda a, b: np.hstack([a, b]),
       [normal(2, 2), normal(2, 3)], grad_inputs=[0, 1]),
    _i("dstack", "cat", lambda a, b: gc.dstack([a, b]), lambda a, b: np.dstack([a, b]),
       [normal(2, 2), normal(2, 2)], grad_inputs=[0, 1]),
    _i("column_stack", "cat", lambda a, b: gc.column_stack([a, b]),
       lambda a, b: np.column_stack([a, b]), [normal(3), normal(3, 2)], grad_inputs=[0, 1]),
    _i("cat-promotes", "cat", lambda a, b: gc.cat([a, b]), lambda a, b: np.concatenate([a, b]),
       [normal(2), ints(3)]),
    _i("meshgrid", "broadcast_to", lambda a, b: gc.meshgrid(a, b, indexing="xy")[0] * 2
       + gc.meshgrid(a, b, indexing="xy")[1],
       lambda a, b: np.meshgrid(a, b)[0] * 2 + np.meshgrid(a, b)[1], [normal(3), normal(2)],
       grad_inputs=[0, 1]),
    _i("broadcast_tensors", "broadcast_to", lambda a, b: gc.broadcast_tensors(a, b)[0]
       * gc.broadcast_tensors(a, b)[1], lambda a, b: a * b, [normal(3, 1), normal(4)],
       grad_inputs=[0, 1]),
    _i("atleast_3d", "reshape", lambda a: gc.atleast_3d(a), lambda a: np.atleast_3d(a), [normal(3)]),
    _i("block_diag", "pad", lambda a, b: gc.block_diag(a, b),
       lambda a, b: scipy.linalg.block_diag(a, b), [normal(2, 2), normal(1, 3)],
       grad_inputs=[0, 1]),
    _i("cartesian_prod", "cat", lambda a, b: gc.cartesian_prod(a, b),
       lambda a, b: np.array([[x, y] for x in a for y in b]), [normal(3), normal(2)],
       grad_inputs=[0, 1]),
]


def _sym(a):
    return (a + a.mT) * 0.5


def _np_sym(a):
    return (a + np.swapaxes(a, -1, -2)) / 2


def _spd(*shape):
    a = normal(*shape)
    return a @ np.swapaxes(a, -1, -2) + 3 * np.eye(shape[-1])


PRODUCTS = [
    Case("outer", "mul", gc.outer, [normal(3), normal(4)], np.outer),
    Case("dot", "matmul", gc.dot, [normal(4), normal(4)], np.dot),
    Case("vdot", "matmul", lambda a, b: a.vdot(b), [normal(4), normal(4)], np.vdot),
    Case("inner", "matmul", gc.inner, [normal(2, 4), normal(3, 4)], np.inner),
    Case("mv", "matmul", lambda a, b: a.mv(b), [normal(3, 4), normal(4)], np.matmul),
    Case("addmm", "matmul", lambda c, a, b: gc.addmm(c, a, b, beta=0.5, alpha=2),
         [normal(3), normal(3, 4), normal(4, 3)], lambda c, a, b: 0.5 * c + 2 * a @ b),
    Case("addmv", "matmul", gc.addmv, [normal(3), normal(3, 4), normal(4)],
         lambda c, a, b: c + a @ b),
    Case("addr", "mul", gc.addr, [normal(3, 2), normal(3), normal(2)],
         lambda c, a, b: c + np.outer(a, b)),
    Case("baddbmm", "matmul", gc.baddbmm, [normal(3, 2), normal(2, 3, 4), normal(2, 4, 2)],
         lambda c, a, b: c + a @ b),
    Case("addbmm", "matmul", gc.addbmm, [normal(3, 2), normal(2, 3, 4), normal(2, 4, 2)],
         lambda c, a, b: c + (a @ b).sum(0)),
    Case("kron", "mul", gc.kron, [normal(2, 3), normal(2, 2)], np.kron),
    Case("cross", "sub", lambda a, b: gc.cross(a, b, dim=1), [normal(2, 3), normal(2, 3)],
         lambda a, b: np.cross(a, b, axis=1)),
    Case("tensordot", "matmul", lambda a, b: gc.tensordot(a, b, ([1, 0], [0, 2])),
         [normal(3, 2, 4), normal(2, 5, 3)], lambda a, b: np.tensordot(a, b, ([1, 0], [0, 2]))),
    Case("einsum-matmul", "mul", lambda a, b: gc.einsum("ij,jk->ik", a, b),
         [normal(2, 3), normal(3, 4)], lambda a, b: np.einsum("ij,jk->ik", a, b)),
    Case("einsum-batch-ellipsis", "mul", lambda a, b: gc.einsum("...ij,...jk", a, b),
         [normal(2, 2, 3), normal(2, 3, 2)], lambda a, b: np.einsum("...ij,...jk", a, b)),
    Case("einsum-trace-outer", "index", lambda a, b: gc.einsum("ii,j->j", a, b),
         [normal(3, 3), normal(2)], lambda a, b: np.einsum("ii,j->j", a, b)),
    Case("einsum-implicit", "mul", lambda a, b: gc.einsum("bi,bj", a, b),
         [normal(4, 2), normal(4, 3)], lambda a, b: np.einsum("bi,bj", a, b)),
    Case("cdist", "sum", gc.cdist, [normal(3, 2), normal(4, 2)],
         lambda a, b: np.sqrt(((a[:, None] - b[None]) ** 2).sum(-1))),
    Case("multi_dot", "matmul", lambda a, b, c: gc.linalg.multi_dot([a, b, c]),
         [normal(2, 3), normal(3, 4), normal(4, 2)], lambda a, b, c: a @ b @ c),
    Case("matrix_power", "matmul", lambda a: gc.matrix_power(a, 3), [normal(3, 3) / 2],
         lambda a: np.linalg.matrix_power(a, 3)),
    Case("matrix_power-neg", "inverse", lambda a: gc.linalg.matrix_power(a, -2), [_spd(3, 3)],
         lambda a: np.linalg.matrix_power(a, -2), rtol=1e-6),
    Case("det", "det", gc.det, [_spd(2, 3, 3)], np.linalg.det, rtol=1e-6),
    Case("slogdet", "slogdet", lambda a: gc.slogdet(a)[1] * gc.slogdet(a)[0],
         [normal(3, 3) + 2 * np.eye(3)], lambda a: np.prod(np.linalg.slogdet(a), 0), rtol=1e-6),
    Case("solve", "inverse", gc.linalg.solve, [_spd(3, 3), normal(3, 2)], np.linalg.solve, rtol=1e-6),
    Case("solve-vector", "inverse", gc.linalg.solve, [_spd(3, 3), normal(3)], np.linalg.solve,
         rtol=1e-6),
    Case("matrix_norm-fro", "sum", gc.linalg.matrix_norm, [normal(2, 3, 3)],
         lambda a: np.linalg.norm(a, "fro", (-2, -1))),
    Case("matrix_norm-1", "amax", lambda a: gc.linalg.matrix_norm(a, 1), [distinct(3, 3)],
         lambda a: np.linalg.norm(a, 1)),
    Case("linalg.norm", "sum", lambda a: gc.linalg.norm(a, dim=1), [normal(3, 4)],
         lambda a: np.linalg.norm(a, axis=1)),
    # factorizations of a symmetrized input, so that finite differences see what the
    # (symmetric) gradient formulas assume
    Case("cholesky", "cholesky", lambda a: gc.linalg.cholesky(_sym(a)), [_spd(2, 3, 3)],
         lambda a: np.linalg.cholesky(_np_sym(a)), rtol=1e-6),
    Case("cholesky-upper", "cholesky", lambda a: gc.linalg.cholesky(_sym(a), upper=True),
         [_spd(3, 3)], lambda a: np.swapaxes(np.linalg.cholesky(_np_sym(a)), -1, -2), rtol=1e-6),
    Case("eigvalsh", "eigh", lambda a: gc.linalg.eigvalsh(_sym(a)), [_spd(2, 3, 3)],
         lambda a: np.linalg.eigvalsh(_np_sym(a)), rtol=1e-6),
    Case("eigh-vectors", "eigh", lambda a: gc.linalg.eigh(_sym(a))[1].abs(), [_spd(3, 3)],
         lambda a: np.abs(np.linalg.eigh(_np_sym(a))[1]), rtol=1e-6),
    Case("svdvals", "svdvals", gc.linalg.svdvals, [normal(2, 4, 3)],
         lambda a: np.linalg.svd(a, compute_uv=False), rtol=1e-6),
    Case("svd", "svd", lambda a: gc.linalg.svd(a, full_matrices=False).S, [normal(3, 2)],
         lambda a: np.linalg.svd(a, compute_uv=False), grad=False),
    Case("qr", "qr", lambda a: gc.linalg.qr(a).R, [normal(4, 3)], lambda a: np.linalg.qr(a)[1],
         rtol=1e-6),
    Case("qr-Q", "qr", lambda a: gc.linalg.qr(a)[0], [normal(3, 3)], lambda a: np.linalg.qr(a)[0],
         rtol=1e-6),
    Case("pinv", "pinv", gc.linalg.pinv, [normal(3, 4)], np.linalg.pinv, rtol=1e-6),
    Case("lstsq", "pinv", lambda a, b: gc.linalg.lstsq(a, b).solution, [normal(4, 3), normal(4, 2)],
         lambda a, b: np.linalg.lstsq(a, b, rcond=None)[0], rtol=1e-6),
    Case("matrix_rank", "svdvals", gc.linalg.matrix_rank,
         [np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [0.0, 1.0, 1.0]])],
         lambda a: np.linalg.matrix_rank(a), grad=False),
    Case("solve_triangular", "inverse",
         lambda a, b: gc.linalg.solve_triangular(a, b, upper=False, unitriangular=True),
         [normal(3, 3), normal(3, 2)],
         lambda a, b: np.linalg.solve(np.tril(a, -1) + np.eye(3), b), rtol=1e-6),
]

# eager only: result sizes depend on values
EAGER_ONLY = [
    Case("nonzero", "eager", lambda x: gc.nonzero(x), [_with_zeros(3, 4)],
         lambda x: np.argwhere(x), grad=False, static=False),
    Case("where-cond", "eager", lambda x: gc.where(x)[1], [_with_zeros(3, 4)],
         lambda x: np.nonzero(x)[1], grad=False, static=False),
    Case("masked_select", "eager", lambda x: x.masked_select(x > 0), [normal(3, 4)],
         lambda x: x[x > 0], static=False),
    Case("unique", "eager", lambda x: gc.unique(x), [ints(10, lo=0, hi=4)], np.unique, grad=False,
         static=False),
    Case("unique-counts", "eager", lambda x: gc.unique(x, return_counts=True)[1],
         [ints(10, lo=0, hi=4)], lambda x: np.unique(x, return_counts=True)[1], grad=False,
         static=False),
    Case("unique_consecutive", "eager", lambda x: gc.unique_consecutive(x),
         [np.array([1, 1, 2, 2, 3, 1, 1])], lambda x: np.array([1, 2, 3, 1]), grad=False,
         static=False),
    Case("bincount", "eager", gc.bincount, [ints(10, lo=0, hi=5)], np.bincount, grad=False,
         static=False),
    Case("histc", "eager", lambda x: gc.histc(x, 4, -2, 2), [normal(20)],
         lambda x: np.histogram(x, 4, (-2, 2))[0].astype(np.float64), grad=False, static=False),
    Case("mode", "eager", lambda x: gc.mode(x, 1).values, [np.array([[1, 2, 2, 3], [4, 4, 1, 1]])],
         lambda x: np.array([2, 1]), grad=False, static=False),
]
