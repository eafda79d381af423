"""Optimizer: each update rule is written once, with graphc functions, and runs two ways.

A subclass defines `init_state(p, group)` (the per-parameter state tensors, e.g. Adam's moments)
and `rule(p, g, state, lr, group)` returning the new parameter and the new state values.

- `step()` applies the rule to eager tensors (p.grad) in place, PyTorch's update: per
  group as one call of a program compiled from the rule where it can (compiled_step.py,
  chosen by `foreach` / `fused`), else op by op on eager tensors.
- `updates(loss)` differentiates a symbolic loss, calls the same rule on graph variables
  and returns {variable: new value} for graphc.compile(loss, updates=...): forward,
  backward and the update become one program.

State tensors and each group's learning rate are persistent tensors (graph variables), so
an eager step and a compiled step read and write the same numbers, and a learning-rate
schedule takes effect in compiled steps without compiling again.
"""
from __future__ import annotations

import numpy as np

from .. import functional as G
from ..static_grad import grad
from ..dispatch import variable_of
from ..eager.creation import full
from ..eager.grad_mode import _state as _grad_mode
from ..eager.tensor import Tensor
from ..errors import GraphcError, UnsupportedError
from ..ir.graph import Graph, Value
from ..ops import leaves
from . import compiled_step


class _Required:
    def __repr__(self):
        return "<required parameter>"


required = _Required()


class ParamGroup(dict):
    """A dict of hyperparameters whose 'lr' lives in a persistent 0-d tensor as well, so that
    writing group['lr'] (as schedulers do) also reaches compiled training steps.

    The other hyperparameters (momentum, betas, ...) are constants of a compiled step: once
    `updates()` has built one, changing them (e.g. a scheduler's cycle_momentum) would be
    silently ignored by it, so it raises instead."""

    def __init__(self, values, lr_name):
        super().__init__(values)
        self.lr_tensor = Tensor._wrap(np.asarray(values["lr"], np.float64))
        self.lr_tensor._persistent = True
        self.lr_tensor.name = lr_name
        self._lr_copies = {}  # parameter dtype -> the lr in it (lr_in)
        self.compiled_keys = frozenset()
        self.compiled_steps = []  # the compiled eager steps of this group (compiled_step.py)
        self.compiled_last = None  # the one the latest step ran
        self.compiled_step_enabled = True

    def __setitem__(self, key, value):
        if key in self.compiled_keys and key in self and _differs(self[key], value):
            raise UnsupportedError(
                f"optimizer param_group[{key!r}] changes from {self[key]!r} to {value!r} after "
                f"updates() compiled it into a training step as a constant; only 'lr' can "
                f"change there. Change it before calling updates(), or build a new step")
        super().__setitem__(key, value)
        if key == "lr":
            for t in (self.lr_tensor, *self._lr_copies.values()):
                t._data[...] = float(value)
                t._vc[0] += 1

    def lr_in(self, dtype):
        """The lr as a persistent 0-d tensor of a parameter's dtype: the float64 lr tensor,
        or a copy of it in that dtype kept equal by __setitem__ (float32(lr), exactly what a
        cast computes). A compiled step reads it as a variable: a cast would be one more
        step, and in the kernel layout it joins the first parameter's update, which then
        needs a kernel of its own (6 kernels for an MLP's step instead of 5)."""
        if dtype.np == np.float64:
            return self.lr_tensor
        copy = self._lr_copies.get(dtype)
        if copy is None:
            copy = self._lr_copies[dtype] = Tensor._wrap(
                np.asarray(float(self.lr_tensor._data), dtype.np))
            copy._persistent = True
            copy.name = f"{self.lr_tensor.name}_{dtype.name}"
        return copy

    def __getstate__(self):
        # a copy (copy.deepcopy of an optimizer) compiles its own eager steps: these programs
        # are bound to this group's tensors (and hold locks, which cannot be copied)
        state = dict(self.__dict__)
        state.update(compiled_steps=[], compiled_last=None)
        return state

    # dict's own update/setdefault would not call __setitem__ (the lr tensor would go stale)
    def update(self, *args, **kwargs):
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    def setdefault(self, key, default=None):
        if key not in self:
            self[key] = default
        return self[key]


