"""The compiled eager step: a parameter group's update as one call of a compiled program.

`Optimizer.step()` can run its rule (rules.py, the one formula) two ways on eager tensors:

- **op by op**: each graphc function of the rule runs at once (Adam: ~15 eager ops and one
  write per parameter and state tensor, each paying dispatch and a NumPy pass over memory);
- **compiled** (the default where it applies): the rule is traced once over symbolic values
  for every parameter of the group (the gradients are placeholders; parameters, state
  tensors and the group's lr are graph variables bound to their storage) and compiled by
  `graphc.compile` on the cpu target with the kernel layout. Each parameter's update fuses
  into one loop that writes the parameter and its state in place; kernels are identified by
  their structure (sizes are arguments), so every layer shares them, and the on-disk cache
  shares them across processes. A step is then one call: the gradients in, nothing out.

The compiled program reads the lr, step counts and state at run time, and the momentum (or
beta1) that schedulers with cycle_momentum write every step is an input of each call (while
it is positive; rules.py's `_nonzero` / `_positive` let the rule take it symbolic): none of
them compiles anything. The other hyperparameters (beta2, eps, weight decay, maximize, ...)
are constants of the program, baked exactly as the op-by-op path uses them: the program is
keyed on them, and changing one traces and compiles again (the kernels of values seen before
come from the cache). A group whose hyperparameters keep changing would compile every step:
after MAX_PROGRAMS distinct settings it runs op by op from then on, with one warning.

Numbers: the op-by-op path's, up to the last bits (the kernels contract a*b+c into fused
multiply-adds); fed as a value of the parameters' dtype, beta1 makes `1 - beta1` a float32
difference where the op-by-op path rounds Python's double difference (one ulp).

Which path runs (docs/optim.md): per group, PyTorch's `foreach` / `fused` choose, as PyTorch's
own choose among implementations of the same arithmetic:

- `fused=True`: compiled; a step it cannot serve raises UnsupportedError saying why;
- `foreach=False` or `fused=False`: op by op (PyTorch's single-tensor loop);
- `foreach=None` or `True` (default): compiled where it applies, else op by op;
  `GRAPHC_OPTIM_COMPILE=0` makes the default op by op.

It does not apply (op by op instead) under graphc.jit (the traced step compiles with the rest
of the function anyway) and under graphc.debug.check_numerics (to name the op); and it cannot
serve CUDA tensors, dtypes other than float32/float64, parameters that are views or not
contiguous, gradients of another dtype or shape, an optimizer without a compiled rule, or a
machine without Numba.
"""
from __future__ import annotations

import os
import warnings
from operator import is_

import numpy as np

from .. import debug as _debug
from .. import functional as G
from ..dispatch import variable_of
from ..eager.tensor import Tensor
from ..errors import UnsupportedError
from ..ir.build import placeholder

ENV = "GRAPHC_OPTIM_COMPILE"
# distinct hyperparameter settings compiled for one group before it runs op by op
MAX_PROGRAMS = 4
# programs kept per setting for different sets of parameters with a .grad
MAX_SUBSETS = 8
_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
_CHOICE_KEYS = ("foreach", "fused")  # choose the implementation; not read by the rules


def run(optimizer, group, params):
    """Apply the group's update to `params` (those with a .grad) as one compiled call.
    False when the op-by-op path must run instead (fused=True raises instead)."""
    fused = group.get("fused")
    if fused is False or group.get("foreach") is False:
        return False
    if Tensor._trace is not None or _debug._state["numerics"]:
        return False  # traced into the jit step / checked op by op: not a missing feature
    if fused is None and (os.environ.get(ENV, "1") == "0" or not group.compiled_step_enabled):
        return False
    programs = group.compiled_steps
    key = (tuple(params), _settings(optimizer, group))
    step = programs.get(key)
    if step is not None and step.ready(optimizer.state):  # the per-step path: cheap checks
        step.run()
        return True
    why = _unusable(optimizer, group, params)
    settings = {s for _, s in programs}
    if why is None and key[1] not in settings and len(settings) >= MAX_PROGRAMS:
        why = (f"the group's hyperparameters (other than lr) changed {len(settings)} times, "
               f"each setting a new compiled program")
        if group.compiled_step_enabled and not fused:
            warnings.warn(f"{type(optimizer).__name__}: {why}; this group's step runs op by "
                          f"op from now on (pass foreach=False to choose that from the start)",
                          stacklevel=3)
        group.compiled_step_enabled = False
    if why is not None:
        if fused:
            raise UnsupportedError(f"{type(optimizer).__name__}(fused=True): {why}; use "
                                   f"fused=None for the op-by-op step there")
        return False
    if len(programs) >= MAX_SUBSETS * MAX_PROGRAMS:  # parameters with a .grad keep varying:
        programs.clear()  # tracing a subset again costs milliseconds (its kernels are loaded)
    step = programs[key] = GroupStep(optimizer, group, params)
    step.run()
    return True


def _unusable(optimizer, group, params):
    """Why the compiled step cannot run these parameters, or None."""
    if not optimizer.compiled_rule:
        return f"{type(optimizer).__name__} has no compiled step"
    if not group.compiled_step_enabled:
        return "its hyperparameters (other than lr) changed too often"
    from ..backends import default_target
    if default_target() != "cpu":
        return "the compiled step needs the cpu target (Numba), which does not load here"
    for p in params:
        data, grad = p._data, p.grad._data
        if type(data) is not np.ndarray or type(grad) is not np.ndarray:
            return "it runs on the cpu target; a parameter or gradient is on another device"
        if data.dtype not in _FLOATS:
            return f"a parameter is {p.dtype.name}; the compiled step takes float32/float64"
        if grad.dtype != data.dtype or grad.shape != data.shape:
            return (f"a gradient is {grad.dtype.name}{list(grad.shape)} for a parameter "
                    f"{data.dtype.name}{list(data.shape)}")
        if p._base is not None or not data.flags.c_contiguous:
            return "a parameter is a view or not contiguous (updated in place as flat memory)"
    return None


