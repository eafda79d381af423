"""graphc.autograd.functional: torch.autograd.functional's jacobian, hessian, vjp, jvp, hvp
and vhp for eager tensors, written as PyTorch writes them: with reverse-mode grad only
(jvp and hvp through the double-backward trick). `vectorize=True` gives the same result,
computed row by row (graphc has no vmap); forward-mode strategies raise UnsupportedError.
"""
from __future__ import annotations

from .. import functional as F
from ..eager.autograd import grad as _grad
from ..eager.creation import zeros
from ..eager.grad_mode import enable_grad, is_grad_enabled, set_grad_enabled
from ..eager.tensor import Tensor
from ..errors import UnsupportedError
from ..ir.graph import Value

__all__ = ["vjp", "jvp", "jacobian", "hessian", "hvp", "vhp"]


def _as_tuple(inp, arg_name, fn_name):
    is_tuple = isinstance(inp, (tuple, list))
    items = tuple(inp) if is_tuple else (inp,)
    for i, el in enumerate(items):
        if not isinstance(el, (Tensor, Value)):
            what = f"The {arg_name} given to {fn_name} must be either a Tensor or a tuple of " \
                   f"Tensors but the" + (f" value at index {i}" if is_tuple else "")
            raise TypeError(f"{what} given type {type(el).__name__}")
    return is_tuple, items


def _tuple_postprocess(res, to_unpack):
    if isinstance(to_unpack, tuple):
        if not to_unpack[1]:
            res = tuple(el[0] for el in res)
        if not to_unpack[0]:
            res = res[0]
    elif not to_unpack:
        res = res[0]
    return res


def _grad_preprocess(inputs, create_graph, need_graph):
    """Inputs the function is differentiated at: differentiable copies (views of the
    inputs with create_graph, so gradients can also reach what made them)."""
    out = []
    for x in inputs:
        if create_graph and x.requires_grad:
            out.append(x.view_as(x))
        else:
            out.append(x.detach().requires_grad_(need_graph))
    return tuple(out)


def _grad_postprocess(inputs, create_graph):
    if isinstance(inputs[0], Tensor):
        return inputs if create_graph else tuple(x.detach() for x in inputs)
    return tuple(_grad_postprocess(x, create_graph) for x in inputs)


def _validate_v(v, other, is_other_tuple):
    if len(other) != len(v):
        what = "tuple" if is_other_tuple else "Tensor"
        raise RuntimeError(f"v is a tuple of invalid length: should be {len(other)} but got "
                           f"{len(v)}." if is_other_tuple else
                           f"The given v should contain a single Tensor (the function's "
                           f"{what}).")
    for i, (el_v, el_other) in enumerate(zip(v, other)):
        if tuple(el_v.shape) != tuple(el_other.shape):
            prefix = f"Entry {i} in " if is_other_tuple else ""
            raise RuntimeError(f"{prefix}v has invalid size: should be {list(el_other.shape)} "
                               f"but got {list(el_v.shape)}.")


def _check_requires_grad(inputs, input_type, strict):
    if not strict:
        return
    if input_type not in ("outputs", "grad_inputs", "jacobian", "hessian"):
        raise RuntimeError("Invalid input_type to _check_requires_grad")
    for i, x in enumerate(inputs):
        if x is None:
            raise RuntimeError(f"The output of the user-provided function is independent of "
                               f"input {i}. This is not allowed in strict mode.")
        if not x.requires_grad:
            if input_type == "hessian":
                raise RuntimeError(f"The hessian of the user-provided function with respect "
                                   f"to input {i} is independent of the input. This is not "
                                   f"allowed in strict mode. You should ensure that your "
                                   f"function is thrice differentiable and that the hessian "
                                   f"depends on the inputs.")
            if input_type == "jacobian":
                raise RuntimeError(f"While computing the hessian, found that the jacobian of "
                                   f"the user-provided function with respect to input {i} is "
                                   f"independent of the input. This is not allowed in strict "
                                   f"mode. You should ensure that your function is twice "
                                   f"differentiable and that the jacobian depends on the "
                                   f"inputs (this would be violated by a linear function for "
                                   f"example).")
            if input_type == "grad_inputs":
                raise RuntimeError(f"The gradient with respect to input {i} is independent "
                                   f"of the inputs of the user-provided function. This is "
                                   f"not allowed in strict mode.")
            raise RuntimeError(f"Output {i} of the user-provided function does not require "
                               f"gradients. The outputs must be computed in a differentiable "
                               f"manner from the input when running in strict mode.")