def _differs(a, b):
    try:
        return bool(a != b)
    except (TypeError, ValueError):
        return True


class Optimizer:
    """Base class: parameter groups, per-parameter state and the two ways to apply a rule."""

    # whether step() may run a group's rule as one compiled call (compiled_step.py): a rule
    # of elementwise arithmetic, whose kernels every parameter shape shares
    compiled_rule = False

    def __init__(self, params, defaults):
        self.defaults = dict(defaults)
        self.state = {}  # parameter -> {name: persistent tensor}
        self.param_groups = []
        params = list(params)
        if not params:
            raise ValueError("optimizer got an empty parameter list")
        groups = params if isinstance(params[0], dict) else [{"params": params}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, group):
        group = dict(group)
        params = group["params"]
        group["params"] = [params] if isinstance(params, Tensor) else list(params)
        for p in group["params"]:
            if not isinstance(p, Tensor) or not p.requires_grad:
                raise ValueError("optimizer can only optimize tensors that require grad (got "
                                 f"{type(p).__name__})")
            if not p.dtype.is_floating_point:
                raise ValueError(f"optimizer can only optimize floating tensors, got {p.dtype}")
        for key, value in self.defaults.items():
            if value is required and key not in group:
                raise ValueError(f"parameter group didn't specify a value of required "
                                 f"optimization parameter {key}")
            group.setdefault(key, value)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in group["params"]):
            raise ValueError("some parameters appear in more than one parameter group")
        name = f"{type(self).__name__.lower()}.group{len(self.param_groups)}.lr"
        self.param_groups.append(ParamGroup(group, name))

    # ---- what a subclass writes ----------------------------------------------------------------
    def init_state(self, p, group):
        """{name: initial value} of p's state: a float fills an array shaped like p, a
        0-d array stays 0-d (step counters), another array keeps its own shape (Adafactor's
        factored moments). Default: no state."""
        return {}

    def rule(self, p, g, state, lr, group):
        """New (parameter, {state name: value}) from graphc values; `lr` is a 0-d value."""
        raise NotImplementedError

    # ---- state -------------------------------------------------------------------------------------
    def _state_of(self, p, group):
        if p not in self.state:
            base = p.name or f"param{len(self.state)}"
            state = {}
            for key, init in self.init_state(p, group).items():
                # on p's device: an eager step then never mixes devices, and a compiled CUDA
                # step keeps all its state on the GPU (no transfer per call)
                if isinstance(init, np.ndarray) and init.ndim:  # a state of its own shape
                    t = full(init.shape, 0, dtype=p.dtype, device=p.device)
                    t._assign(init)
                else:  # a number fills p's shape; a 0-d array stays 0-d (step counters)
                    shape = () if isinstance(init, np.ndarray) else p.shape
                    t = full(shape, init, dtype=p.dtype, device=p.device)
                t._persistent, t.name = True, f"{base}.{key}"
                state[key] = t
            self.state[p] = state
        return self.state[p]

    # ---- eager ---------------------------------------------------------------------------------------
    def step(self, closure=None):
        """One update of every parameter that has a .grad, computed eagerly in place: per
        group one compiled call where it applies, else op by op (compiled_step.py)."""
        loss = None
        if closure is not None:
            from ..eager.grad_mode import enable_grad
            with enable_grad():
                loss = closure()
        # under no_grad, spelled out (the decorator's wrapper and context cost ~0.8 µs a step)
        prev, _grad_mode.enabled = _grad_mode.enabled, False
        try:
            for group in self.param_groups:
                params = []
                for p in group["params"]:
                    if p.grad is not None:
                        params.append(p)
                if params and not compiled_step.run(self, group, params):
                    self._step_op_by_op(group, params)
        finally:
            _grad_mode.enabled = prev
        return loss

    def _step_op_by_op(self, group, params):
        """The rule on eager tensors, one graphc op at a time."""
        lrs = {}  # the group's lr in each parameter dtype
        for p in params:
            state = self._state_of(p, group)
            if p.dtype not in lrs:
                lrs[p.dtype] = group.lr_in(p.dtype)
            new_p, new_state = self.rule(p, p.grad, dict(state), lrs[p.dtype], group)
            _write(p, new_p)
            for key, value in new_state.items():
                _write(state[key], value)

    def zero_grad(self, set_to_none=True):
        if set_to_none and Tensor._trace is not None:  # graphc.jit: no guard on these .grad
            Tensor._trace.grads_cleared([p for g in self.param_groups for p in g["params"]])
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none:
                    p.grad = None
                elif p.grad is not None:
                    _write(p.grad, 0)

    # ---- static --------------------------------------------------------------------------------------
    def updates(self, loss):
        """{variable: new value} applying this rule to every parameter, for
        graphc.compile(loss, inputs=..., updates=opt.updates(loss))."""
        if not isinstance(loss, Value):
            raise TypeError(f"updates() needs a symbolic loss (built from graphc.placeholder "
                            f"inputs), got {type(loss).__name__}; for eager tensors call "
                            f"loss.backward() and step()")
        used = _variables_read_by(loss)
        # like step(), which skips parameters without a .grad: a parameter the loss does not
        # read is left alone (no weight decay, no momentum drift)
        params = [p for group in self.param_groups for p in group["params"] if id(p) in used]
        grads = dict(zip(map(id, params), grad(loss, params)))
        out = {}
        for group in self.param_groups:
            group.compiled_keys = frozenset(k for k in self.defaults
                                            if k not in ("lr", "foreach", "fused"))
            for p in group["params"]:
                if id(p) not in used:
                    continue
                state = self._state_of(p, group)
                lr = variable_of(group.lr_in(p.dtype))
                symbolic_state = {k: variable_of(t) for k, t in state.items()}
                new_p, new_state = self.rule(variable_of(p), grads[id(p)], symbolic_state, lr,
                                             group)
                out[p] = new_p
                for key, value in new_state.items():
                    out[state[key]] = value
        return out

    # ---- checkpoints -----------------------------------------------------------------------------------
    def state_dict(self):
        """{'state': {index: {name: tensor}}, 'param_groups': [hyperparameters + indices]}, as
        PyTorch: parameters are referred to by their position over all groups."""
        index, groups = {}, []
        for group in self.param_groups:
            entry = {k: v for k, v in group.items() if k != "params"}
            entry["params"] = []
            for p in group["params"]:
                index.setdefault(id(p), len(index))
                entry["params"].append(index[id(p)])
            groups.append(entry)
        params = {id(p): p for g in self.param_groups for p in g["params"]}
        state = {index[id(p)]: {k: t.detach() for k, t in s.items()}
                 for p, s in self.state.items() if id(p) in params}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups) or any(
                len(a["params"]) != len(b["params"]) for a, b in zip(groups, self.param_groups)):
            raise ValueError("loaded state dict has a different number of parameter groups or "
                             "parameters")
        by_index = {}
        for saved, group in zip(groups, self.param_groups):
            for i, p in zip(saved["params"], group["params"]):
                by_index[int(i)] = p, group
            for k, v in saved.items():
                if k != "params":
                    group[k] = v
        for i, values in state_dict["state"].items():
            p, group = by_index[int(i)]
            state = self._state_of(p, group)
            for k, v in values.items():
                if k not in state:
                    raise ValueError(f"loaded optimizer state has an unknown entry {k!r}")
                _write(state[k], v)

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {v}" for k, v in sorted(group.items()) if k != "params"]
        return "\n".join(lines) + "\n)"


def _variables_read_by(loss):
    """ids of the tensors whose graph variables the loss reads.

    A tensor computed eagerly from parameters (e.g. `(w * w).sum() + x` with w a parameter
    and x a placeholder) enters the graph as a variable of its own, and the gradient would
    stop there: refuse it rather than train silently wrong."""
    used = set()
    for node in Graph.from_outputs([loss]).nodes:
        if node.op is not leaves.variable:
            continue
        storage = node.attrs["storage"]
        if storage.grad_fn is not None:
            raise GraphcError(
                f"updates(): the loss uses a tensor computed eagerly from parameters (result "
                f"of {storage.grad_fn.name()}, shape {list(storage.shape)}), so gradients would "
                f"not reach them. Build the loss from symbolic inputs: call the model on "
                f"graphc.placeholder values (parameters then join the graph as variables)")
        used.add(id(storage))
    return used


def _write(target, value):
    """Store an eager result into a tensor's own storage (the in-place half of step())."""
    target._assign(value)
