"""Memory planning: which buffer each value lives in, and when buffers can be reused.

The plan is made on the final schedule (graph order after fusion):
- views get layouts into their input's buffer (no copy, see layout.py);
- each computed value gets a buffer: a fresh output array if it is returned, the variable's
  own storage if it is that variable's new value and every other reader of the variable runs
  no later (an in-place update), else a slot in a work arena (one per dtype) that is reused
  once its last reader has run (same size and dtype);
- outputs that are views or leaves, and updates that cannot be in place, become copy steps.
"""
from __future__ import annotations

import numpy as np

from .layout import VIEW_OPS, Layout, view_layout

ALIGN = 16  # elements: slots start on 64-byte lines for float32


class Storage:
    """Where a root value lives. kind: input | var | const | temp | out."""

    __slots__ = ("kind", "dtype", "size", "offset", "index")

    def __init__(self, kind, dtype, size, offset=0, index=0):
        self.kind, self.dtype, self.size, self.offset, self.index = kind, dtype, size, offset, index

    def __repr__(self):
        return f"{self.kind}[{self.dtype.short}:{self.offset}+{self.size}]"


class Step:
    """One unit of the schedule: compute a node, or copy a layout into a root buffer."""

    __slots__ = ("node", "src", "dst")

    def __init__(self, node=None, src=None, dst=None):
        self.node, self.src, self.dst = node, src, dst

    @property
    def reads(self):
        return list(self.node.inputs) if self.node is not None else [self.src]


class MemoryPlan:
    def __init__(self):
        self.layouts = {}          # value -> Layout
        self.storage = {}          # root value -> Storage
        self.steps = []            # Step list, in order
        self.outputs = []          # per graph output: the root value holding it
        self.inplace = []          # variables updated in place
        self.arena_sizes = {}      # dtype name -> elements of the work arena
        self.const_data = {}       # dtype name -> 1-D array of all constants of that dtype
        self.temp_bytes = 0        # before reuse

    def summary(self):
        temps = [s for s in self.storage.values() if s.kind == "temp"]
        arena = sum(n * np.dtype(k).itemsize for k, n in self.arena_sizes.items())
        if arena <= self.temp_bytes:
            note = f"reuse saves {self.temp_bytes - arena} bytes"
        else:  # tiny temporaries: the 64-byte alignment of each slot costs more than reuse saves
            note = f"{arena - self.temp_bytes} bytes of it pad slots to 64-byte lines"
        return (f"{len(temps)} temporaries of {self.temp_bytes} bytes in a {arena}-byte arena "
                f"({note}), {len(self.inplace)} in-place updates, "
                f"{sum(1 for s in self.steps if s.node is None)} copies")

    def report(self):
        """Bytes of this plan's buffers against running it with one buffer per value.

        planned_bytes: work arenas + outputs (in-place updates write into the variables);
        unplanned_bytes: one fresh buffer for every computed value of the same graph;
        peak_live_bytes: the most bytes of temporaries and outputs alive at once (a lower
        bound for any plan of this schedule)."""
        def nbytes(v):
            return v.type.numel() * v.dtype.itemsize
        last_read = {}
        for i, s in enumerate(self.steps):
            for v in s.reads:
                last_read[self.layouts[v].root] = i
        arena = sum(n * np.dtype(k).itemsize for k, n in self.arena_sizes.items())
        outs = sum(st.size * st.dtype.itemsize for st in self.storage.values()
                   if st.kind == "out")
        unplanned = live = peak = 0
        ends = []
        for i, s in enumerate(self.steps):
            live -= sum(b for end, b in ends if end < i)
            ends = [(end, b) for end, b in ends if end >= i]
            for v in (s.node.outputs if s.node is not None else (s.dst,)):
                unplanned += nbytes(v)
                kind = self.storage[v].kind if v in self.storage else "temp"
                if kind == "var":  # an in-place update: no buffer of its own
                    continue
                live += nbytes(v)
                ends.append((len(self.steps) if kind == "out" else last_read.get(v, i),
                             nbytes(v)))
            peak = max(peak, live)
        return {"planned_bytes": arena + outs, "unplanned_bytes": unplanned,
                "peak_live_bytes": peak, "arena_bytes": arena, "output_bytes": outs,
                "inplace_updates": len(self.inplace)}


def plan_memory(graph):
    """Attach a MemoryPlan to the graph as graph.memory (the graph itself is unchanged)."""
    plan = MemoryPlan()
    layouts = plan.layouts
    computed = []
    for n in graph.nodes:
        if n.op.kind == "leaf":
            v = n.outputs[0]
            layouts[v] = Layout.of_root(v)
            continue
        if n.op.name in VIEW_OPS:
            lay = view_layout(n, layouts[n.inputs[0]])
            if lay is not None:
                layouts[n.outputs[0]] = lay
                continue
        for v in n.outputs:
            layouts[v] = Layout.of_root(v)
        computed.append(n)
    steps = [Step(node=n) for n in computed]
    _leaf_storage(graph, plan)

    # Outputs: a computed root is written straight into a fresh array; others are copied
    # right after the step producing what they read (or first, for leaves).
    taken, copies = set(), {}
    for k, v in enumerate(graph.outputs):
        lay = layouts[v]
        if lay.root is v and v not in taken and v.node.op.kind != "leaf":
            taken.add(v)
            plan.storage[v] = Storage("out", v.dtype, v.type.numel(), index=k)
            plan.outputs.append(v)
            continue
        dst = _new_root_like(v)
        plan.storage[dst] = Storage("out", v.dtype, v.type.numel(), index=k)
        layouts[dst] = Layout.of_root(dst)
        root_node = lay.root.node
        key = None if root_node.op.kind == "leaf" else root_node.id
        copies.setdefault(key, []).append(Step(src=v, dst=dst))
        plan.outputs.append(dst)
    ordered = copies.pop(None, [])
    for s in steps:
        ordered.append(s)
        ordered.extend(copies.pop(s.node.id, []))
    steps = plan.steps = ordered

    _plan_updates(graph, plan, taken)
    _assign_arena(plan)
    graph.memory = plan
    return graph