def _autograd_grad(outputs, inputs, grad_outputs=None, create_graph=False, retain_graph=None):
    """autograd.grad over the outputs that require grad (None per input when none does)."""
    if grad_outputs is None:
        grad_outputs = (None,) * len(outputs)
    pairs = [(o, g) for o, g in zip(outputs, grad_outputs) if o is not None and o.requires_grad]
    if not pairs:
        return (None,) * len(inputs)
    return _grad([o for o, _ in pairs], list(inputs), [g for _, g in pairs], allow_unused=True,
                 create_graph=create_graph,
                 retain_graph=create_graph if retain_graph is None else retain_graph)


_STRICT = {  # what strict=True says where a gradient is missing, by the stage that found it
    "back": "The output of the user-provided function is independent of input {i}. This is "
            "not allowed in strict mode.",
    "back_trick": "The gradient with respect to the input is independent of entry {i} in the "
                  "grad_outputs when using the double backward trick to compute forward mode "
                  "gradients. This is not allowed in strict mode.",
    "double_back": "The jacobian of the user-provided function is independent of input {i}. "
                   "This is not allowed in strict mode.",
    "double_back_trick": "The hessian of the user-provided function is independent of entry "
                         "{i} in the grad_jacobian. This is not allowed in strict mode as it "
                         "prevents from using the double backward trick to replace forward "
                         "mode AD.",
}


def _symbolic(*args):
    """The symbolic building blocks when an argument is symbolic (graphc.jit, static graphs),
    else None. (Imported here: it needs graphc.grad, which imports this package.)"""
    from . import functional_symbolic as S
    return S if S.is_symbolic(*args) else None


def _check_v(v, like, is_like_tuple, name, verb):
    """v as a tuple, checked against the outputs (vjp) or inputs (jvp, hvp, vhp) it pairs
    with; None only where those are one single-element tensor."""
    if v is not None:
        _, v = _as_tuple(v, "v", name)
        _validate_v(v, like, is_like_tuple)
        return v
    if len(like) != 1 or like[0].numel() != 1:
        what = "the user-provided function returns" if verb == "returns" else \
            "the input to the user-provided function is"
        raise RuntimeError(f"The vector v can only be None if {what} a single Tensor with a "
                           f"single element.")
    return None


def _fill_in_zeros(grads, refs, strict, create_graph, stage):
    res = []
    for i, (g, ref) in enumerate(zip(grads, refs)):
        if g is None:
            if strict:
                raise RuntimeError(_STRICT[stage].format(i=i))
            g = F.zeros_like(ref.detach())
        res.append(g)
    return tuple(res)


def _zeros_requiring_grad(like):
    return tuple(F.zeros_like(x.detach()).requires_grad_(True) for x in like)


def vjp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), v^T J): the vector-Jacobian product at `inputs`."""
    S = _symbolic(inputs, v)
    if S:
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "vjp")
        inputs = S.values(inputs)
        is_outputs_tuple, outputs = _as_tuple(func(*inputs), "outputs of the user-provided "
                                              "function", "vjp")
        v = _check_v(v, outputs, is_outputs_tuple, "vjp", "returns")
        result = S.grads(outputs, inputs, v, strict, S.INDEPENDENT)
        return (_tuple_postprocess(outputs, is_outputs_tuple),
                _tuple_postprocess(result, is_inputs_tuple))
    with enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "vjp")
        inputs = _grad_preprocess(inputs, create_graph, need_graph=True)
        outputs = func(*inputs)
        is_outputs_tuple, outputs = _as_tuple(outputs, "outputs of the user-provided function",
                                              "vjp")
        _check_requires_grad(outputs, "outputs", strict)
        if v is not None:
            _, v = _as_tuple(v, "v", "vjp")
            v = _grad_preprocess(v, create_graph, need_graph=False)
            _validate_v(v, outputs, is_outputs_tuple)
        elif len(outputs) != 1 or outputs[0].numel() != 1:
            raise RuntimeError("The vector v can only be None if the user-provided function "
                               "returns a single Tensor with a single element.")
        with set_grad_enabled(True if create_graph else is_grad_enabled()):
            grad_res = _autograd_grad(outputs, inputs, v, create_graph=create_graph)
            result = _fill_in_zeros(grad_res, inputs, strict, create_graph, "back")
    outputs = _grad_postprocess(outputs, create_graph)
    result = _grad_postprocess(result, create_graph)
    return (_tuple_postprocess(outputs, is_outputs_tuple),
            _tuple_postprocess(result, is_inputs_tuple))


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), J v): the Jacobian-vector product, by the double-backward trick."""
    S = _symbolic(inputs, v)
    if S:
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jvp")
        inputs = S.values(inputs)
        v = _check_v(v, inputs, is_inputs_tuple, "jvp", "takes")
        is_outputs_tuple, outputs = _as_tuple(func(*inputs), "outputs of the user-provided "
                                              "function", "jvp")
        u = tuple(F.zeros_like(o) for o in outputs)  # the vjp is linear in u: d/du (u^T J) v
        vjps = S.grads(outputs, inputs, u, strict, S.INDEPENDENT)
        result = S.grads(vjps, u, v, strict, _STRICT["back_trick"])
        return (_tuple_postprocess(outputs, is_outputs_tuple),
                _tuple_postprocess(result, is_outputs_tuple))
    with enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jvp")
        inputs = _grad_preprocess(inputs, create_graph, need_graph=True)
        if v is not None:
            _, v = _as_tuple(v, "v", "jvp")
            v = _grad_preprocess(v, create_graph, need_graph=False)
            _validate_v(v, inputs, is_inputs_tuple)
        elif len(inputs) != 1 or inputs[0].numel() != 1:
            raise RuntimeError("The vector v can only be None if the input to the "
                               "user-provided function is a single Tensor with a single "
                               "element.")
        outputs = func(*inputs)
        is_outputs_tuple, outputs = _as_tuple(outputs, "outputs of the user-provided function",
                                              "jvp")
        _check_requires_grad(outputs, "outputs", strict)
        grad_outputs = _zeros_requiring_grad(outputs)
        grad_inputs = _autograd_grad(outputs, inputs, grad_outputs, create_graph=True)
        _check_requires_grad(grad_inputs, "grad_inputs", strict)
        grad_res = _autograd_grad(grad_inputs, grad_outputs, v, create_graph=create_graph)
        result = _fill_in_zeros(grad_res, outputs, strict, create_graph, "back_trick")
    outputs = _grad_postprocess(outputs, create_graph)
    result = _grad_postprocess(result, create_graph)
    return (_tuple_postprocess(outputs, is_outputs_tuple),
            _tuple_postprocess(result, is_outputs_tuple))


