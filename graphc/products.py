"""Products with PyTorch's names: outer, dot, inner, mv, addmm, kron, cross, tensordot, einsum,
cdist. Composites of matmul, broadcasting multiplies and sums: gradients, both modes and every
target come with them."""
from __future__ import annotations

import builtins
import math
import string

import numpy as np

from .errors import ShapeError, UnsupportedError, op_error
from .functional import cat, matmul, permute, reshape
from .ops import elementwise as E, reduce as R, shape as S
from .rearrange import diagonal
from .reductions import vector_norm


# ---- products ----------------------------------------------------------------------------------
def _need(name, x, ndim):
    if x.ndim != ndim:
        raise ValueError(f"{name}: expects a {ndim}-D tensor, got shape {list(x.shape)}")


def outer(input, vec2):
    _need("outer", input, 1), _need("outer", vec2, 1)
    return E.mul(S.unsqueeze(input, dims=(1,)), S.unsqueeze(vec2, dims=(0,)))


ger = outer


def dot(input, other):
    _need("dot", input, 1), _need("dot", other, 1)
    return matmul(input, other)


def vdot(input, other):
    return dot(input, other)  # real tensors: no conjugation


def inner(input, other):
    if input.ndim == 0 or other.ndim == 0:
        return E.mul(input, other)
    return tensordot(input, other, ([input.ndim - 1], [other.ndim - 1]))


def mv(input, vec):
    _need("mv", input, 2), _need("mv", vec, 1)
    return matmul(input, vec)


def _scaled_sum(input, product, beta, alpha):
    p = product if alpha == 1 else E.mul(product, alpha)
    if beta == 0:  # PyTorch: input is ignored, nan and inf included
        return p
    return E.add(input if beta == 1 else E.mul(input, beta), p)


def addmm(input, mat1, mat2, *, beta=1, alpha=1):
    _need("addmm", mat1, 2), _need("addmm", mat2, 2)
    return _scaled_sum(input, matmul(mat1, mat2), beta, alpha)


def addmv(input, mat, vec, *, beta=1, alpha=1):
    return _scaled_sum(input, mv(mat, vec), beta, alpha)


def addr(input, vec1, vec2, *, beta=1, alpha=1):
    return _scaled_sum(input, outer(vec1, vec2), beta, alpha)


def baddbmm(input, batch1, batch2, *, beta=1, alpha=1):
    _need("baddbmm", batch1, 3), _need("baddbmm", batch2, 3)
    return _scaled_sum(input, matmul(batch1, batch2), beta, alpha)


def addbmm(input, batch1, batch2, *, beta=1, alpha=1):
    _need("addbmm", batch1, 3), _need("addbmm", batch2, 3)
    return _scaled_sum(input, R.sum(matmul(batch1, batch2), dims=(0,)), beta, alpha)


def kron(input, other):
    n = builtins.max(input.ndim, other.ndim)
    a = reshape(input, *((1,) * (n - input.ndim) + tuple(input.shape)))
    b = reshape(other, *((1,) * (n - other.ndim) + tuple(other.shape)))
    # a[i0, 1, i1, 1, ...] * b[1, j0, 1, j1, ...] -> merge (i_k, j_k) pairs
    a = reshape(a, *[v for d in a.shape for v in (d, 1)])
    b = reshape(b, *[v for d in b.shape for v in (1, d)])
    return reshape(E.mul(a, b), *[x * y for x, y in zip(a.shape[::2], b.shape[1::2])])


def cross(input, other, dim=None):
    if dim is None:
        dim = next(d for d, n in enumerate(input.shape) if n == 3)
    dim %= input.ndim
    if input.shape[dim] != 3 or other.shape[dim] != 3:
        raise op_error(ShapeError, "cross", f"dim {dim} must have size 3, got shapes "
                                            f"{list(input.shape)} and {list(other.shape)}")
    a = [S.index(input, np.array([k], np.int64), axis=dim) for k in range(3)]
    b = [S.index(other, np.array([k], np.int64), axis=dim) for k in range(3)]
    parts = [E.sub(E.mul(a[1], b[2]), E.mul(a[2], b[1])),
             E.sub(E.mul(a[2], b[0]), E.mul(a[0], b[2])),
             E.sub(E.mul(a[0], b[1]), E.mul(a[1], b[0]))]
    return cat(parts, dim)


