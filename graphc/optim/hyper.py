"""Hyperparameters as inputs of a traced optimizer rule (for compiled_step.py).

The rule (rules.py) is written for Python numbers: `1 - beta2`, `if weight_decay:`,
`rho_inf <= 5`. To trace it once for every value, each number of the group becomes a
`Hyper`: a 0-d placeholder of the parameters' dtype (fed at each call) that also knows how to
compute its value on the host from the group's current hyperparameters. Arithmetic between
Hypers and numbers stays on the host (a new Hyper computing, in Python floats, exactly what
the op-by-op path computes before a graphc function turns it into a constant of the
parameter's dtype); a Hyper that meets a tensor is a graph input holding that value. Python
decisions (truth value, comparisons with numbers, float()) are answered from the values at
trace time and recorded as *guards*: the program is reused while every guard gives the same
answer, and traced again otherwise.
"""
from __future__ import annotations

import operator
import weakref

import numpy as np

from ..ir.build import placeholder
from ..ir.graph import Value

_NUMBERS = (int, float, np.integer, np.floating)
# id(Hyper) -> its Trace (which keeps the Hyper alive: an id is not reused meanwhile). Not a
# WeakKeyDictionary: its lookups compare keys with ==, which a Hyper answers as a decision.
_TRACE_OF = weakref.WeakValueDictionary()


def _origin(h):
    """(Trace, fn(values) -> the value) of a Hyper."""
    trace = _TRACE_OF[id(h)]
    return trace, trace.fns[id(h)]


def is_number(x):
    return isinstance(x, _NUMBERS) and not isinstance(x, (bool, np.bool_))


class Trace:
    """The hyperparameters of one traced program: how to compute each fed value and the
    guards its structure depends on."""

    def __init__(self, values):
        self.values = values  # {key: the group's value} at trace time
        self.guards = []  # (fn(values) -> answer, answer at trace time)
        self.fns = {}  # id(Hyper) -> fn(values) -> its value
        self.hypers = []

    def leaf(self, key, index, dtype):
        if index is None:
            return self.hyper(lambda v: v[key], dtype, key)
        return self.hyper(lambda v: v[key][index], dtype, f"{key}{index}")

    def hyper(self, fn, dtype, name="hyper"):
        h = placeholder((), dtype, name=name)
        h.__class__ = Hyper  # (no slots of its own: the layout of Value)
        self.fns[id(h)] = fn
        self.hypers.append(h)
        _TRACE_OF[id(h)] = self
        return h

    def decide(self, fn):
        answer = fn(self.values)
        self.guards.append((fn, answer))
        return answer

    def holds(self, values):
        """Whether every decision of the trace comes out the same for `values`."""
        for fn, answer in self.guards:
            try:
                if fn(values) != answer:
                    return False
            except Exception:  # (e.g. a division by zero: the op-by-op step says so)
                return False
        return True


def fed_value(h, values):
    return _origin(h)[1](values)


def _fn(x):
    if isinstance(x, Hyper):
        return _origin(x)[1]
    return lambda v: x


def _host(op):
    """op on the host when the other operand is a number or a Hyper, else the graph op."""
    def method(self, other, _reflected=False):
        if not (is_number(other) or isinstance(other, Hyper)):
            graph_method = getattr(Value, ("__r%s__" if _reflected else "__%s__") % name)
            return graph_method(self, other)
        trace, a = _origin(self)
        b = _fn(other)
        if _reflected:
            return trace.hyper(lambda v: op(b(v), a(v)), self.dtype)
        return trace.hyper(lambda v: op(a(v), b(v)), self.dtype)
    name = op.__name__.strip("_")
    return method


def _reflected(op):
    forward = _host(op)

    def method(self, other):
        return forward(self, other, _reflected=True)
    return method


def _decision(op):
    def method(self, other):
        if not (is_number(other) or isinstance(other, Hyper)):
            return getattr(Value, "__%s__" % op.__name__.strip("_"))(self, other)
        trace, a = _origin(self)
        b = _fn(other)
        return trace.decide(lambda v: op(a(v), b(v)))
    return method


class Hyper(Value):
    """A hyperparameter of a traced rule (see the module's docstring)."""
    __slots__ = ()
    __hash__ = Value.__hash__

    __add__, __radd__ = _host(operator.add), _reflected(operator.add)
    __sub__, __rsub__ = _host(operator.sub), _reflected(operator.sub)
    __mul__, __rmul__ = _host(operator.mul), _reflected(operator.mul)
    __truediv__, __rtruediv__ = _host(operator.truediv), _reflected(operator.truediv)
    __pow__, __rpow__ = _host(operator.pow), _reflected(operator.pow)
    __lt__, __le__ = _decision(operator.lt), _decision(operator.le)
    __gt__, __ge__ = _decision(operator.gt), _decision(operator.ge)
    _eq, _ne = _decision(operator.eq), _decision(operator.ne)

    # with a number: a decision; two Hypers: the same one or not (as two Values are told
    # apart everywhere else: a rule never compares two hyperparameters)
    def __eq__(self, other):
        return self is other if isinstance(other, Hyper) else self._eq(other)

    def __ne__(self, other):
        return self is not other if isinstance(other, Hyper) else self._ne(other)

    def __neg__(self):
        trace, a = _origin(self)
        return trace.hyper(lambda v: -a(v), self.dtype)

    def __abs__(self):
        trace, a = _origin(self)
        return trace.hyper(lambda v: abs(a(v)), self.dtype)

    def __bool__(self):
        trace, a = _origin(self)
        return trace.decide(lambda v: bool(a(v)))

    def __float__(self):  # the value itself becomes part of the program's structure
        trace, a = _origin(self)
        return float(trace.decide(lambda v: float(a(v))))
