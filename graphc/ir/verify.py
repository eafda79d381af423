"""`verify(graph)`: the invariants every pass must keep, checked on demand.

- the nodes are in topological order: every input of a node is the output of an earlier node
  of the graph (or of the fused node's own inputs, inside a fused group);
- no node appears twice; the graph's inputs are placeholders of the graph; every output and
  every variable update names a value the graph computes (no dangling roots);
- each node's recorded output types are what its op's type rule infers from its inputs'
  types today (a pass that rewires a node to an input of another shape is caught here, not
  by a wrong answer three passes later);
- loop bodies (a scan's `body` graph) and fused groups are verified the same way, inside.

The pass pipeline runs it after every pass when GRAPHC_VERIFY=1 (tests/conftest.py sets it):
`graphc.passes.run_pipeline`, and the CUDA target after specializing.
"""
from __future__ import annotations

import os

from ..errors import GraphcError
from ..ops import leaves
from .graph import Graph


def _is_fused(node):
    from ..passes.fusion import FUSED  # (graphc.passes imports this module)
    return node.op is FUSED


class GraphVerificationError(GraphcError, AssertionError):
    """A graph broke an IR invariant: a bug in the pass named in the message, not the user's."""


def enabled() -> bool:
    """Whether passes verify their results (GRAPHC_VERIFY=1; off by default: it costs a type
    rule per node per pass)."""
    return os.environ.get("GRAPHC_VERIFY", "") not in ("", "0")


def verify(graph, after: str | None = None):
    """Raise GraphVerificationError naming the first broken invariant (and the pass `after`
    which it was found); return the graph unchanged otherwise."""
    problems = _problems(graph)
    if problems:
        where = f" after pass {after!r}" if after else ""
        more = f"\n  (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise GraphVerificationError(f"invalid graph{where}: {problems[0]}{more}")
    return graph


def verify_if_enabled(graph, after: str | None = None):
    return verify(graph, after) if enabled() else graph


def _describe(node):
    where = f" (created at {node.location})" if node.location else ""
    return f"node #{node.id} {node.op.name}{where}"


def _problems(graph):
    problems = []
    defined = set()  # ids of values computed so far
    seen = set()
    for node in graph.nodes:
        if node.id in seen:
            problems.append(f"{_describe(node)} appears twice")
            continue
        seen.add(node.id)
        for k, v in enumerate(node.inputs):
            if id(v) not in defined:
                problems.append(_undefined(graph, node, k, v))
        problems += _type_problems(node)
        for sub in node.attrs.values():
            if isinstance(sub, Graph):  # a loop body
                problems += [f"in the body of {_describe(node)}: {p}" for p in _problems(sub)]
        group = node.attrs.get("group") if _is_fused(node) else None
        if group is not None:
            problems += [f"in {_describe(node)}: {p}" for p in _group_problems(node, group)]
        defined.update(id(v) for v in node.outputs)
    for v in graph.inputs:
        if v.node.op is not leaves.placeholder or id(v) not in defined:
            problems.append(f"graph input {v!r} is not a placeholder of the graph")
    for v in graph.outputs:
        if id(v) not in defined:
            problems.append(f"graph output {v!r} is computed by no node of the graph")
    for var, new in getattr(graph, "updates", ()):
        for role, v in (("variable", var), ("new value", new)):
            if id(v) not in defined:
                problems.append(f"update of {var!r}: its {role} {v!r} is computed by no node "
                                f"of the graph")
    return problems


def _undefined(graph, node, k, v):
    later = any(id(v) == id(out) for n in graph.nodes for out in n.outputs)
    why = "is computed by a later node (not topological order)" if later else \
        f"comes from {v.node.op.name} node #{v.node.id}, which is not in the graph"
    return f"input {k} of {_describe(node)} {why}"


def _type_problems(node):
    """The recorded output types against the op's type rule applied to the input types."""
    op = node.op
    if op is leaves.placeholder or not hasattr(op, "infer"):  # (a fused node has no rule)
        return []
    try:
        inferred = op.infer([v.type for v in node.inputs], **node.attrs)
    except (ValueError, TypeError, IndexError) as e:
        return [f"{_describe(node)}: its type rule rejects its inputs "
                f"({', '.join(repr(v.type) for v in node.inputs)}): {e}"]
    recorded = [v.type for v in node.outputs]
    if list(inferred) != recorded:
        return [f"{_describe(node)} records output types {recorded}, but its type rule gives "
                f"{list(inferred)} for inputs ({', '.join(repr(v.type) for v in node.inputs)})"]
    return []


def _group_problems(fused, group):
    """A fused group: members in order over the fused node's inputs, types re-inferred, and
    the fused node's outputs typed as the group values they stand for."""
    problems = []
    defined = {id(v) for v in fused.inputs}
    for member in group.nodes:
        for k, v in enumerate(member.inputs):
            if id(v) not in defined:
                problems.append(f"input {k} of member {_describe(member)} is neither an input "
                                f"of the fused node nor computed earlier in the group")
        problems += _type_problems(member)
        defined.update(id(v) for v in member.outputs)
    if len(group.outputs) != len(fused.outputs):
        problems.append(f"{len(fused.outputs)} outputs stand for {len(group.outputs)} group values")
    for inner, outer in zip(group.outputs, fused.outputs):
        if id(inner) not in defined:
            problems.append(f"group output {inner!r} is computed by no member")
        elif inner.type != outer.type:
            problems.append(f"output {outer!r} is typed {outer.type}, its group value "
                            f"{inner.type}")
    return problems