def _new_root_like(v):
    from ..ir.graph import Node
    from .fusion import FUSED
    return Node(FUSED, (), {}, [v.type], v.node.location, [v.name]).outputs[0]


def _leaf_storage(graph, plan):
    consts = {}
    var_index = 0
    input_index = {id(v): i for i, v in enumerate(graph.inputs)}
    for n in graph.nodes:
        v = n.outputs[0] if n.outputs else None
        if n.op.name == "placeholder":
            plan.storage[v] = Storage("input", v.dtype, v.type.numel(),
                                      index=input_index[id(v)])
        elif n.op.name == "variable":
            plan.storage[v] = Storage("var", v.dtype, v.type.numel(), index=var_index)
            var_index += 1
        elif n.op.name == "constant":
            data = np.ascontiguousarray(n.attrs["value"], v.dtype.np).reshape(-1)
            chunks = consts.setdefault(v.dtype.name, [])
            offset = sum(c.size for c in chunks)
            chunks.append(data)
            pad = -data.size % ALIGN
            if pad:
                chunks.append(np.zeros(pad, v.dtype.np))
            plan.storage[v] = Storage("const", v.dtype, data.size, offset=offset)
    plan.const_data = {k: np.concatenate(c) if c else np.zeros(0) for k, c in consts.items()}


def _readers(plan, root):
    """Indices of steps reading any layout of `root`."""
    return [i for i, s in enumerate(plan.steps)
            if any(plan.layouts[v].root is root for v in s.reads)]


def _plan_updates(graph, plan, taken):
    updated = {var for var, _ in graph.updates}
    producer_step = {v: i for i, s in enumerate(plan.steps) if s.node is not None
                     for v in s.node.outputs}
    late = []
    for var, new in graph.updates:
        i = producer_step.get(new)
        lay = plan.layouts[new]
        if (i is not None and lay.root is new and new not in taken and new not in plan.storage
                and plan.steps[i].node.op.kind in ("elementwise", "fused")
                and _reads_safely(plan, plan.steps[i].node, var)
                and all(r <= i for r in _readers(plan, var))):
            plan.storage[new] = plan.storage[var]
            plan.inplace.append(var)
            continue
        src = new
        if plan.layouts[new].root in updated:  # read the old value before any update writes
            src = _new_root_like(new)
            plan.layouts[src] = Layout.of_root(src)
            plan.steps.append(Step(src=new, dst=src))
        late.append(Step(src=src, dst=var))
    plan.steps.extend(late)


def _reads_safely(plan, node, var):
    """The node reads var only at the very index it writes (so writing over it is safe)."""
    group = node.attrs.get("group")
    if group is not None and group.kind != "elementwise":
        return False
    for v in node.inputs:
        lay = plan.layouts[v]
        if lay.root is var and not (lay.is_identity and v.type.shape == var.type.shape):
            return False
    return True


def _assign_arena(plan):
    """Give every remaining computed root a work-arena slot. Values whose lifetimes overlap
    never share bytes; otherwise any bytes are reused: the largest values are placed first,
    each at the lowest offset free during its whole lifetime (greedy by size: close to the
    peak of live bytes, where reusing only equal-sized slots wastes much for conv nets)."""
    last_read = {}
    for i, s in enumerate(plan.steps):
        for v in s.reads:
            last_read[plan.layouts[v].root] = i
    temps = {}  # dtype name -> [(padded size, first step, last step, value)]
    for i, s in enumerate(plan.steps):
        for v in (s.node.outputs if s.node is not None else (s.dst,)):
            if v in plan.storage:
                continue
            size = v.type.numel()
            plan.temp_bytes += size * v.dtype.itemsize
            plan.storage[v] = Storage("temp", v.dtype, size)
            temps.setdefault(v.dtype.name, []).append(
                (size + (-size % ALIGN), i, last_read.get(v, i), v))
    sizes = {}
    for key, items in temps.items():
        placed = []  # (offset, end, first, last)
        for size, first, last, v in sorted(items, key=lambda t: -t[0]):
            offset = 0
            for lo, hi, f, l in sorted(p for p in placed if p[2] <= last and first <= p[3]):
                if lo - offset >= size:
                    break
                offset = max(offset, hi)
            plan.storage[v].offset = offset
            placed.append((offset, offset + size, first, last))
            sizes[key] = max(sizes.get(key, 0), offset + size)
    plan.arena_sizes = sizes
