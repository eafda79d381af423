"""Gradient hooks: PyTorch's tensor hooks (register_hook), post-accumulate-grad hooks and
end-of-backward callbacks.

A tensor hook sees the gradient of a tensor once it is complete, before it is used: for a
computed tensor before its grad_fn's rule reads it, for a leaf before it is accumulated into
.grad (or returned by autograd.grad); a hook that returns a tensor replaces the gradient.

A hooked leaf's .grad is accumulated as soon as the sweep has passed every tape entry that
reads it, and its hooks run then: data-parallel training starts communicating a gradient
while the rest of backward still runs. Keyed by id(tensor); the weak reference drops the
entry with the tensor.
"""
from __future__ import annotations

import itertools
import weakref

_grad_hooks = {}           # id(tensor) -> (weakref to tensor, {handle id: hook})
_tensor_hooks = {}         # edge key (tape.edge_key) -> (weakref to the leaf or to the
#                            tape entry that made the tensor, {handle id: hook})
_retaining = {}            # id(tensor) -> weakref: tensors that called retain_grad() (a
#                            tape entry keeps no output tensor: backward finds them here)
_backward_callbacks = []   # run once at the end of the current backward, then cleared
_hook_ids = itertools.count()


class RemovableHandle:
    def __init__(self, key, hook_id, table=None):
        self._key, self._hook_id = key, hook_id
        self._table = _grad_hooks if table is None else table

    def remove(self):
        hooks = self._table.get(self._key)
        if hooks is not None:
            hooks[1].pop(self._hook_id, None)
            if not hooks[1]:
                del self._table[self._key]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


def register_hook(tensor, hook):
    """hook(grad) runs when tensor's gradient is computed; a tensor it returns replaces the
    gradient (torch.Tensor.register_hook). Bound to the tensor's history when registered."""
    from .tape import edge_key, edge_of
    if not tensor.requires_grad:
        raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
    edge = edge_of(tensor)
    key = edge_key(edge)
    owner = edge if type(edge) is not tuple else edge[0]
    entry = _tensor_hooks.get(key)
    if entry is None or entry[0]() is not owner:
        forget = lambda _, k=key: _tensor_hooks.pop(k, None)  # noqa: E731
        entry = _tensor_hooks[key] = (weakref.ref(owner, forget), {})
    hook_id = next(_hook_ids)
    entry[1][hook_id] = hook
    return RemovableHandle(key, hook_id, _tensor_hooks)


def apply_tensor_hooks(key, cotangents):
    """Run the tensor hooks registered at `key` on its (final) cotangent, in the order they
    were registered, each on the result of the one before."""
    hooks = _tensor_hooks.get(key)
    g = cotangents.get(key)
    if hooks is None or g is None:
        return
    for hook in list(hooks[1].values()):
        new = hook(g)
        if new is not None:
            if tuple(new.shape) != tuple(g.shape):
                raise RuntimeError(f"hook '{getattr(hook, '__name__', hook)}' has changed the "
                                   f"size of value (from {list(g.shape)} to "
                                   f"{list(new.shape)})")
            g = new
    cotangents[key] = g


def hooks_before_rule(entry, out_keys, cotangents):
    """backward_sweep's before_rule: tensor hooks of an entry's outputs (None without any)."""
    for key in out_keys:
        if key in _tensor_hooks:
            apply_tensor_hooks(key, cotangents)


def retain_grad(tensor):
    """tensor.retain_grad(): backward fills its .grad too (by its grad_fn at that time)."""
    tensor._retains_grad = True
    key = id(tensor)
    ref = _retaining.get(key)
    if ref is None or ref() is not tensor:
        _retaining[key] = weakref.ref(tensor, lambda _, k=key: _retaining.pop(k, None))


def register_post_accumulate_grad_hook(tensor, hook):
    """hook(tensor) runs after backward has accumulated into tensor.grad (a leaf)."""
    if tensor.grad_fn is not None:
        raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf "
                           "tensors")
    key = id(tensor)
    entry = _grad_hooks.get(key)
    if entry is None or entry[0]() is not tensor:
        forget = lambda _, k=key: _grad_hooks.pop(k, None)  # noqa: E731
        entry = _grad_hooks[key] = (weakref.ref(tensor, forget), {})
    hook_id = next(_hook_ids)
    entry[1][hook_id] = hook
    return RemovableHandle(key, hook_id)


def _hooked(t):
    entry = _grad_hooks.get(id(t))
    return entry is not None and entry[0]() is t


def queue_callback(fn):
    """Run fn() once at the end of the backward pass in progress (after every hook)."""
    _backward_callbacks.append(fn)


def _run_grad_hooks(t):
    for hook in list(_grad_hooks[id(t)][1].values()):
        hook(t)


def _run_backward_callbacks():
    callbacks = list(_backward_callbacks)
    _backward_callbacks.clear()
    for fn in callbacks:
        fn()


class _EarlyAccumulation:
    """Accumulates hooked leaves as soon as their gradient is final, during the sweep."""

    def __init__(self, entries, accumulate):
        self.accumulate = accumulate
        self.ready_after = {}  # entry index -> hooked leaves last read (in reverse) there
        self.done = set()
        first_reader = {}
        for i, e in enumerate(entries):
            # a leaf's gradient goes where the entry's edge says (fixed when the op read it,
            # eager/tape.py): an edge that is a tensor, not (entry, index), is a leaf.
            # Leaves of one entry are final in input order, or in the op's `hook_order`
            # (linear: PyTorch's AddmmBackward0 lists the bias first)
            order = getattr(e.op, "hook_order", None)
            edges = e.edges if order is None or len(order) != len(e.edges) else \
                [e.edges[k] for k in order]
            for edge in edges:
                if edge is not None and type(edge) is not tuple \
                        and id(edge) not in first_reader and _hooked(edge):
                    first_reader[id(edge)] = (i, edge)
        for i, t in first_reader.values():
            self.ready_after.setdefault(i, []).append(t)

    def after_entry(self, index, cotangents):
        for t in self.ready_after.get(index, ()):
            if id(t) in _tensor_hooks:
                apply_tensor_hooks(id(t), cotangents)
            g = cotangents.get(id(t))
            if g is None:
                continue
            self.accumulate(t, g, False)
            self.done.add(id(t))
            _run_grad_hooks(t)


def _early_accumulation(entries, inputs, create_graph, accumulate):
    """The sweep's after_entry helper when hooked leaves may be reached (else None)."""
    _backward_callbacks.clear()  # left over from a backward that raised
    if not _grad_hooks or inputs is not None or create_graph:
        return None
    return _EarlyAccumulation(entries, accumulate)
