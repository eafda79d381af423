"""Module hooks: forward / forward-pre hooks (eager and symbolic calls) and backward /
backward-pre hooks (eager backward: nn/backward_hooks.py), with PyTorch's registration API.
Module inherits them from HookMixin; the tables live in the module's `_hooks` dict."""
from __future__ import annotations

from collections import OrderedDict


class RemovableHandle:
    """What register_*_hook returns: .remove() unregisters the hook (also as a context)."""
    _next_id = 0
    _graphc_loadable = True  # graphc.load may rebuild it (weight_norm keeps one)

    def __init__(self, table):
        self.table = table
        self.id = RemovableHandle._next_id
        RemovableHandle._next_id += 1

    def remove(self):
        self.table.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


class HookMixin:
    """The hook methods of Module."""

    def _hook_table(self, kind):
        if "_hooks" not in self.__dict__:
            object.__setattr__(self, "_hooks", {kind: OrderedDict() for kind in (
                "forward_pre", "forward", "backward", "backward_pre")})
        return self._hooks[kind]

    def _add_hook(self, kind, hook, prepend, with_kwargs):
        table = self._hook_table(kind)
        handle = RemovableHandle(table)
        table[handle.id] = (hook, with_kwargs)
        if prepend:
            table.move_to_end(handle.id, last=False)
        return handle

    def register_forward_pre_hook(self, hook, *, prepend=False, with_kwargs=False):
        """hook(module, args) -> None or new args, before each forward."""
        return self._add_hook("forward_pre", hook, prepend, with_kwargs)

    def register_forward_hook(self, hook, *, prepend=False, with_kwargs=False,
                              always_call=False):
        """hook(module, args, output) -> None or a new output, after each forward."""
        if always_call:
            from ..errors import UnsupportedError
            raise UnsupportedError("register_forward_hook: always_call=True is not supported")
        return self._add_hook("forward", hook, prepend, with_kwargs)

    def register_full_backward_hook(self, hook, prepend=False):
        """hook(module, grad_input, grad_output) -> None or a new grad_input, once the
        gradients of the module's inputs are computed (eager mode; tuples over the
        positional arguments, None where no gradient flows). Modules with backward hooks
        refuse symbolic calls (graphc.jit, graphc.compile)."""
        return self._add_hook("backward", hook, prepend, False)

    def register_full_backward_pre_hook(self, hook, prepend=False):
        """hook(module, grad_output) -> None or a new grad_output, before the gradients of
        the module's inputs are computed (eager mode)."""
        return self._add_hook("backward_pre", hook, prepend, False)

    def register_backward_hook(self, hook):
        from ..errors import UnsupportedError
        raise UnsupportedError("register_backward_hook (deprecated in PyTorch: its grad_input "
                               "is that of the module's last operation) is not supported; use "
                               "register_full_backward_hook")

    def _backward_hooks(self):
        hooks = self.__dict__.get("_hooks")
        if not hooks:
            return (), ()
        return ([h for h, _ in hooks.get("backward", {}).values()],
                [h for h, _ in hooks.get("backward_pre", {}).values()])

    def _refuse_backward_hooks(self):
        """Symbolic calls (each module checks itself when called) refuse backward hooks."""
        full, pre = self._backward_hooks()
        if full or pre:
            from ..errors import UnsupportedError
            raise UnsupportedError(
                f"{type(self).__name__} has module backward hooks (register_full_backward_hook"
                f" / _pre_hook): they run in eager backward only, and a traced or compiled "
                f"step (graphc.jit, graphc.compile) would skip them; remove them "
                f"(handle.remove()) before tracing")

    def _forward_with_hooks(self, args, kwargs):
        """forward, between the forward pre-hooks and hooks (inside the symbolic context, so
        that a hook reading parameters reads their graph variables); with backward hooks,
        the inputs and outputs pass through identity tape entries (nn/backward_hooks.py)."""
        hooks = self.__dict__.get("_hooks")
        if not hooks:
            return self.forward(*args, **kwargs)
        for hook, with_kwargs in list(hooks["forward_pre"].values()):
            result = hook(self, args, kwargs) if with_kwargs else hook(self, args)
            if result is not None:
                if with_kwargs:
                    args, kwargs = result
                else:
                    args = result if isinstance(result, tuple) else (result,)
        full, pre = self._backward_hooks()
        bw_hook = None
        if full or pre:
            from .backward_hooks import BackwardHook
            bw_hook = BackwardHook(self, full, pre)
            args = bw_hook.setup_input(tuple(args))
        out = self.forward(*args, **kwargs)
        for hook, with_kwargs in list(hooks["forward"].values()):
            result = hook(self, args, kwargs, out) if with_kwargs else hook(self, args, out)
            if result is not None:
                out = result
        if bw_hook is not None:
            out = bw_hook.setup_output(out)
        return out
