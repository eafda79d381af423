"""Memory planning: which buffer each value lives in, and when buffers can be reused.

The plan is made on the final schedule (graph order after fusion):
- views get layouts into their input's buffer (no copy, see layout.py);
- each computed value gets a buffer: a fresh output array if it is returned, the variable's
  own storage if it is that variable's new value and every other reader of the variable runs
  no later (an in-place update), else a slot in a work arena (one per dtype) that is reused
  once its last reader has run (same size and dtype);
- outputs that are views or leaves, and updates that cannot be in place, become copy steps;
- `all_reduce` nodes become gradient buckets (`plan.collectives`, see _plan_collectives):
  the values they reduce are placed side by side in one arena slot, written there by the
  kernels that compute them and reduced in place by one non-blocking allreduce, which the
  program starts after the last of them is written and waits for before the first read.
"""
from __future__ import annotations

import numpy as np

from ..ops import leaves
from ..ops.collective import all_reduce, bucket_caps
from ..types import TensorType
from .fusion import FUSED
from .layout import VIEW_LAYOUTS, Layout, view_layout

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
        self.collectives = []      # Collective buckets, in the order they start

    def summary(self):
        temps = [s for s in self.storage.values() if s.kind == "temp"]
        arena = sum(n * np.dtype(k).itemsize for k, n in self.arena_sizes.items())
        if arena <= self.temp_bytes:
            note = f"reuse saves {self.temp_bytes - arena} bytes"
        else:  # tiny temporaries: the 64-byte alignment of each slot costs more than reuse saves
            note = f"{arena - self.temp_bytes} bytes of it pad slots to 64-byte lines"
        return (f"{len(temps)} temporaries of {self.temp_bytes} bytes in a {arena}-byte arena "
                f"({note}), {len(self.inplace)} in-place updates, "
                f"{sum(1 for s in self.steps if s.node is None)} copies"
                + (f", {len(self.collectives)} allreduce buckets ("
                   + ", ".join(f"{c.members}x {c.size} {c.dtype.name}"
                               for c in self.collectives) + ")"
                   if self.collectives else ""))

    def collective_schedule(self):
        """[(collective, ready, wait)]: start the allreduce after step `ready` (the last one
        writing its buffer), wait for it before step `wait` (the first one reading the
        result; len(steps): at the end of the program)."""
        out = []
        for c in self.collectives:
            ready = max(i for i, s in enumerate(self.steps)
                        if any(self.layouts[v].root is c.root for v in _written(s)))
            wait = next((i for i in range(ready + 1, len(self.steps))
                         if any(self.layouts[v].root is c.root for v in self.steps[i].reads)),
                        len(self.steps))
            out.append((c, ready, wait))
        return out

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


def _is_loop_kernel(op):
    """An elementwise op or a fused group: one loop that reads each index before writing it."""
    return op is FUSED or op.scalar is not None


def plan_memory(graph):
    """Attach a MemoryPlan to the graph as graph.memory (the graph itself is unchanged)."""
    plan = MemoryPlan()
    layouts = plan.layouts
    computed = []
    for n in graph.nodes:
        if n.op.is_leaf:
            v = n.outputs[0]
            layouts[v] = Layout.of_root(v)
            continue
        if n.op in VIEW_LAYOUTS:
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
        if lay.root is v and v not in taken and not v.node.op.is_leaf:
            taken.add(v)
            plan.storage[v] = Storage("out", v.dtype, v.type.numel(), index=k)
            plan.outputs.append(v)
            continue
        dst = _new_root_like(v)
        plan.storage[dst] = Storage("out", v.dtype, v.type.numel(), index=k)
        layouts[dst] = Layout.of_root(dst)
        root_node = lay.root.node
        key = None if root_node.op.is_leaf else root_node.id
        copies.setdefault(key, []).append(Step(src=v, dst=dst))
        plan.outputs.append(dst)
    ordered = copies.pop(None, [])
    for s in steps:
        ordered.append(s)
        ordered.extend(copies.pop(s.node.id, []))
    steps = plan.steps = ordered

    _plan_updates(graph, plan, taken)
    _plan_collectives(plan)
    _assign_arena(plan)
    graph.memory = plan
    return graph


def _new_root_like(v):
    from ..ir.graph import Node
    return Node(FUSED, (), {}, [v.type], v.node.location, [v.name]).outputs[0]