def _check_strategy(strategy, vectorize, arg="strategy"):
    if strategy not in ("forward-mode", "reverse-mode"):
        raise ValueError(f'Expected {arg} to be either "forward-mode" or "reverse-mode". Hint: '
                         f'If your function has more outputs than inputs, "forward-mode" tends '
                         f'to be more performant. Otherwise, prefer to use "reverse-mode".')
    if strategy == "forward-mode":
        if not vectorize:
            raise ValueError("torch.autograd.functional.jacobian: `strategy=\"forward-mode\"` "
                             "requires `vectorize=True`.")
        raise UnsupportedError("autograd.functional: forward-mode AD is not supported by "
                               "graphc; use the default strategy \"reverse-mode\"")


def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False,
             strategy="reverse-mode"):
    """The Jacobian of func at inputs: for each output and input, a tensor of shape
    output.shape + input.shape (nested tuples when func or inputs are tuples)."""
    _check_strategy(strategy, vectorize)
    S = _symbolic(inputs)
    if S:
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jacobian")
        inputs = S.values(inputs)
        is_outputs_tuple, outputs = _as_tuple(func(*inputs), "outputs of the user-provided "
                                              "function", "jacobian")
        result = tuple(S.jacobian_rows(o, inputs, strict, k) for k, o in enumerate(outputs))
        return _tuple_postprocess(result, (is_outputs_tuple, is_inputs_tuple))
    with enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jacobian")
        inputs = _grad_preprocess(inputs, create_graph, need_graph=True)
        outputs = func(*inputs)
        is_outputs_tuple, outputs = _as_tuple(outputs, "outputs of the user-provided function",
                                              "jacobian")
        _check_requires_grad(outputs, "outputs", strict)
        result = []
        for i, out in enumerate(outputs):
            rows = [[] for _ in inputs]
            flat = out.reshape(-1)
            for j in range(out.numel()):
                vj = _autograd_grad((flat[j],), inputs, retain_graph=True,
                                    create_graph=create_graph)
                for k, (row, g, x) in enumerate(zip(rows, vj, inputs)):
                    if g is not None:
                        if strict and create_graph and not g.requires_grad:
                            raise RuntimeError("The jacobian of the user-provided function is "
                                               "independent of input {k}. This is not allowed "
                                               "in strict mode when create_graph=True.")
                        row.append(g)
                    else:
                        if strict:
                            raise RuntimeError(f"Output {i} of the user-provided function is "
                                               f"independent of input {k}. This is not "
                                               f"allowed in strict mode.")
                        row.append(F.zeros_like(x.detach()))
            result.append(tuple(
                F.stack(row, 0).reshape(tuple(out.shape) + tuple(x.shape)) if row else
                zeros(tuple(out.shape) + tuple(x.shape), dtype=x.dtype)
                for row, x in zip(rows, inputs)))
        result = _grad_postprocess(tuple(result), create_graph)
    return _tuple_postprocess(result, (is_outputs_tuple, is_inputs_tuple))


