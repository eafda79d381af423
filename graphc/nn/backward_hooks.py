"""Module backward hooks (register_full_backward_hook / _pre_hook), as PyTorch runs them.

PyTorch's way (torch/utils/hooks.py BackwardHook), kept: the module's tensor inputs and
outputs pass through an identity tape entry each. Backward reaches the output entry first
(every cotangent of the outputs is final there): the pre-hooks see grad_output and may
replace it. It then reaches the input entry with the gradients of the module's inputs: the
full hooks see (grad_input, grad_output) and may replace grad_input. Both entries are plain
eager tape entries whose "op" is a small object of this file (never registered, never in a
graph): the eager core needs no hook support for this. Symbolic forwards (graphc.jit,
graphc.compile) refuse modules with backward hooks (Module.__call__).
"""
from __future__ import annotations

import warnings

from ..eager.tape import TapeEntry
from ..eager.grad_mode import is_grad_enabled
from ..eager.tensor import Tensor

_NO_INPUT_GRAD = ("Full backward hook is firing when gradients are computed with respect to "
                  "module outputs since no inputs require gradients. See "
                  "https://docs.pytorch.org/docs/main/generated/torch.nn.Module.html"
                  "#torch.nn.Module.register_full_backward_hook for more details.")


class _HookOp:
    """The 'op' of the identity tape entries: its gradient rule calls the entry's
    attrs["on_grads"] (one shared instance: the tape memoizes facts per op object)."""

    reads = None
    saves = ()
    differentiable = True
    takes_none = True  # the sweep passes None, not zeros, for outputs without a cotangent
    name = "backward_hook_function"

    @staticmethod
    def vjp(ctx, *grads):
        return tuple(ctx.attrs["on_grads"](grads))


_HOOK_OP = _HookOp()


def _through_identity(tensors, on_grads):
    """New tensors sharing the storage (and version counter) of `tensors`, recorded as one
    tape entry whose backward calls on_grads(cotangents of the new tensors)."""
    outs = []
    for t in tensors:
        out = Tensor._wrap(t._data)
        out._vc = t._vc
        outs.append(out)
    entry = TapeEntry(_HOOK_OP, tensors, outs, {"on_grads": on_grads})
    for i, out in enumerate(outs):
        out.grad_fn, out._out_nr, out._requires_grad = entry, i, True
    return outs


def _differentiable(x):
    return isinstance(x, Tensor) and x.requires_grad


class BackwardHook:
    """One call of a module with backward hooks: links its outputs' gradients to its
    inputs' (PyTorch's BackwardHook)."""

    def __init__(self, module, hooks, pre_hooks):
        self.module, self.hooks, self.pre_hooks = module, hooks, pre_hooks
        self.grad_outputs = None
        self.n_inputs = 0
        self.input_index = None  # positions of the inputs that require grad (None: none)

    @staticmethod
    def _pack(indices, values, size):
        out = [None] * size
        for i, v in zip(indices, values):
            out[i] = v
        return tuple(out)

    def setup_input(self, args):
        self.n_inputs = len(args)
        tensors = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        index = [i for i in tensors if args[i].requires_grad]
        if not index or not is_grad_enabled():
            return args
        # PyTorch passes every tensor argument through its hook function: those that do not
        # require grad (and unused ones) get zeros in grad_input, non-tensors None
        self.input_tensors = [args[i].detach() for i in index]
        self.input_index, self.zero_inputs = index, [(i, args[i]) for i in tensors
                                                     if i not in index]
        new = _through_identity([args[i] for i in index], self._input_grads)
        args = list(args)
        for i, t in zip(index, new):
            args[i] = t
        return tuple(args)

    def setup_output(self, result):
        is_tuple = isinstance(result, tuple)
        outs = result if is_tuple else (result,)
        if not isinstance(result, (Tensor, tuple)):
            warnings.warn("For backward hooks to be called, module output should be a Tensor or "
                          f"a tuple of Tensors but received {type(result)}", stacklevel=3)
        index = [i for i, o in enumerate(outs) if _differentiable(o)]
        if not index or not is_grad_enabled():
            return result
        n_outputs = len(outs)

        def output_grads(grads):
            grad_outputs = self._pack(index, grads, n_outputs)
            for hook in self.pre_hooks:
                new = hook(self.module, grad_outputs)
                if new is None:
                    continue
                new = new if isinstance(new, tuple) else tuple(new) \
                    if isinstance(new, list) else (new,)
                if len(new) != len(grad_outputs):
                    raise RuntimeError(f"Backward pre hook returned an invalid number of "
                                       f"grad_output, got {len(new)}, but expected "
                                       f"{len(grad_outputs)}")
                grad_outputs = new
            self.grad_outputs = grad_outputs
            if self.input_index is None:  # no input requires grad: the hooks fire now
                if self.hooks:
                    warnings.warn(_NO_INPUT_GRAD, stacklevel=2)
                grad_inputs = (None,) * self.n_inputs
                for hook in self.hooks:
                    res = hook(self.module, grad_inputs, grad_outputs)
                    if res is not None and not (isinstance(res, tuple)
                                                and all(r is None for r in res)):
                        raise RuntimeError("Backward hook for Modules where no input requires "
                                           "gradient should always return None or None for "
                                           "all gradients.")
                self.grad_outputs = None
            return [grad_outputs[i] for i in index]

        new = _through_identity([outs[i] for i in index], output_grads)
        outs = list(outs)
        for i, t in zip(index, new):
            outs[i] = t
        return tuple(outs) if is_tuple else outs[0]

    def _input_grads(self, grads):
        from .. import functional as G
        if self.grad_outputs is None:  # the gradient reached the inputs not through the
            return list(grads)         # outputs (double backward): no hook, as PyTorch
        grads = [G.zeros_like(a) if g is None else g
                 for g, a in zip(grads, self.input_tensors)]
        res = list(self._pack(self.input_index, grads, self.n_inputs))
        for i, a in self.zero_inputs:
            res[i] = G.zeros_like(a.detach())
        res = tuple(res)
        for hook in self.hooks:
            out = hook(self.module, res, self.grad_outputs)
            if out is None:
                continue
            if len(out) != len(res):
                raise RuntimeError(f"Backward hook returned an invalid number of grad_input, "
                                   f"got {len(out)}, but expected {len(res)}")
            res = tuple(out)
        self.grad_outputs = None
        return [res[i] for i in self.input_index]