def _leaf_storage(graph, plan):
    consts = {}
    var_index = 0
    input_index = {id(v): i for i, v in enumerate(graph.inputs)}
    for n in graph.nodes:
        v = n.outputs[0] if n.outputs else None
        if n.op is leaves.placeholder:
            plan.storage[v] = Storage("input", v.dtype, v.type.numel(),
                                      index=input_index[id(v)])
        elif n.op is leaves.variable:
            plan.storage[v] = Storage("var", v.dtype, v.type.numel(), index=var_index)
            var_index += 1
        elif n.op is leaves.constant:
            data = np.ascontiguousarray(n.attrs["value"], v.dtype.np).reshape(-1)
            chunks = consts.setdefault(v.dtype.name, [])
            offset = sum(c.size for c in chunks)
            chunks.append(data)
            pad = -data.size % ALIGN
            if pad:
                chunks.append(np.zeros(pad, v.dtype.np))
            plan.storage[v] = Storage("const", v.dtype, data.size, offset=offset)
    plan.const_data = {k: np.concatenate(c) if c else np.zeros(0) for k, c in consts.items()}


def _last_readers(plan):
    """{root: index of the last step reading any layout of it}"""
    last = {}
    for i, s in enumerate(plan.steps):
        for v in s.reads:
            last[plan.layouts[v].root] = i
    return last


def _plan_updates(graph, plan, taken):
    updated = {var for var, _ in graph.updates}
    producer_step = {v: i for i, s in enumerate(plan.steps) if s.node is not None
                     for v in s.node.outputs}
    late = []
    last_reader = _last_readers(plan)  # (one pass: a scan per update was quadratic)
    for var, new in graph.updates:
        i = producer_step.get(new)
        lay = plan.layouts[new]
        if (i is not None and lay.root is new and new not in taken and new not in plan.storage
                and _is_loop_kernel(plan.steps[i].node.op)
                and _reads_safely(plan, plan.steps[i].node, var)
                and last_reader.get(var, -1) <= i):
            plan.storage[new] = plan.storage[var]
            plan.inplace.append(var)
            continue
        src = new
        if plan.layouts[new].root in updated:  # read the old value before any update writes
            src = _new_root_like(new)
            plan.layouts[src] = Layout.of_root(src)
            plan.steps.append(Step(src=new, dst=src))
            last_reader[plan.layouts[new].root] = len(plan.steps) - 1
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


def _written(step):
    return step.node.outputs if step.node is not None else (step.dst,)


class Collective:
    """One non-blocking allreduce of the program: `root` is its buffer (an arena slot, or an
    output array) holding `members` values of `dtype`, `size` elements in all."""

    __slots__ = ("root", "reduce", "members", "size", "dtype")

    def __init__(self, root, reduce, members):
        self.root, self.reduce, self.members = root, reduce, members
        self.size, self.dtype = root.type.numel(), root.dtype

    def __repr__(self):
        return f"Collective({self.reduce}, {self.members} values, {self.size} {self.dtype.name})"


