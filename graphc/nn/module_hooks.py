"""Module hooks: forward / forward-pre hooks (eager and symbolic calls) and backward /
backward-pre hooks (eager backward: nn/backward_hooks.py), with PyTorch's registration API.
Module inherits them from HookMixin; the tables live in the module's `_hooks` dict.

The global hooks of torch.nn.modules.module (`register_module_forward_hook`, ...) live in
the tables of `GLOBAL` and run before each module's own hooks of the same kind, as in
PyTorch; the registration hooks run when a parameter, buffer or submodule is registered."""
from __future__ import annotations

import warnings
from collections import OrderedDict


class RemovableHandle:
    """What register_*_hook returns: .remove() unregisters the hook (also as a context)."""
    _next_id = 0
    _graphc_loadable = True  # graphc.load may rebuild it (weight_norm keeps one)

    def __init__(self, table):
        self.table = table
        self.extra = ()  # sets of flags keyed by this id (always_call, with_kwargs)
        self.id = RemovableHandle._next_id
        RemovableHandle._next_id += 1

    def remove(self):
        self.table.pop(self.id, None)
        for flags in self.__dict__.get("extra", ()):
            flags.discard(self.id)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


class _GlobalHooks:
    """torch.nn.modules.module's global tables: {handle id: hook}, and the ids registered
    with_kwargs / always_call (handle ids are unique across all tables, as PyTorch's)."""

    def __init__(self):
        self.forward_pre, self.forward = OrderedDict(), OrderedDict()
        self.backward, self.backward_pre = OrderedDict(), OrderedDict()
        self.forward_with_kwargs, self.forward_always_called = set(), set()
        self.registration = {kind: OrderedDict() for kind in ("buffer", "module", "parameter")}

    def add(self, table, hook):
        handle = RemovableHandle(table)
        table[handle.id] = hook
        return handle

    def registered(self, kind, module, name, value):
        """value after the registration hooks of `kind` (each may return a replacement)."""
        for hook in list(self.registration[kind].values()):
            output = hook(module, name, value)
            if output is not None:
                value = output
        return value


GLOBAL = _GlobalHooks()


def register_module_forward_pre_hook(hook):
    """hook(module, args) -> None or new args, before every module's forward (and before
    the module's own pre-hooks). PyTorch has no with_kwargs form for global pre-hooks."""
    return GLOBAL.add(GLOBAL.forward_pre, hook)


def register_module_forward_hook(hook, *, with_kwargs=False, always_call=False):
    """hook(module, args, output) (or (module, args, kwargs, output) with_kwargs) -> None or
    a new output, after every module's forward and before its own hooks; always_call runs
    it even when forward raises."""
    handle = GLOBAL.add(GLOBAL.forward, hook)
    handle.extra = (GLOBAL.forward_always_called, GLOBAL.forward_with_kwargs)
    if with_kwargs:
        GLOBAL.forward_with_kwargs.add(handle.id)
    if always_call:
        GLOBAL.forward_always_called.add(handle.id)
    return handle


def register_module_full_backward_pre_hook(hook):
    """hook(module, grad_output) -> None or a new grad_output, for every module (before
    its own backward pre-hooks); eager backward only, as the per-module form."""
    return GLOBAL.add(GLOBAL.backward_pre, hook)


def register_module_full_backward_hook(hook):
    """hook(module, grad_input, grad_output) -> None or a new grad_input, for every module
    (before its own backward hooks); eager backward only, as the per-module form."""
    return GLOBAL.add(GLOBAL.backward, hook)


def register_module_backward_hook(hook):
    from ..errors import UnsupportedError
    raise UnsupportedError("register_module_backward_hook (deprecated in PyTorch: its "
                           "grad_input is that of a module's last operation) is not "
                           "supported; use register_module_full_backward_hook")


def register_module_buffer_registration_hook(hook):
    """hook(module, name, buffer) -> None or a new buffer, at every register_buffer (and
    buffer assignment)."""
    return GLOBAL.add(GLOBAL.registration["buffer"], hook)


def register_module_module_registration_hook(hook):
    """hook(module, name, submodule) -> None or a new submodule, at every add_module (and
    submodule assignment)."""
    return GLOBAL.add(GLOBAL.registration["module"], hook)


def register_module_parameter_registration_hook(hook):
    """hook(module, name, param) -> None or a new parameter, at every register_parameter
    (and parameter assignment)."""
    return GLOBAL.add(GLOBAL.registration["parameter"], hook)


