"""What a picture shows, independent of how it is drawn: boxes, arrows and clusters.

Builders turn a static graph or a compiled executable into a `Picture`; `dot.py` writes it as
Graphviz DOT text and `render.py` draws it (Graphviz, or matplotlib when Graphviz is absent).

What a compiled executable offers is read through `compiled.py`.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, replace

from ..autodiff import GradientLocation
from ..ir.graph import Graph
from ..ops import leaves
from ..passes.fusion import FUSED
from ..types import format_shape

# style -> how a box looks; shared by the DOT writer and the matplotlib fallback
BOX_STYLES = {
    "input": dict(shape="ellipse", fill="#cfe2ff", line="#3d5a80"),
    "variable": dict(shape="box", fill="#d1e7dd", line="#2d6a4f"),
    "constant": dict(shape="box", fill="#f1f3f5", line="#adb5bd"),
    "op": dict(shape="box", fill="#ffffff", line="#495057"),
    "grad": dict(shape="box", fill="#ffe8cc", line="#d9480f"),
    "update": dict(shape="box", fill="#f8d7da", line="#c92a2a"),
    "collapsed": dict(shape="box3d", fill="#fff3bf", line="#a07d00"),
    "tape_leaf": dict(shape="box", fill="#a5d8ff", line="#1c7ed6"),
    "tape_op": dict(shape="box", fill="#e9ecef", line="#495057"),
    "tape_root": dict(shape="box", fill="#b2f2bb", line="#2b8a3e"),
}
REUSED_LINE = "#7048e8"  # border of a value whose buffer is shared with others


@dataclass
class Box:
    key: str          # an identifier, unique in the picture
    label: str        # lines separated by "\n"
    style: str        # a key of BOX_STYLES
    cluster: str | None = None
    output: bool = False   # a result of the graph: drawn with a double border
    reused: bool = False   # its buffer is shared with other values


@dataclass
class Arrow:
    src: str
    dst: str
    label: str = ""
    style: str = "data"    # "data" or "update"


@dataclass
class Cluster:
    key: str
    label: str


@dataclass
class Picture:
    title: str
    boxes: dict = field(default_factory=dict)     # key -> Box, in drawing order
    arrows: list = field(default_factory=list)
    clusters: dict = field(default_factory=dict)  # key -> Cluster

    def add(self, box):
        self.boxes[box.key] = box
        return box


def is_gradient(node) -> bool:
    """Whether graphc.grad made this node (the backward part of a training step)."""
    return isinstance(node.location, GradientLocation)


def node_label(node, names) -> str:
    name = names[node.outputs[0]]
    types = ", ".join(repr(v.type) for v in node.outputs)
    op = node.op.name
    if op in ("placeholder", "variable"):
        return f"{name[1:]}\n{types}"
    if op == "constant":
        value = node.attrs["value"]
        text = str(value.reshape(())[()]) if value.size == 1 else \
            f"const {format_shape(value.shape)}"
        return f"{text}\n{types}"
    outs = ", ".join(names[v] for v in node.outputs)
    return f"{op}\n{outs}: {types}"


def _leaf_style(node):
    return {"placeholder": "input", "variable": "variable", "constant": "constant"}.get(
        node.op.name)


def _group_members(group):
    items = getattr(group, "nodes", group)
    return [getattr(m, "id", m) for m in items]


class _Expanded:
    """A compiled graph with each fused node replaced by the nodes of its group.

    `alias` maps a fused node's outputs to the inner values computing them, so that arrows
    and buffers can be drawn between the original ops.
    """

    def __init__(self, graph):
        self.nodes, self.alias, self.groups = [], {}, []
        for node in graph.nodes:
            group = node.attrs.get("group") if node.op is FUSED else None
            if group is None:
                self.nodes.append(node)
                continue
            self.nodes.extend(group.nodes)
            self.groups.append(group)
            self.alias.update(zip(node.outputs, group.outputs))

    def resolve(self, v):
        while v in self.alias:
            v = self.alias[v]
        return v


def _buffer_labels(graph, buffer_of, ex):
    """value -> text naming its buffer, and the values whose buffer is reused by others."""
    plan = getattr(graph, "memory", None)
    if plan is not None and hasattr(plan, "layouts"):
        return _plan_labels(plan, ex)
    if not buffer_of:
        return {}, set()
    labels, holders = {}, {}
    for v in (v for n in ex.nodes for v in n.outputs):
        buf = buffer_of.get(v)
        if buf is not None:
            labels[v] = f"buf {buf}"
            holders.setdefault(buf, []).append(v)
    return _mark_reused(labels, holders)


def _plan_labels(plan, ex):
    """Labels from the CPU compiler's MemoryPlan (passes/memory.py): where each value lives."""
    labels, holders = {}, {}
    buckets = {c.root: k for k, c in enumerate(getattr(plan, "collectives", ()))}
    for v, layout in plan.layouts.items():
        storage = plan.storage.get(layout.root)
        if storage is None:
            continue
        inner = ex.resolve(v)
        if layout.root in buckets:  # a gradient written into its allreduce bucket
            labels[inner] = f"allreduce bucket {buckets[layout.root]}"
        elif layout.root is not v:
            labels[inner] = "view"
        elif storage.kind == "temp":
            labels[inner] = f"arena {storage.dtype.short}+{storage.offset}"
            holders.setdefault((storage.dtype.name, storage.offset), []).append(inner)
        elif storage.kind == "var" and v.node.op is not leaves.variable:
            labels[inner] = "in place"
        elif storage.kind == "out":
            labels[inner] = f"output {storage.index}"
    return _mark_reused(labels, holders)


