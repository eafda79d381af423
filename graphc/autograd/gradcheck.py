"""graphc.autograd.gradcheck / gradgradcheck: gradients (and gradients of gradients) checked
against central finite differences, as torch.autograd.gradcheck does in its default (slow)
mode. Forward-mode and batched checks raise UnsupportedError; fast_mode runs the full check
(which implies the fast one's projection check).
"""
from __future__ import annotations

import warnings

import numpy as np

from ..eager.autograd import grad as _grad
from ..eager.tensor import Tensor
from ..errors import UnsupportedError


class GradcheckError(RuntimeError):
    """Raised by gradcheck and gradgradcheck when a check fails."""


def _unsupported(**flags):
    for name, on in flags.items():
        if on:
            raise UnsupportedError(f"gradcheck({name}=True): graphc has no forward-mode AD or "
                                   f"vmap, so this check is not supported")


def _as_tuple(x):
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _differentiable(inputs):
    return [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]


def _numerical(func, inputs, wrt, n_outputs, eps):
    """Per input in wrt, per output: d output / d input as (input numel, output numel)."""
    result = []
    for i in wrt:
        data = inputs[i].detach()._data  # perturbed in place and restored, as PyTorch does
        flat = data.reshape(-1)
        cols = [[] for _ in range(n_outputs)]
        for k in range(flat.size):
            old = flat[k].copy()
            flat[k] = old + eps  # (func runs with grad mode as it is: gradgradcheck's
            hi = [_host(o) for o in _as_tuple(func(*inputs))]  # function differentiates)
            flat[k] = old - eps
            lo = [_host(o) for o in _as_tuple(func(*inputs))]
            flat[k] = old
            for j in range(n_outputs):
                cols[j].append((hi[j] - lo[j]).reshape(-1) / (2 * eps))
        result.append([np.array(c).reshape(flat.size, -1) for c in cols])
    return result


def _host(t):
    return np.asarray(t.detach().cpu()._data, np.float64) if isinstance(t, Tensor) else \
        np.asarray(t, np.float64)


def _analytical(outputs, inputs, wrt, check_grad_dtypes):
    """Per input in wrt, per output: the Jacobian from backward, (input numel, output numel)."""
    result = [[np.zeros((inputs[i].numel(), o.numel())) for o in outputs] for i in wrt]
    for j, out in enumerate(outputs):
        if not (out.requires_grad and out.dtype.is_floating_point):
            continue
        for m in range(out.numel()):
            onehot = np.zeros(out.numel(), out._data.dtype)
            onehot[m] = 1
            grads = _grad([out], [inputs[i] for i in wrt],
                          [Tensor._wrap(onehot.reshape(out.shape))], retain_graph=True,
                          allow_unused=True)
            for k, (i, g) in enumerate(zip(wrt, grads)):
                if g is None:
                    continue
                if check_grad_dtypes and g.dtype is not inputs[i].dtype:
                    raise GradcheckError(f"Gradient has dtype mismatch: input {i} is "
                                         f"{inputs[i].dtype.name}, its gradient "
                                         f"{g.dtype.name}")
                result[k][j][:, m] = _host(g).reshape(-1)
    return result


def _fail(message, raise_exception):
    if raise_exception:
        raise GradcheckError(message)
    return False


