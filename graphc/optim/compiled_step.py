"""The compiled eager step: a parameter group's update as one call of a compiled program.

`Optimizer.step()` can run its rule (rules.py, the one formula) two ways on eager tensors:

- **op by op**: each graphc function of the rule runs at once (Adam: ~15 eager ops and one
  write per parameter and state tensor, each paying dispatch and a NumPy pass over memory);
- **compiled** (the default where it applies): the rule is traced once over symbolic values
  for every parameter of the group (the gradients are placeholders; parameters, state
  tensors and the group's lr in each parameter dtype, ParamGroup.lr_in, are graph variables
  bound to their storage) and compiled by
  `graphc.compile` on the cpu target with the kernel layout. Each parameter's update fuses
  into one loop that writes the parameter and its state in place; kernels are identified by
  their structure (sizes are arguments), so every layer shares them, and the on-disk cache
  shares them across processes. A step is then one call: the gradients in, nothing out.

The program reads everything that changes between steps at run time: the lr (the group's
lr tensors), the step counts and the state, and every number among the hyperparameters
(betas, eps, weight decay, momentum, ...): hyper.py traces the rule with each of them as an
input whose value the host computes per call as Python computes it in the op-by-op path
(`1 - beta2` in double, then the parameter's dtype). Schedulers, cycle_momentum and a user
writing param_groups compile nothing. Only the rule's *structure* is baked: flags (amsgrad,
nesterov, maximize) and the Python decisions taken on numbers (a weight decay of 0 drops its
term); changing those traces again, and a new structure compiles its kernels once (then the
on-disk cache has them). A group whose structure keeps changing runs op by op after
MAX_PROGRAMS structures, with one warning.

Numbers: the op-by-op path's, to the bit where NumPy and the kernel compute the same
operations (the program is compiled strict: no fast-math contraction into fused
multiply-adds).

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
from operator import is_, is_not

import numpy as np

from .. import debug as _debug
from ..dispatch import variable_of
from ..eager.tensor import Tensor
from ..errors import GraphcError, UnsupportedError
from ..ir.build import placeholder
from ..ir.graph import Graph
from .hyper import Trace, fed_value, is_number

ENV = "GRAPHC_OPTIM_COMPILE"
# distinct rule structures compiled for one group before it runs op by op
MAX_PROGRAMS = 4
# programs kept per structure for different sets of parameters with a .grad
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
    keys = optimizer.__dict__.get("_rule_keys") or _keys(optimizer)
    values = tuple(map(group.get, keys))
    step = group.compiled_last
    if step is not None and _same(step.params, params) and _equal(step.values, values) \
            and step.ready(optimizer.state):  # the per-step path: cheap checks
        step.run()
        return True
    return _slow_path(optimizer, group, params, keys, values, fused)


def _equal(a, b):
    try:
        return bool(a == b)
    except Exception:  # (a hyperparameter set to a tensor of several elements)
        return False


def _same(a, b):
    """The same tensors in the same order (== on tensors would compare their elements)."""
    return len(a) == len(b) and all(map(is_, a, b))


def _slow_path(optimizer, group, params, keys, values, fused):
    """A program for a new set of parameters or new hyperparameters: an earlier one whose
    guards hold, or a new trace."""
    named = dict(zip(keys, values))
    why = _unusable(optimizer, group, params)
    programs = group.compiled_steps
    step = None
    for candidate in ([] if why else list(programs)):
        if _same(candidate.params, params) and candidate.accepts(named):
            if candidate.ready(optimizer.state):
                step = candidate
                break
            programs.remove(candidate)  # bound to a replaced parameter array or state tensor
    if why is None and step is None:
        structures = {s.structure for s in programs}
        if len(structures) >= MAX_PROGRAMS:
            why = (f"its hyperparameters changed the rule's structure (terms that are there "
                   f"or not, e.g. a weight decay of 0) {len(structures)} times, each one a new "
                   f"compiled program")
            if group.compiled_step_enabled and not fused:
                warnings.warn(f"{type(optimizer).__name__}: a parameter group's step: {why}; "
                              f"it runs op by op from now on (pass foreach=False to choose that "
                              f"from the start)", stacklevel=4)
            group.compiled_step_enabled = False
    if why is not None:
        if fused:
            raise UnsupportedError(f"{type(optimizer).__name__}(fused=True): {why}; use "
                                   f"fused=None for the op-by-op step there")
        return False
    if step is None:
        if len(programs) >= MAX_SUBSETS * MAX_PROGRAMS:  # the parameters with a .grad keep
            programs.clear()  # varying: a trace costs milliseconds (its kernels are loaded)
        step = GroupStep(optimizer, group, params, named)
        programs.append(step)
    if not step.feed(named, values):
        return False  # a hyperparameter the host cannot compute: op by op says why
    group.compiled_last = step
    if not step.ready(optimizer.state):  # (a new program is bound to these very tensors)
        raise AssertionError("compiled optimizer step: a new program is not ready")
    step.run()
    return True


def _unusable(optimizer, group, params):
    """Why the compiled step cannot run these parameters, or None."""
    if not optimizer.compiled_rule:
        return f"{type(optimizer).__name__} has no compiled step"
    if not group.compiled_step_enabled:
        return "its hyperparameters changed the rule's structure too often"
    from ..backends import default_target
    if default_target() != "cpu":
        return "the compiled step needs the cpu target (Numba), which does not load here"
    for key in _keys(optimizer):
        value = group.get(key)
        if isinstance(value, Tensor) or isinstance(value, (tuple, list)) and any(
                isinstance(v, Tensor) for v in value):
            return f"its hyperparameter {key!r} is a tensor"
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


def _keys(optimizer):
    """The hyperparameters the rule reads: every default but the lr (fed from the group's
    lr tensor) and the implementation choice."""
    keys = optimizer.__dict__.get("_rule_keys")
    if keys is None:
        keys = optimizer._rule_keys = tuple(k for k in optimizer.defaults
                                            if k != "lr" and k not in _CHOICE_KEYS)
    return keys


def _fed_entry(value):
    """How a hyperparameter enters the trace: 'number', 'numbers' (a tuple of them, e.g.
    betas) or None (baked in: flags, None, strings)."""
    if is_number(value):
        return "number"
    if isinstance(value, (tuple, list)) and value and all(map(is_number, value)):
        return "numbers"
    return None


class GroupStep:
    """One compiled program updating `params` and their state in place."""

    def __init__(self, optimizer, group, params, values):
        self.params = list(params)
        try:
            self._build(optimizer, group, values, fed=True)
        except (GraphcError, TypeError, ValueError, ZeroDivisionError):
            # a rule that needs a hyperparameter as a plain number somewhere: baked in, the
            # program then serves exactly these values
            self._build(optimizer, group, values, fed=False)
        # what _unusable checked and the program is bound to: a replaced parameter array
        # (p.data = ...) or state tensor (a user assigning opt.state[p][k]) needs a new look
        self.bound = [(p, p._data, optimizer.state[p], tuple(optimizer.state[p].values()))
                      for p in self.params]
        self.grads, self.values, self.feeds = [], None, []
        self.last_grads, self.fed_once = [], False  # (run)

    def _build(self, optimizer, group, values, fed):
        trace = self.trace = Trace(values)
        baked = {k: v for k, v in values.items() if not fed or _fed_entry(v) is None}
        self.baked = tuple(baked.items()) if fed else None
        self.traced_values = tuple(values.items())
        inputs, updates, views = [], {}, {}
        for i, p in enumerate(self.params):
            state = optimizer._state_of(p, group)
            if p.dtype not in views:
                views[p.dtype] = _group_view(group, trace, values, baked, p.dtype)
            g = placeholder(p.shape, p.dtype, name=f"grad{i}")
            inputs.append(g)
            symbolic = {k: variable_of(t) for k, t in state.items()}
            # the lr in p's dtype, a variable kept equal to the group's (ParamGroup.lr_in)
            new_p, new_state = optimizer.rule(variable_of(p), g, dict(symbolic),
                                              variable_of(group.lr_in(p.dtype)),
                                              views[p.dtype])
            for tensor, old, new in [(p, variable_of(p), new_p)] + [
                    (state[k], symbolic[k], v) for k, v in new_state.items()]:
                if new is not old:  # (a value the rule leaves alone needs no write)
                    updates[tensor] = new
        used = set(map(id, Graph.from_outputs(list(updates.values())).placeholders))
        self.fed = [h for h in trace.hypers if id(h) in used]
        # (a string: counted in a set, whatever the hyperparameters' types)
        self.structure = repr((self.baked, [answer for _, answer in trace.guards])) if fed \
            else repr(self.traced_values)
        from ..compile import compile
        # strict: no fast-math contraction, so the numbers are the op-by-op path's
        self.executable = compile([], inputs=inputs + self.fed, updates=updates, target="cpu",
                                  layout="kernels", strict=True)

    def accepts(self, values):
        """Whether this program computes the rule for these hyperparameters."""
        if self.baked is None:  # (traced with every value baked in)
            return all(_equal(values[k], v) for k, v in self.traced_values)
        return all(_equal(values[k], v) for k, v in self.baked) and self.trace.holds(values)

    def feed(self, values, raw):
        """The fed hyperparameters for these values; False if the host cannot compute one."""
        try:
            self.feeds = [np.asarray(fed_value(h, values), h.dtype.np) for h in self.fed]
        except Exception:  # (e.g. a division by zero: the op-by-op step raises it)
            return False
        self.values = raw
        return True

    def ready(self, states):
        """Whether the program can run this step: the parameters' arrays and state tensors
        are those it was built for, and each gradient is an array of its parameter's type."""
        grads = self.grads = []
        for p, data, state, tensors in self.bound:
            g = p.grad._data
            if p._data is not data or type(g) is not np.ndarray or g.dtype is not data.dtype \
                    or g.shape != data.shape or states.get(p) is not state \
                    or len(state) != len(tensors) or tensors and not all(
                        map(is_, state.values(), tensors)):  # (SGD without momentum: none)
                return False
            grads.append(g)
        return True

    def run(self):
        """One step on the gradients ready() collected. The executable checks its feeds
        once; after that, new gradient arrays (every step after zero_grad()) go straight to
        its run: ready() has checked their shapes and dtypes against the parameters, which
        the placeholders have, and feed() made the rest (~1.7 µs of its ~8 µs call). The
        very arrays of the previous step (gradients accumulated in place) take the call,
        whose own fast path serves them."""
        grads = self.grads
        last, self.last_grads = self.last_grads, grads
        if self.fed_once and (len(last) != len(grads) or any(map(is_not, grads, last))):
            self.executable._run(grads + self.feeds)
            return
        self.fed_once = True
        self.executable(*grads, *self.feeds)


def _group_view(group, trace, values, baked, dtype):
    """The group as the rule reads it for parameters of `dtype`: each fed hyperparameter a
    Hyper of that dtype (a copy: the group itself stays as it is)."""
    view = dict(group)
    for key, value in values.items():
        if key in baked:
            continue
        if _fed_entry(value) == "number":
            view[key] = trace.leaf(key, None, dtype)
        else:
            view[key] = tuple(trace.leaf(key, i, dtype) for i in range(len(value)))
    return view