def _settings(optimizer, group):
    """The group's hyperparameters that the program bakes in (all but lr and a fed
    momentum), hashable."""
    layout = optimizer.__dict__.get("_settings_layout")
    if layout is None:
        keys = tuple(k for k in optimizer.defaults if k != "lr" and k not in _CHOICE_KEYS)
        fed = _fed_index(optimizer)
        layout = optimizer._settings_layout = keys, fed, fed and keys.index(fed[0])
    keys, fed, position = layout
    values = [group.get(k) for k in keys]
    if fed is not None and _feedable(_fed_value(group, fed)):
        values[position] = _FED if fed[1] is None else (_FED, *values[position][1:])
    values = tuple(values)
    try:
        hash(values)
    except TypeError:  # e.g. betas given as a list
        values = _hashable(values)
    return values


_FED = "<an input of the program>"


def _fed_index(optimizer):
    """(key, index or None) of the hyperparameter a scheduler's cycle_momentum writes
    (cyclic_lr.py `_set_momentum`): beta1 where there are betas, else momentum."""
    if "betas" in optimizer.defaults:
        return "betas", 0
    return ("momentum", None) if "momentum" in optimizer.defaults else None


def _fed_value(group, fed):
    value = group.get(fed[0])
    return value if fed[1] is None else value[fed[1]]


def _feedable(value):
    """Fed while positive (a zero momentum removes its terms from the rule)."""
    return isinstance(value, (int, float, np.floating, np.integer)) and \
        not isinstance(value, bool) and value > 0


def _hashable(value):
    if isinstance(value, (list, tuple)):
        return tuple(map(_hashable, value))
    if isinstance(value, np.ndarray):
        return (value.dtype.str, value.shape, value.tobytes())
    return value


class GroupStep:
    """One compiled program updating `params` and their state in place."""

    def __init__(self, optimizer, group, params):
        lrs, inputs, updates, views = {}, [], {}, {}
        fed = _fed_index(optimizer)
        self.group, self.fed = group, fed if fed and _feedable(_fed_value(group, fed)) else None
        for i, p in enumerate(params):
            state = optimizer._state_of(p, group)
            if p.dtype not in lrs:
                lrs[p.dtype] = G.cast(variable_of(group.lr_tensor), p.dtype)
                views[p.dtype] = self._group_view(p.dtype)
            g = placeholder(p.shape, p.dtype, name=f"grad{i}")
            inputs.append(g)
            symbolic = {k: variable_of(t) for k, t in state.items()}
            new_p, new_state = optimizer.rule(variable_of(p), g, dict(symbolic), lrs[p.dtype],
                                              views[p.dtype])
            for tensor, old, new in [(p, variable_of(p), new_p)] + [
                    (state[k], symbolic[k], v) for k, v in new_state.items()]:
                if new is not old:  # (a value the rule leaves alone needs no write)
                    updates[tensor] = new
        self.fed_dtypes = [dtype.np for dtype in views] if self.fed else []
        self.fed_inputs = [views[dtype].fed_input for dtype in views] if self.fed else []
        self.fed_feeds = (None, ())  # (value, arrays) of the latest call
        from ..compile import compile
        self.executable = compile([], inputs=inputs + self.fed_inputs, updates=updates,
                                  target="cpu", layout="kernels")
        # what _unusable checked and the program is bound to: a replaced parameter array
        # (p.data = ...) or state tensor (a user assigning opt.state[p][k]) needs a new look
        self.bound = [(p, p._data, optimizer.state[p], tuple(optimizer.state[p].values()))
                      for p in params]
        self.grads = []

    def ready(self, states):
        """Whether the program can run this step: the parameters' arrays and state tensors
        are those it was built for, and each gradient is an array of its parameter's type."""
        grads = self.grads = []
        for p, data, state, tensors in self.bound:
            g = p.grad._data
            if p._data is not data or type(g) is not np.ndarray or g.dtype is not data.dtype \
                    or g.shape != data.shape or states.get(p) is not state \
                    or len(state) != len(tensors) or not all(map(is_, state.values(), tensors)):
                return False
            grads.append(g)
        return True

    def _group_view(self, dtype):
        """The group as the rule reads it for parameters of `dtype`: the fed hyperparameter
        a 0-d placeholder of that dtype."""
        view = _GroupView(self.group)
        if self.fed is not None:
            key, index = self.fed
            view.fed_input = placeholder((), dtype, name=f"{key}_{dtype.name}")
            view[key] = view.fed_input if index is None else \
                (view.fed_input, *self.group[key][1:])
        return view

    def run(self):
        """One step on the gradients ready() collected (or all, after __init__)."""
        grads = self.grads or [p.grad._data for p, *_ in self.bound]
        if self.fed is None:
            self.executable(*grads)
            return
        value = _fed_value(self.group, self.fed)
        if value != self.fed_feeds[0]:
            self.fed_feeds = (value, [np.asarray(value, dtype) for dtype in self.fed_dtypes])
        self.executable(*grads, *self.fed_feeds[1])


class _GroupView(dict):
    """A copy of a group's hyperparameters for tracing (the group itself stays as it is)."""
    fed_input = None