def _plan_collectives(plan):
    """Turn every all_reduce step into a bucket of plan.collectives (and no step).

    An all_reduce whose input is a whole computed buffer read by nothing else is reduced in
    place: its input and output (and every view of them) move into a bucket slot, so the
    kernel computing the gradient writes it straight into the bucket, and the values read
    after the allreduce are read from there: no copy at all. Consecutive such all_reduces
    (in the order their inputs are ready, same dtype and reduction, up to the bucket cap)
    share a bucket, provided none of their results is read before the last of them is
    written. Any other all_reduce copies its input into its output, which is its bucket.
    A bucket holds at most bucket_caps(node's bucket_cap_mb) bytes (ops/collective.py: the
    first bucket of a dtype 1 MiB, later ones 25 MiB by default, as PyTorch's DDP), unless
    a single gradient is larger.
    """
    steps, layouts = plan.steps, plan.layouts
    if not any(s.node is not None and s.node.op is all_reduce for s in steps):
        return
    readers, writer = {}, {}
    for i, s in enumerate(steps):
        for v in s.reads:
            readers.setdefault(layouts[v].root, set()).add(i)
        for v in _written(s):
            writer[v] = i
    in_place, copied, starts = [], {}, []  # starts: (ready step, all_reduce step, Collective)
    for i, s in enumerate(steps):
        node = s.node
        if node is None or node.op is not all_reduce:
            continue
        x, y = node.inputs[0], node.outputs[0]
        lay = layouts[x]
        root = lay.root
        # x may also be a transpose of its whole buffer (a weight's gradient): the reduction
        # is elementwise, so reducing the buffer reduces x; y then reads it through x's
        # strides, which needs y to have no views of its own
        whole = lay.is_identity or (_covers(lay) and not any(
            v is not y and other.root is y for v, other in layouts.items()))
        if (whole and root in writer and root not in plan.storage
                and readers.get(root) == {i} and y not in plan.storage
                and layouts[y].root is y and not root.node.op.is_leaf):
            first_read = min(readers.get(y, {len(steps)}))
            in_place.append((writer[root], i, first_read, root, y, node.attrs["reduce"],
                             node.attrs.get("bucket_cap_mb")))
        else:
            copied[i] = Step(src=x, dst=y)
            starts.append((i, i, Collective(y, node.attrs["reduce"], 1)))
    buckets, opened = [], set()  # opened: dtypes that have had their first bucket
    for ready, i, first_read, root, y, reduce, cap_mb in sorted(in_place, key=lambda t: t[:3]):
        nbytes = root.type.numel() * root.dtype.itemsize
        last = buckets[-1] if buckets else None
        if last is not None and last["dtype"] is root.dtype and last["reduce"] == reduce \
                and last["bytes"] + nbytes <= last["cap"] and max(last["ready"], ready) < \
                min(last["first_read"], first_read):
            last["members"].append((root, y))
            last["bytes"] += nbytes
            last["ready"] = max(last["ready"], ready)
            last["first_read"] = min(last["first_read"], first_read)
            last["step"] = max(last["step"], i)
        else:
            first, later = bucket_caps(cap_mb)
            cap = later if root.dtype in opened else first
            opened.add(root.dtype)
            buckets.append({"dtype": root.dtype, "reduce": reduce, "bytes": nbytes, "cap": cap,
                            "ready": ready, "first_read": first_read, "step": i,
                            "members": [(root, y)]})
    moved = {}  # old root -> (bucket root, element offset)
    for b in buckets:
        offsets, size = [], 0
        for root, _ in b["members"]:
            offsets.append(size)
            size += root.type.numel() + (-root.type.numel() % ALIGN)  # aligned kernel views
        bucket = _new_root(TensorType((size,), b["dtype"]), "gradient_bucket")
        layouts[bucket] = Layout.of_root(bucket)
        for (root, y), offset in zip(b["members"], offsets):
            moved[root] = (bucket, offset)
            if layouts[y.node.inputs[0]].is_identity:
                moved[y] = (bucket, offset)
            else:  # reads the reduced buffer as its input was read (see above)
                x = layouts[y.node.inputs[0]]
                layouts[y] = Layout(bucket, offset + x.offset, x.strides, x.shape)
        starts.append((b["ready"], b["step"], Collective(bucket, b["reduce"],
                                                         len(b["members"]))))
    for v, lay in list(layouts.items()):
        if lay.root in moved:
            bucket, offset = moved[lay.root]
            layouts[v] = Layout(bucket, offset + lay.offset, lay.strides, lay.shape)
    # every rank starts its allreduces in this order (the same graph gives the same plan)
    plan.collectives = [c for _, _, c in sorted(starts, key=lambda t: t[:2])]
    plan.steps = [copied.get(i, s) for i, s in enumerate(steps)
                  if s.node is None or s.node.op is not all_reduce or i in copied]


def _covers(lay):
    """The layout visits every element of its root exactly once (a permutation of it)."""
    dims = sorted(((st, d) for st, d in zip(lay.strides, lay.shape) if d != 1), reverse=True)
    expected = 1
    for st, d in reversed(dims):
        if st != expected:
            return False
        expected *= d
    return lay.offset == 0 and expected == lay.root.type.numel()


def _new_root(type_, name):
    from ..ir.graph import Node
    return Node(FUSED, (), {}, [type_], None, [name]).outputs[0]


def _assign_arena(plan):
    """Give every remaining computed root a work-arena slot. Values whose lifetimes overlap
    never share bytes; otherwise any bytes are reused: the largest values are placed first,
    each at the lowest offset free during its whole lifetime (greedy by size: close to the
    peak of live bytes, where reusing only equal-sized slots wastes much for conv nets)."""
    last_read = {}
    for i, s in enumerate(plan.steps):
        for v in s.reads:
            last_read[plan.layouts[v].root] = i
    # a bucket is written by several steps and reduced while later steps run: it keeps its
    # bytes from its first write to the end of the program
    buckets = {c.root for c in plan.collectives}
    temps = {}  # dtype name -> [(padded size, first step, last step, value)]
    for i, s in enumerate(plan.steps):
        for out in _written(s):
            v = plan.layouts[out].root  # itself, or the bucket it is written into
            if v in plan.storage:
                continue
            size = v.type.numel()
            plan.temp_bytes += size * v.dtype.itemsize
            plan.storage[v] = Storage("temp", v.dtype, size)
            last = len(plan.steps) if v in buckets else last_read.get(v, i)
            temps.setdefault(v.dtype.name, []).append((size + (-size % ALIGN), i, last, v))
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
