"""One check for any layer: forward vs a NumPy reference, gradients vs finite differences
(float64), and the same numbers from a symbolic forward compiled on the reference target."""
from __future__ import annotations

import numpy as np

import graphc as gc


def _weights(shape, seed=3):
    return np.random.default_rng(seed).standard_normal(shape)


def _as_list(out):
    return list(out) if isinstance(out, (tuple, list)) else [out]


def _flatten(out):
    """Nested tuples of outputs (LSTM's (out, (h, c))) -> a flat list."""
    flat = []
    for o in _as_list(out):
        flat.extend(_flatten(o) if isinstance(o, (tuple, list)) else [o])
    return flat


def check_layer(module, inputs, reference=None, grad_inputs=None, atol=1e-6, fd_eps=1e-6,
                fd_atol=1e-5, check_static=True):
    """module: a float64 graphc module; inputs: NumPy arrays; reference(params, *inputs) ->
    the expected outputs (params: {name: array}). grad_inputs: indices of inputs to
    differentiate (default: the floating ones)."""
    module = module.double()
    params = dict(module.named_parameters())
    if grad_inputs is None:
        grad_inputs = [i for i, a in enumerate(inputs) if np.asarray(a).dtype.kind == "f"]

    # forward, eager
    xs = [gc.tensor(a) for a in inputs]
    for i in grad_inputs:
        xs[i].requires_grad = True
    outs = _flatten(module(*xs))
    if reference is not None:
        expected = _flatten(reference({k: p.detach().numpy() for k, p in params.items()},
                                      *inputs))
        assert len(expected) == len(outs)
        for o, e in zip(outs, expected):
            np.testing.assert_allclose(o.detach().numpy(), e, atol=atol, rtol=1e-6)

    # gradients, eager: of sum(w_k * out_k) with fixed random cotangents
    cots = [_weights(o.shape, seed=3 + k) for k, o in enumerate(outs)]

    def scalar_loss(out_list):
        total = None
        for o, w in zip(out_list, cots):
            if not o.dtype.is_floating_point:
                continue
            term = gc.sum(o * gc.tensor(w))
            total = term if total is None else total + term
        return total

    scalar_loss(outs).backward()

    def numeric(f, arr):
        g = np.zeros_like(arr)
        flat, gflat = arr.reshape(-1), g.reshape(-1)
        for k in range(flat.size):
            old = flat[k]
            flat[k] = old + fd_eps
            hi = f()
            flat[k] = old - fd_eps
            lo = f()
            flat[k] = old
            gflat[k] = (hi - lo) / (2 * fd_eps)
        return g

    def loss_now(values):
        with gc.no_grad():
            return float(scalar_loss(_flatten(module(*values))).item())

    plain = [gc.tensor(a) for a in inputs]
    for name, p in params.items():
        expected = numeric(lambda: loss_now(plain), p._data)
        assert p.grad is not None, f"no gradient for {name}"
        np.testing.assert_allclose(p.grad.numpy(), expected, atol=fd_atol, rtol=1e-4,
                                   err_msg=f"gradient of parameter {name}")
    for i in grad_inputs:
        expected = numeric(lambda: loss_now(plain), plain[i]._data)
        np.testing.assert_allclose(xs[i].grad.numpy(), expected, atol=fd_atol, rtol=1e-4,
                                   err_msg=f"gradient of input {i}")

    if not check_static:
        return
    # the same module on symbolic values: outputs and gradients must match eager mode
    phs = [gc.placeholder(np.shape(a), np.asarray(a).dtype, name=f"x{i}")
           for i, a in enumerate(inputs)]
    souts = _flatten(module(*phs))
    loss = None
    for o, w in zip(souts, cots):
        if o.dtype.is_floating_point:
            term = gc.sum(o * gc.constant(w))
            loss = term if loss is None else loss + term
    wrt = list(params.values()) + [phs[i] for i in grad_inputs]
    grads = gc.grad(loss, wrt)
    run = gc.compile(souts + grads, inputs=phs, target="reference")
    results = run(*inputs)
    for o, s in zip(outs, results[:len(outs)]):
        np.testing.assert_allclose(s.numpy(), o.detach().numpy(), atol=1e-12, rtol=1e-10)
    eager_grads = [p.grad for p in params.values()] + [xs[i].grad for i in grad_inputs]
    for e, s in zip(eager_grads, results[len(outs):]):
        np.testing.assert_allclose(s.numpy(), e.numpy(), atol=1e-10, rtol=1e-8)