class HookMixin:
    """The hook methods of Module."""

    def _hook_table(self, kind):
        if "_hooks" not in self.__dict__:
            object.__setattr__(self, "_hooks", {kind: OrderedDict() for kind in (
                "forward_pre", "forward", "backward", "backward_pre")})
        return self._hooks[kind]

    def _add_hook(self, kind, hook, prepend, with_kwargs, always_call=False):
        table = self._hook_table(kind)
        handle = RemovableHandle(table)
        table[handle.id] = (hook, with_kwargs, always_call) if always_call else (hook,
                                                                                 with_kwargs)
        if prepend:
            table.move_to_end(handle.id, last=False)
        return handle

    def register_forward_pre_hook(self, hook, *, prepend=False, with_kwargs=False):
        """hook(module, args) -> None or new args, before each forward."""
        return self._add_hook("forward_pre", hook, prepend, with_kwargs)

    def register_forward_hook(self, hook, *, prepend=False, with_kwargs=False,
                              always_call=False):
        """hook(module, args, output) -> None or a new output, after each forward;
        always_call runs it even when forward (or another hook) raises."""
        return self._add_hook("forward", hook, prepend, with_kwargs, always_call)

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
        """(full hooks, pre-hooks): the global ones first, as PyTorch's."""
        hooks = self.__dict__.get("_hooks") or {}
        return ([*GLOBAL.backward.values(),
                 *(entry[0] for entry in hooks.get("backward", {}).values())],
                [*GLOBAL.backward_pre.values(),
                 *(entry[0] for entry in hooks.get("backward_pre", {}).values())])

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
        the inputs and outputs pass through identity tape entries (nn/backward_hooks.py).
        Global hooks run before the module's own, as in PyTorch's Module._call_impl."""
        hooks = self.__dict__.get("_hooks")
        if (hooks is None or not any(hooks.values())) and not (
                GLOBAL.forward_pre or GLOBAL.forward or GLOBAL.backward or GLOBAL.backward_pre):
            return self.forward(*args, **kwargs)  # (no hook anywhere: the common call)
        hooks = hooks or {"forward_pre": {}, "forward": {}}
        state = {"args": args, "kwargs": kwargs, "result": None, "called": set()}
        try:
            return self._run_hooked(hooks, state)
        except Exception:
            self._run_always_called(hooks, state)
            raise

    def _run_hooked(self, hooks, state):
        args, kwargs = state["args"], state["kwargs"]
        pre = [(i, h, False) for i, h in GLOBAL.forward_pre.items()]
        pre += [(i, entry[0], entry[1]) for i, entry in hooks["forward_pre"].items()]
        for _, hook, with_kwargs in pre:
            result = hook(self, args, kwargs) if with_kwargs else hook(self, args)
            if result is not None:
                if with_kwargs:
                    if not (isinstance(result, tuple) and len(result) == 2):
                        raise RuntimeError(f"forward pre-hook must return None or a tuple of "
                                           f"(new_args, new_kwargs), but got {result}.")
                    args, kwargs = result
                else:
                    args = result if isinstance(result, tuple) else (result,)
            state["args"], state["kwargs"] = args, kwargs
        full, pre_bw = self._backward_hooks()
        bw_hook = None
        if full or pre_bw:
            from .backward_hooks import BackwardHook
            bw_hook = BackwardHook(self, full, pre_bw)
            args = bw_hook.setup_input(tuple(args))
            state["args"] = args
        out = state["result"] = self.forward(*args, **kwargs)
        post = [(i, h, i in GLOBAL.forward_with_kwargs) for i, h in GLOBAL.forward.items()]
        post += [(i, entry[0], entry[1]) for i, entry in hooks["forward"].items()]
        for hook_id, hook, with_kwargs in post:
            state["called"].add(hook_id)
            result = hook(self, args, kwargs, out) if with_kwargs else hook(self, args, out)
            if result is not None:
                out = state["result"] = result
        if bw_hook is not None:
            out = bw_hook.setup_output(out)
        return out

    def _run_always_called(self, hooks, state):
        """After forward (or a hook) raised: the always_call forward hooks not yet run, with
        PyTorch's warning for an exception of theirs (the first error is then re-raised).
        As PyTorch's, global ones get (module, args, result) even when with_kwargs."""
        args, kwargs, called = state["args"], state["kwargs"], state["called"]
        pending = [("global module forward hook", hook, False)
                   for hook_id, hook in list(GLOBAL.forward.items())
                   if hook_id in GLOBAL.forward_always_called and hook_id not in called]
        pending += [("module forward hook", entry[0], entry[1])
                    for hook_id, entry in list(hooks["forward"].items())
                    if len(entry) == 3 and hook_id not in called]
        for what, hook, with_kwargs in pending:
            try:
                result = (hook(self, args, kwargs, state["result"]) if with_kwargs
                          else hook(self, args, state["result"]))
                if result is not None:
                    state["result"] = result
            except Exception as e:
                warnings.warn(f"{what} with ``always_call=True`` raised an exception that was "
                              f"silenced as another error was raised in forward: {e}",
                              stacklevel=3)
