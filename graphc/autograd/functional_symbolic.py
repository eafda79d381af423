"""autograd.functional's building blocks on symbolic values (inside graphc.jit, or in a static
graph): the same results built with graphc.grad, so they compile with the rest of the step. Symbolic
gradients are always differentiable (create_graph changes nothing); an output that does not
depend on an input gives zeros, or raises with strict=True, as eagerly.
"""
from __future__ import annotations

from .. import functional as F
from ..eager.tensor import Tensor
from ..ir.graph import Value
from ..static_grad import grad as _sgrad


def is_symbolic(*groups):
    """Whether any tensor in the (tuples of) arguments is symbolic, or graphc.jit traces."""
    for g in groups:
        for x in (g if isinstance(g, (tuple, list)) else (g,)):
            if isinstance(x, Value) or (Tensor._trace is not None and isinstance(x, Tensor)):
                return True
    return False


def values(xs):
    from ..dispatch import variable_of
    return tuple(variable_of(x) if isinstance(x, Tensor) else x for x in xs)


def grads(outputs, wrt, grad_outputs, strict, message):
    """graphc.grad with PyTorch's treatment of unused inputs: zeros, or raise when strict."""
    grads = _sgrad(list(outputs), list(wrt), list(grad_outputs) if grad_outputs else None,
                   allow_unused=True)
    result = []
    for i, (g, w) in enumerate(zip(grads, wrt)):
        if g is None:
            if strict:
                raise RuntimeError(message.format(i=i))
            g = F.zeros_like(w)
        result.append(g)
    return tuple(result)


INDEPENDENT = "The output of the user-provided function is independent of input {i}. This " \
               "is not allowed in strict mode."


def jacobian_rows(out, inputs, strict, out_index=0):
    """d out / d inputs, one tensor of shape out.shape + input.shape per input."""
    rows = [[] for _ in inputs]
    flat = out.reshape(-1)
    for j in range(out.numel()):
        msg = f"Output {out_index} of the user-provided function is independent of input " \
              "{i}. This is not allowed in strict mode."
        for row, g in zip(rows, grads([flat[j]], inputs, None, strict, msg)):
            row.append(g)
    return tuple(F.stack(row, 0).reshape(tuple(out.shape) + tuple(x.shape)) if row else
                 F.zeros_like(x).reshape((1,) + tuple(x.shape))[:0].reshape(
                     tuple(out.shape) + tuple(x.shape))
                 for row, x in zip(rows, inputs))