def tensordot(a, b, dims=2):
    if isinstance(dims, int):
        da, db = list(range(a.ndim - dims, a.ndim)), list(range(dims))
    else:
        da, db = [list(d) if isinstance(d, (list, tuple)) else [d] for d in dims]
    da, db = [d % a.ndim for d in da], [d % b.ndim for d in db]
    free_a = [d for d in range(a.ndim) if d not in da]
    free_b = [d for d in range(b.ndim) if d not in db]
    k = math.prod(a.shape[d] for d in da)
    am = reshape(permute(a, free_a + da), math.prod(a.shape[d] for d in free_a), k)
    bm = reshape(permute(b, db + free_b), k, math.prod(b.shape[d] for d in free_b))
    out_shape = [a.shape[d] for d in free_a] + [b.shape[d] for d in free_b]
    return reshape(matmul(am, bm), *out_shape) if out_shape else reshape(matmul(am, bm), ())


def einsum(equation, *operands):
    """Any einsum of real tensors: operands are aligned on one letter order by permutes and
    unsqueezes, multiplied with broadcasting, and summed over the letters not in the output."""
    ops = list(operands[0]) if len(operands) == 1 and isinstance(operands[0], (list, tuple)) \
        else list(operands)
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(ops):
        raise ValueError(f"einsum: {len(terms)} terms for {len(ops)} operands")
    fill = ""
    if "." in eq:
        spare = [c for c in string.ascii_letters if c not in eq]
        width = builtins.max(o.ndim - len(t.replace("...", "")) for t, o in zip(terms, ops)
                             if "..." in t)
        fill = "".join(spare[:width])
        terms = [t.replace("...", fill[width - (o.ndim - len(t.replace("...", ""))):])
                 for t, o in zip(terms, ops)]
        rhs = rhs.replace("...", fill)
    if not arrow:  # implicit output: broadcast letters, then the letters used once, sorted
        joined = "".join(terms)
        rhs = fill + "".join(sorted(c for c in set(joined) if joined.count(c) == 1
                                    and c not in fill))
    letters = list(rhs) + sorted({c for t in terms for c in t} - set(rhs))
    product = None
    for term, x in zip(terms, ops):
        if len(term) != x.ndim:
            raise ValueError(f"einsum: term {term!r} for an operand of shape {list(x.shape)}")
        if len(set(term)) != len(term):  # a repeated letter: take the diagonal first
            c = next(c for c in term if term.count(c) > 1)
            i, j = term.index(c), term.index(c, term.index(c) + 1)
            x = diagonal(x, 0, i, j)
            term = "".join(t for k, t in enumerate(term) if k not in (i, j)) + c
            if len(set(term)) != len(term):
                raise UnsupportedError("einsum: a letter repeated three times in one term")
        order = sorted(range(len(term)), key=lambda k: letters.index(term[k]))
        x = permute(x, order) if order != list(range(len(term))) else x
        present = [term[k] for k in order]
        shape, it = [], iter(x.shape)
        for c in letters:
            shape.append(next(it) if c in present else 1)
        x = reshape(x, *shape) if tuple(shape) != tuple(x.shape) else x
        product = x if product is None else E.mul(product, x)
    summed = tuple(range(len(rhs), len(letters)))
    return R.sum(product, dims=summed) if summed else product


def cdist(x1, x2, p=2.0):
    diff = E.sub(S.unsqueeze(x1, dims=(x1.ndim - 1,)), S.unsqueeze(x2, dims=(x2.ndim - 2,)))
    return vector_norm(diff, p, dim=-1)


def multi_dot(tensors):
    tensors = list(tensors)
    out = tensors[0]
    for t in tensors[1:]:
        out = matmul(out, t)
    return out


def chain_matmul(*matrices):
    return multi_dot(list(matrices))


__all__ = ["outer", "ger", "dot", "vdot", "inner", "mv", "addmm", "addmv", "addr", "baddbmm",
           "addbmm", "kron", "cross", "tensordot", "einsum", "cdist", "chain_matmul", "multi_dot"]