def _mark_reused(labels, holders):
    """Values sharing a buffer with others get "(reused)" in their label."""
    reused = {v for vs in holders.values() if len(vs) > 1 for v in vs}
    for v in reused:
        labels[v] += " (reused)"
    return labels, reused


def graph_picture(graph: Graph, *, title="graph", updates=None, fusion_groups=None,
                  buffer_of=None, collapse=False) -> Picture:
    """A picture of a graph: one box per node, one arrow per use of a value.

    Fused nodes of a compiled graph are drawn as their ops inside a cluster; `fusion_groups`
    and `buffer_of` (see the module doc) add clusters and buffer labels to any graph.
    """
    from ..ir.graph import value_names
    ex = _Expanded(graph)
    names = value_names(Graph(ex.nodes, graph.inputs, graph.outputs))
    pic = Picture(title)
    outputs = {ex.resolve(v) for v in graph.outputs}
    buffers, reused = _buffer_labels(graph, buffer_of, ex)
    cluster_of = {}
    groups = [(g, f"{g.kind} kernel") for g in ex.groups] + \
        [(g, getattr(g, "name", None) or "kernel") for g in fusion_groups or ()]
    for k, (group, label) in enumerate(groups):
        members = _group_members(group)
        if len(members) > 1:
            key = f"cluster_k{k}"
            pic.clusters[key] = Cluster(key, f"{label} {k} ({len(members)} ops)")
            cluster_of.update((m, key) for m in members)
    for node in ex.nodes:
        style = _leaf_style(node) or ("grad" if is_gradient(node) else "op")
        label = node_label(node, names)
        where = [buffers[v] for v in node.outputs if v in buffers]
        if where and style not in ("input", "variable", "constant"):
            label += "\n" + ", ".join(where)
        pic.add(Box(f"n{node.id}", label, style, cluster_of.get(node.id),
                    output=any(v in outputs for v in node.outputs),
                    reused=any(v in reused for v in node.outputs)))
        for v in node.inputs:
            v = ex.resolve(v)
            tag = f".{v.index}" if len(v.node.outputs) > 1 else ""
            pic.arrows.append(Arrow(f"n{v.node.id}", f"n{node.id}", tag))
    updates = getattr(graph, "updates", None) or updates or ()
    for var, new in updates:
        key = f"u{var.node.id}"
        new = ex.resolve(new)
        pic.add(Box(key, f"update {names[var][1:]}\n{var.type}", "update"))
        pic.arrows.append(Arrow(f"n{new.node.id}", key, style="update"))
    return collapse_picture(pic, ex.nodes) if collapse else pic


def executable_picture(exe, collapse=False, shapes=None) -> Picture:
    """A compiled executable: fused kernels as clusters, buffers and updates where known
    (`shapes`: {input name or position: shape} to compile for, see compiled.input_shapes)."""
    from .compiled import compiled_graph
    target = getattr(exe, "target", "?")
    return graph_picture(compiled_graph(exe, shapes), title=f"executable ({target})",
                         updates=getattr(exe, "updates", ()),
                         fusion_groups=getattr(exe, "fusion_groups", None),
                         buffer_of=getattr(exe, "buffer_of", None), collapse=collapse)


