"""The reference target: runs a graph node by node with each op's NumPy reference.

Slow but obviously right; the oracle the compilers are tested against.
"""
from __future__ import annotations

import numpy as np

from ..errors import GraphcError
from . import register_target


class ReferenceRunner:
    def __init__(self, spec):
        self.spec = spec

    def __call__(self, feeds):
        """feeds: list of arrays, one per graph input. Returns (outputs, update values)."""
        with np.errstate(all="ignore"):  # NaN/Inf propagate silently, as in compiled code
            return self._run(feeds)

    def _run(self, feeds):
        spec = self.spec
        env = {id(v): a for v, a in zip(spec.graph.inputs, feeds)}
        for node in spec.graph.nodes:
            if node.op.name == "placeholder":
                if id(node.outputs[0]) not in env:
                    raise GraphcError(f"placeholder {node.outputs[0].name!r} is not fed")
                continue
            args = [env[id(v)] for v in node.inputs]
            try:
                result = node.op.reference(*args, **node.attrs)
            except Exception as e:
                where = f" (created at {node.location})" if node.location else ""
                raise type(e)(f"{node.op.name}{where}: {e}") from e
            results = result if node.op.num_outputs != 1 else (result,)
            for v, r in zip(node.outputs, results):
                env[id(v)] = np.asarray(r, v.dtype.np)
        return [env[id(v)] for v in spec.outputs], [env[id(v)] for v in spec.update_values]


register_target("reference", ReferenceRunner)
