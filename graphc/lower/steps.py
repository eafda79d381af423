"""What one step of the memory plan becomes, in either layout (lower/program.py: the whole
step as one function; lower/kernel_layout.py: a kernel per step): its code, its comments,
and the module text around generated functions.
"""
from __future__ import annotations

import math
import re

from ..errors import UnsupportedError, op_error
from ..ops import conv, linalg
from ..passes.fusion import FUSED
from ..passes.layout import contiguous_strides
from .emit import comment_text
from .kernels import emit_copy
from .rules import CPU
from .scalar import FAST_HELPERS


# Comment lines naming the user's source lines start with this; they are left out of the
# module that is compiled and cached, so that editing a script does not invalidate the cache.
LOCATION_MARK = "@ "


class GeneratedProgram:
    """The source of a program and what the runner needs to call it."""

    def __init__(self, annotated, plan, inputs, variables, arenas, errors, parallel,
                 kernels=None, views=()):
        self.annotated = annotated  # with the user's source lines, for people
        self.source = without_locations(annotated)
        self.plan = plan
        self.inputs = inputs          # placeholder values, in argument order
        self.variables = variables    # variable values, in argument order
        self.arenas = arenas          # [(kind, dtype name, size or data)] in argument order
        self.errors = errors          # code - 1 -> (node, message)
        self.parallel = parallel      # calls threaded code: the runner takes the thread lock
        # kernel layout: the kernels' module sources (the program's `K` tuple, in order) and
        # the arena views it binds (`V`: (arena argument index, start, stop))
        self.kernels = kernels
        self.views = views
        self.subprograms = []  # kernel layout: body programs of scan nodes (lower/scan.py)
        self.runtime_kernels = []  # kernel layout: the library kernels the program calls

    @property
    def layout(self):
        return "whole" if self.kernels is None else "kernels"


def without_locations(text):
    return "\n".join(line for line in text.split("\n")
                     if not line.lstrip().startswith("#" + LOCATION_MARK))


# A typed literal such as f32(0.5) is a call Numba must type and lower at every use; a module
# constant is frozen into the code once (about 10% less compile time for an MLP step).
_TYPED_LITERAL = re.compile(r"\b(f32|f64|i64)\((-?[0-9][0-9.e+-]*|-?np\.inf|np\.nan)\)")


def hoist_constants(code):
    names = {}

    def name(m):
        value = (m.group(2).replace("np.inf", "INF").replace("np.nan", "NAN").replace("-", "M")
                 .replace("+", "").replace(".", "_").replace("e", "E"))
        return names.setdefault(m.group(0), f"{m.group(1).upper()}_{value}")
    code = _TYPED_LITERAL.sub(name, code)
    table = "".join(f"{k} = {text}\n" for text, k in names.items())
    return code, ("# typed constants\n" + table) if table else ""


def _describe(node):
    if node.op is FUSED and "group" in node.attrs:
        members = node.attrs["group"].nodes
        text = f"fused {node.attrs['group']!r}"
    else:
        members = [node]
        text = node.op.name
    types = ", ".join(repr(v.type) for v in node.outputs)
    lines = [f"{text} -> {types}"]
    for loc in list(dict.fromkeys(str(m.location) for m in members if m.location))[:3]:
        lines.append(f"{LOCATION_MARK}from {loc}")
    return lines


def comment_step(em, number, step):
    if step.node is None:
        em.comment(f"[{number}] copy {step.src.type} into {em.plan.storage[step.dst].kind}")
        return
    for text in _describe(step.node):
        if text.startswith(LOCATION_MARK):
            em.line("#" + LOCATION_MARK + comment_text(text[len(LOCATION_MARK):]))
        else:
            em.comment(f"[{number}] {text}")


def emit_step(em, number, step, opts, helpers, comments=True):
    if comments:
        comment_step(em, number, step)
    if step.node is None:
        name, base = em.array_of(step.dst)
        emit_copy(em, step.src, name, base, contiguous_strides(step.src.type.shape))
        return
    node = step.node
    rule = CPU.lookup(node.op)  # graphc/lower/rules.py
    if rule is None:
        fallback = CPU.fallback_of(node.op)
        why = f": {fallback.reason}" if fallback is not None else ""
        raise op_error(UnsupportedError, node.op.name, f"has no lowering for target 'cpu'{why}",
                       node.location)
    rule(em, node, opts, helpers)


def blas_work(node):
    """Multiply-adds of a step that calls BLAS (matmul, conv), else 0."""
    if node is None or node.op not in BLAS_OPS:
        return 0
    if node.op is linalg.matmul:
        return node.outputs[0].type.numel() * node.inputs[0].type.shape[-1]  # x K
    x, w = node.inputs[0], node.inputs[1]
    out = node.outputs[0]
    if node.op is conv.conv2d_op:  # each output element: one filter's fan-in
        return out.type.numel() * math.prod(w.type.shape[1:])
    if node.op is conv.conv_transpose2d_op:  # each input element: scattered over a filter
        return x.type.numel() * math.prod(w.type.shape[1:])
    return out.type.numel() * (w.type.numel() // max(1, w.type.shape[1]))  # weight grad


BLAS_OPS = (linalg.matmul, conv.conv2d_op, conv.conv_transpose2d_op, conv.conv2d_weight_grad)


def helper_parts(helpers, opts):
    parts = []
    kernels = sorted(k for kind, k in (h for h in helpers if isinstance(h, tuple)))
    if kernels:
        from runtime.kernels import location
        for k in kernels:
            module, attr = location(k)
            parts.append(f"from {module} import {attr} as rk_{k}")
    for name in sorted(h for h in helpers if isinstance(h, str)):
        parts.append(FAST_HELPERS[name].replace("cache=True", "cache=CACHE")
                     .format(fastmath=opts.fastmath))
    return parts