def gradcheck(func, inputs, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True,
              nondet_tol=0.0, check_undefined_grad=True, check_grad_dtypes=False,
              check_batched_grad=False, check_batched_forward_grad=False,
              check_forward_ad=False, check_backward_ad=True, fast_mode=False, masked=None):
    """True if the gradients of func at inputs match finite differences (else raises
    GradcheckError, or returns False with raise_exception=False)."""
    _unsupported(check_batched_grad=check_batched_grad,
                 check_batched_forward_grad=check_batched_forward_grad,
                 check_forward_ad=check_forward_ad, masked=bool(masked))
    inputs = _as_tuple(inputs)
    wrt = _differentiable(inputs)
    if not wrt:
        raise ValueError("gradcheck expects at least one input tensor to require gradient, "
                         "but none of them have requires_grad=True.")
    for i in wrt:
        if inputs[i].dtype.name != "float64":
            warnings.warn(f"Input #{i} requires gradient and is not a double precision floating "
                          f"point. This check will likely fail if all the inputs are not of "
                          f"double precision floating point. ")
    outputs = _as_tuple(func(*inputs))
    if not check_backward_ad:
        return True
    numerical = _numerical(func, inputs, wrt, len(outputs), eps)
    analytical = _analytical(outputs, inputs, wrt, check_grad_dtypes)
    for k, i in enumerate(wrt):
        for j in range(len(outputs)):
            a, n = analytical[k][j], numerical[k][j]
            if not np.allclose(a, n, rtol=rtol, atol=atol):
                return _fail(f"Jacobian mismatch for output {j} with respect to input {i},\n"
                             f"numerical:{Tensor._wrap(n)}\nanalytical:{Tensor._wrap(a)}\n",
                             raise_exception)
    again = _analytical(outputs, inputs, wrt, False)
    if any(np.abs(a - b).max(initial=0) > nondet_tol
           for row_a, row_b in zip(analytical, again) for a, b in zip(row_a, row_b)):
        return _fail("Backward is not reentrant, i.e., running backward with same input and "
                     "grad_output multiple times gives different values, although analytical "
                     "gradient matches numerical gradient.The tolerance for nondeterminism was "
                     f"{nondet_tol}.", raise_exception)
    if check_undefined_grad:
        diff = [o for o in outputs if o.requires_grad and o.dtype.is_floating_point]
        if diff:
            zeros = [Tensor._wrap(np.zeros(o.shape, o._data.dtype)) for o in diff]
            for g in _grad(diff, [inputs[i] for i in wrt], zeros, retain_graph=True,
                           allow_unused=True):
                if g is not None and np.any(_host(g) != 0):
                    return _fail("Expected backward function to handle undefined output "
                                 "grads (zeros): it returned a nonzero gradient for zero "
                                 "output gradients.", raise_exception)
    return True


def gradgradcheck(func, inputs, grad_outputs=None, *, eps=1e-6, atol=1e-5, rtol=1e-3,
                  gen_non_contig_grad_outputs=False, raise_exception=True, nondet_tol=0.0,
                  check_undefined_grad=True, check_grad_dtypes=False, check_batched_grad=False,
                  check_fwd_over_rev=False, check_rev_over_rev=True, fast_mode=False,
                  masked=False):
    """gradcheck of the function inputs, grad_outputs -> gradients of func (with
    create_graph): second derivatives against finite differences of the first."""
    _unsupported(check_batched_grad=check_batched_grad, check_fwd_over_rev=check_fwd_over_rev,
                 masked=bool(masked), gen_non_contig_grad_outputs=gen_non_contig_grad_outputs)
    inputs = _as_tuple(inputs)
    outputs = _as_tuple(func(*inputs))
    if grad_outputs is None:  # random cotangents that require grad, as PyTorch makes them
        from ..eager.random import generator
        grad_outputs = tuple(
            Tensor._wrap(generator().uniform(-9, 9, o.shape).astype(o._data.dtype))
            .requires_grad_() for o in outputs
            if o.requires_grad and o.dtype.is_floating_point)
    grad_outputs = _as_tuple(grad_outputs)
    n_in = len(inputs)

    def first_derivatives(*args):
        ins, gos = args[:n_in], args[n_in:]
        outs = [o for o in _as_tuple(func(*ins)) if o.requires_grad and o.dtype.is_floating_point]
        wrt = [x for x in ins if isinstance(x, Tensor) and x.requires_grad]
        grads = _grad(outs, wrt, list(gos), create_graph=True, allow_unused=True)
        return tuple(g for g in grads if g is not None)

    if not check_rev_over_rev:
        return True
    return gradcheck(first_derivatives, inputs + grad_outputs, eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception, nondet_tol=nondet_tol,
                     check_undefined_grad=check_undefined_grad,
                     check_grad_dtypes=check_grad_dtypes, fast_mode=fast_mode)