def hessian(func, inputs, create_graph=False, strict=False, vectorize=False,
            outer_jacobian_strategy="reverse-mode"):
    """The Hessian of a scalar func at inputs (shape input.shape * 2; nested per input pair)."""
    _check_strategy(outer_jacobian_strategy, vectorize, "outer_jacobian_strategy")
    is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "hessian")

    def single_output(*inp):
        out = func(*inp)
        is_out_tuple, t_out = _as_tuple(out, "outputs of the user-provided function", "hessian")
        _check_requires_grad(t_out, "outputs", strict)
        if is_out_tuple:
            raise RuntimeError("The function given to hessian should return a single Tensor")
        if out.numel() != 1:
            raise RuntimeError("The Tensor returned by the function given to hessian should "
                               "contain a single element")
        return out.squeeze()

    def jac_func(*inp):
        jac = jacobian(single_output, inp, create_graph=True)
        _check_requires_grad(jac, "jacobian", strict)
        return jac

    S = _symbolic(inputs)
    if S:
        inputs = S.values(inputs)
        first = S.grads([single_output(*inputs)], inputs, None, strict, S.INDEPENDENT)
        res = tuple(S.jacobian_rows(g, inputs, strict, k) for k, g in enumerate(first))
        return _tuple_postprocess(res, (is_inputs_tuple, is_inputs_tuple))
    res = jacobian(jac_func, inputs, create_graph=create_graph, strict=strict,
                   vectorize=vectorize)
    return _tuple_postprocess(res, (is_inputs_tuple, is_inputs_tuple))


def _scalar_function_output(func, inputs, strict, name):
    outputs = func(*inputs)
    is_outputs_tuple, outputs = _as_tuple(outputs, "outputs of the user-provided function", name)
    _check_requires_grad(outputs, "outputs", strict)
    if is_outputs_tuple:
        raise RuntimeError(f"The function given to {name} should return a single Tensor")
    if outputs[0].numel() != 1:
        raise RuntimeError(f"The Tensor returned by the function given to {name} should "
                           f"contain a single element")
    return is_outputs_tuple, outputs


def _hessian_product(func, inputs, v, create_graph, strict, name):
    S = _symbolic(inputs, v)
    if S:
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", name)
        inputs = S.values(inputs)
        v = _check_v(v, inputs, is_inputs_tuple, name, "takes")
        is_outputs_tuple, outputs = _scalar_function_output(func, inputs, strict, name)
        jac = S.grads(outputs, inputs, None, strict, S.INDEPENDENT)
        if name == "vhp":
            result = S.grads(jac, inputs, v, strict, _STRICT["double_back"])
        else:
            u = tuple(F.zeros_like(x) for x in inputs)
            double_back = S.grads(jac, inputs, u, strict, S.INDEPENDENT)
            result = S.grads(double_back, u, v, strict, _STRICT["double_back_trick"])
        return (_tuple_postprocess(outputs, is_outputs_tuple),
                _tuple_postprocess(result, is_inputs_tuple))
    with enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", name)
        inputs = _grad_preprocess(inputs, create_graph, need_graph=True)
        if v is not None:
            _, v = _as_tuple(v, "v", name)
            v = _grad_preprocess(v, create_graph, need_graph=False)
            _validate_v(v, inputs, is_inputs_tuple)
        elif len(inputs) != 1 or inputs[0].numel() != 1:
            raise RuntimeError("The vector v can only be None if the input to the "
                               "user-provided function is a single Tensor with a single "
                               "element.")
        is_outputs_tuple, outputs = _scalar_function_output(func, inputs, strict, name)
        jac = _autograd_grad(outputs, inputs, create_graph=True)
        _check_requires_grad(jac, "jacobian", strict)
        if name == "vhp":
            with set_grad_enabled(True if create_graph else is_grad_enabled()):
                grad_res = _autograd_grad(jac, inputs, v, create_graph=create_graph)
                result = _fill_in_zeros(grad_res, inputs, strict, create_graph, "double_back")
        else:  # hvp: H v through the double-backward trick, as PyTorch computes it
            grad_jac = _zeros_requiring_grad(inputs)
            double_back = _autograd_grad(jac, inputs, grad_jac, create_graph=True)
            _check_requires_grad(jac, "hessian", strict)
            with set_grad_enabled(True if create_graph else is_grad_enabled()):
                grad_res = _autograd_grad(double_back, grad_jac, v, create_graph=create_graph)
                result = _fill_in_zeros(grad_res, inputs, strict, create_graph,
                                        "double_back_trick")
    outputs = _grad_postprocess(outputs, create_graph)
    result = _grad_postprocess(result, create_graph)
    return (_tuple_postprocess(outputs, is_outputs_tuple),
            _tuple_postprocess(result, is_inputs_tuple))


def vhp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), v^T H) for a scalar func."""
    return _hessian_product(func, inputs, v, create_graph, strict, "vhp")


def hvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), H v) for a scalar func."""
    return _hessian_product(func, inputs, v, create_graph, strict, "hvp")