def scope_of(node, parents=frozenset()) -> str | None:
    """The group a node collapses into: its module scope when set, else its source line;
    the gradient part of a line (graphc.grad called there) is a group of its own. Ops a
    module runs around its submodules (scopes in `parents`) group by source line in it."""
    scope = getattr(node, "scope", None)
    loc = node.location
    line = f"{os.path.basename(loc.filename)}:{loc.lineno}" if loc is not None else None
    if scope in parents and line:
        scope = f"{scope} {line}"
    elif not scope:
        scope = line
    if scope and is_gradient(node):
        scope = f"{scope} (gradient)"
    return str(scope) if scope else None


def collapse_picture(pic: Picture, nodes) -> Picture:
    """Replace the ops of each scope (or source line) by one box.

    Inputs stay visible; a constant or variable read by one group only (an optimizer's
    moments) goes inside it, and the updates written from one group become one box.
    """
    members = {}
    scopes = {n.scope for n in nodes if getattr(n, "scope", None)}
    parents = frozenset(s for s in scopes if any(t.startswith(s + ".") for t in scopes))
    for node in nodes:
        scope = None if node.is_leaf else scope_of(node, parents)
        if scope is not None:
            members.setdefault(scope, []).append(node)
    group_of, groups = {}, {}  # box key -> group key; group key -> (scope, nodes)
    for i, (scope, nodes) in enumerate(members.items()):
        if len(nodes) > 1:
            groups[f"g{i}"] = (scope, nodes)
            group_of.update((f"n{n.id}", f"g{i}") for n in nodes)
    readers, writers = {}, {}
    for a in pic.arrows:
        readers.setdefault(a.src, set()).add(group_of.get(a.dst, a.dst))
        if a.style == "update" and a.src in group_of:
            writers[a.dst] = group_of[a.src]
    for key, box in pic.boxes.items():
        if box.style in ("constant", "variable") and len(readers.get(key, ())) == 1:
            (gkey,) = readers[key]
            if gkey in groups:
                group_of[key] = gkey
    updates = {}  # merged update box key -> the update boxes written from one group
    for key, gkey in writers.items():
        updates.setdefault(f"{gkey}_updates", []).append(pic.boxes[key])
    for ukey, boxes in updates.items():
        if len(boxes) > 1:
            group_of.update((b.key, ukey) for b in boxes)
    out = Picture(pic.title + " (collapsed)")
    for key, box in pic.boxes.items():  # a group is placed where its first member was
        gkey = group_of.get(key)
        if gkey is None:
            out.add(replace(box, cluster=None))
        elif gkey in out.boxes:
            continue
        elif gkey in groups:
            scope, nodes = groups[gkey]
            out.add(_group_box(gkey, scope, nodes, [pic.boxes[f"n{n.id}"] for n in nodes]))
        else:
            names = [b.label.split("\n")[0].removeprefix("update ") for b in updates[gkey]]
            out.add(Box(gkey, f"update {len(names)} variables\n{_shorten(', '.join(names))}",
                        "update"))
    seen = set()
    for a in pic.arrows:
        src, dst = group_of.get(a.src, a.src), group_of.get(a.dst, a.dst)
        if src != dst and (src, dst, a.style) not in seen:
            seen.add((src, dst, a.style))
            out.arrows.append(Arrow(src, dst, "", a.style))
    return out


def _group_box(key, scope, nodes, inner):
    ops = ", ".join(sorted({n.op.name for n in nodes}))
    loc = nodes[0].location
    code = loc.code if loc is not None and not getattr(nodes[0], "scope", None) else ""
    code = code.split("  #")[0].strip()  # the line without its trailing comment
    label = "\n".join(x for x in (scope, _shorten(code), f"{len(nodes)} ops: {_shorten(ops)}")
                      if x)
    style = "grad" if all(b.style == "grad" for b in inner) else "collapsed"
    return Box(key, label, style, output=any(b.output for b in inner))


def _shorten(text, limit=40):
    return text if len(text) <= limit else text[:limit - 3] + "..."
