"""The reference target: runs a graph node by node with each op's NumPy reference.

Slow but obviously right; the oracle the compilers are tested against. The walk (and the
freeing of each value after its last use) is graphc/ir/interpreter.py's.
"""
from __future__ import annotations

import numpy as np

from ..ir.interpreter import Interpreter
from ..ops import leaves
from ..ops.rules import TargetRules
from . import register_target


# The reference target's rules (graphc/ops/rules.py): every op runs its NumPy reference.
REFERENCE = TargetRules("reference")
REFERENCE.fallback("pass", "fed by the caller (graphc/ir/interpreter.py)", leaves.placeholder)


@REFERENCE.trait_rule("the op's NumPy reference", lambda op: True)
def run_reference(node, args):
    result = node.op.reference(*args, **node.attrs)
    results = result if node.op.num_outputs != 1 else (result,)
    return [np.asarray(r, v.dtype.np) for v, r in zip(node.outputs, results)]


class ReferenceInterpreter(Interpreter):
    def run_node(self, node, args):
        return REFERENCE.lookup(node.op)(node, args)


class ReferenceRunner:
    def __init__(self, spec):
        self.spec = spec
        self.interpreter = ReferenceInterpreter(spec.graph,
                                                list(spec.outputs) + list(spec.update_values))

    def __call__(self, feeds):
        """feeds: list of arrays, one per graph input. Returns (outputs, update values)."""
        with np.errstate(all="ignore"):  # NaN/Inf propagate silently, as in compiled code
            env = self.interpreter.run(feeds)
        spec, it = self.spec, self.interpreter
        return it.outputs(env, spec.outputs), it.outputs(env, spec.update_values)


register_target("reference", ReferenceRunner)
