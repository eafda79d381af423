"""Where the boxes of a Picture go when graphc draws it itself (no Graphviz): a layered
(Sugiyama) layout, top to bottom in data-flow order, with clusters as true groups.

A cluster (a fused kernel) is laid out on its own first; the outer layout then treats it as
one box of that size, so its frame holds its members and nothing else, and no box overlaps
another. The layered layout is grandalf's (`pip install grandalf`, in graphc's `viz` and
`test` extras) when it is installed, else a simpler one built on networkx.

Units are inches; y grows downwards (row 0 at the top).
"""
from __future__ import annotations

from dataclasses import dataclass, field

GAP_X, GAP_Y = 0.25, 0.4          # between boxes of a row / between rows
CLUSTER_PAD, CLUSTER_LABEL = 0.1, 0.2


@dataclass
class Layout:
    width: float
    height: float
    center: dict = field(default_factory=dict)    # box key -> (x, y) of its center
    size: dict = field(default_factory=dict)      # box key -> (w, h)
    clusters: dict = field(default_factory=dict)  # cluster key -> (x0, y0, x1, y1)
    routes: list = field(default_factory=list)    # per arrow: [(x, y), ...] from src to dst


def layout(pic, box_size) -> Layout:
    """Lay out `pic` (a graphc.viz.picture.Picture); box_size(box) -> (w, h) in inches."""
    sizes = {k: box_size(b) for k, b in pic.boxes.items()}
    members = {}
    for k, b in pic.boxes.items():
        if b.cluster in pic.clusters:
            members.setdefault(b.cluster, []).append(k)
    inner, outer_size = {}, {}
    for ckey, keys in members.items():  # each cluster first, on its own
        inside = set(keys)
        edges = [(a.src, a.dst) for a in pic.arrows if a.src in inside and a.dst in inside]
        sub = _layered(keys, edges, sizes)
        inner[ckey] = sub
        outer_size[ckey] = (sub.width + 2 * CLUSTER_PAD,
                            sub.height + 2 * CLUSTER_PAD + CLUSTER_LABEL)
    vertex_of = {k: pic.boxes[k].cluster if pic.boxes[k].cluster in members else k
                 for k in pic.boxes}
    vertices = list(dict.fromkeys(vertex_of[k] for k in pic.boxes))  # a cluster where it starts
    outer_size.update((k, sizes[k]) for k in pic.boxes if vertex_of[k] == k)
    outer_edges = []
    for a in pic.arrows:
        u, v = vertex_of[a.src], vertex_of[a.dst]
        if u != v and (u, v) not in outer_edges:
            outer_edges.append((u, v))
    top = _layered(vertices, outer_edges, outer_size)
    out = Layout(top.width, top.height, size=dict(sizes))
    for k in vertices:
        if k not in members:
            out.center[k] = top.center[k]
    for ckey, sub in inner.items():
        (cx, cy), (w, h) = top.center[ckey], outer_size[ckey]
        x0, y0 = cx - w / 2, cy - h / 2
        out.clusters[ckey] = (x0, y0, x0 + w, y0 + h)
        dx, dy = x0 + CLUSTER_PAD, y0 + CLUSTER_PAD + CLUSTER_LABEL
        for k, (x, y) in sub.center.items():
            out.center[k] = (x + dx, y + dy)
        sub.shifted = {edge: [(x + dx, y + dy) for x, y in path]
                       for edge, path in sub.paths.items()}
    for a in pic.arrows:
        u, v = vertex_of[a.src], vertex_of[a.dst]
        if u == v and u in inner:
            middle = inner[u].shifted.get((a.src, a.dst), [])[1:-1]
        else:
            middle = top.paths.get((u, v), [])[1:-1]
        out.routes.append(_ends(out, a.src, a.dst, middle))
    return out


def _ends(out, src, dst, middle):
    """A route leaving src's border and entering dst's, through the layout's bends."""
    (x0, y0), (_, h0) = out.center[src], out.size[src]
    (x1, y1), (_, h1) = out.center[dst], out.size[dst]
    down = y1 >= y0
    start = (x0, y0 + h0 / 2) if down else (x0, y0 - h0 / 2)
    end = (x1, y1 - h1 / 2) if down else (x1, y1 + h1 / 2)
    return [start] + list(middle) + [end]


class _Sub:
    """A layout of one level: centers and edge paths (vertex center to vertex center)."""

    def __init__(self):
        self.center, self.paths = {}, {}
        self.width = self.height = 0.0


def _layered(keys, edges, sizes) -> _Sub:
    edges = [e for e in dict.fromkeys(edges) if e[0] != e[1]]
    try:
        import grandalf  # noqa: F401
    except ImportError:
        return _rows(keys, edges, sizes)
    return _grandalf(keys, edges, sizes)


# ---- grandalf's Sugiyama layout ---------------------------------------------------------------------
class _View:
    def __init__(self, w, h):
        self.w, self.h, self.xy = w, h, (0.0, 0.0)


class _EdgeView:
    path = None

    def setpath(self, path):
        self.path = path


def _grandalf(keys, edges, sizes) -> _Sub:
    from grandalf.graphs import Edge, Graph, Vertex
    from grandalf.layouts import SugiyamaLayout
    vertex = {}
    for k in keys:
        vertex[k] = Vertex(k)
        vertex[k].view = _View(*sizes[k])
    links = []
    for u, v in edges:
        e = Edge(vertex[u], vertex[v])
        e.view = _EdgeView()
        links.append(e)
    graph = Graph(list(vertex.values()), links)
    parts = []
    for component in graph.C:  # each connected part alone, then side by side
        sug = SugiyamaLayout(component)
        sug.xspace, sug.yspace = GAP_X, GAP_Y
        roots = [v for v in component.sV if not v.e_in()]
        sug.init_all(roots=roots or None, optimize=True)
        sug.draw(3)
        parts.append(component)
    out = _Sub()
    x = 0.0
    for component in sorted(parts, key=lambda c: -len(c.sV)):
        box = [(v.view.xy[0] - v.view.w / 2, v.view.xy[1] - v.view.h / 2,
                v.view.xy[0] + v.view.w / 2, v.view.xy[1] + v.view.h / 2) for v in component.sV]
        x0, y0 = min(b[0] for b in box), min(b[1] for b in box)
        x1, y1 = max(b[2] for b in box), max(b[3] for b in box)
        dx, dy = x - x0, -y0
        for v in component.sV:
            out.center[v.data] = (v.view.xy[0] + dx, v.view.xy[1] + dy)
        for e in component.sE:
            if e.view.path:
                out.paths[(e.v[0].data, e.v[1].data)] = [(px + dx, py + dy)
                                                          for px, py in e.view.path]
        x += x1 - x0 + 2 * GAP_X
        out.height = max(out.height, y1 - y0)
    out.width = max(x - 2 * GAP_X, 0.0)
    return out


# ---- without grandalf: rows by longest path, ordered by barycenters (networkx) -------------------
def _rows(keys, edges, sizes) -> _Sub:
    import networkx as nx
    order = {k: i for i, k in enumerate(keys)}
    g = nx.DiGraph()
    g.add_nodes_from(keys)
    # edges against the given order (cycles of a collapsed picture) do not constrain rows
    g.add_edges_from((u, v) for u, v in edges if order[u] < order[v])
    row_of = {}
    for k in nx.topological_sort(g):
        row_of[k] = max((row_of[p] + 1 for p in g.predecessors(k)), default=0)
    for k in reversed(list(nx.topological_sort(g))):  # sources right above their first user
        if g.in_degree(k) == 0 and g.out_degree(k):
            row_of[k] = max(0, min(row_of[s] for s in g.successors(k)) - 1)
    rows = [[] for _ in range(max(row_of.values(), default=0) + 1)]
    for k in keys:
        rows[row_of[k]].append(k)
    routes, up, down = {}, {}, {}
    for i, (u, v) in enumerate(edges):  # long edges pass through a point in each row between
        route = [u]
        lo, hi = sorted((row_of[u], row_of[v]))
        for r in range(lo + 1, hi):
            rows[r].append(("bend", i, r))
            route.append(("bend", i, r))
        route.append(v)
        routes[(u, v)] = route
        for p, q in zip(route, route[1:]):
            down.setdefault(q, []).append(p)
            up.setdefault(p, []).append(q)
    pos = {k: i for row in rows for i, k in enumerate(row)}
    for sweep in range(6):  # barycenter ordering, alternately downwards and upwards
        near = down if sweep % 2 == 0 else up
        for r in (range(1, len(rows)) if sweep % 2 == 0 else range(len(rows) - 2, -1, -1)):
            def center(k):
                xs = [pos[n] for n in near.get(k, ())]
                return sum(xs) / len(xs) if xs else pos[k]
            rows[r].sort(key=center)
            pos.update((k, i) for i, k in enumerate(rows[r]))
    size = {k: sizes.get(k, (0.06, 0.0)) if not isinstance(k, tuple) else (0.06, 0.0)
            for row in rows for k in row}
    row_w = [sum(size[k][0] for k in row) + GAP_X * (len(row) - 1) for row in rows]
    row_h = [max((size[k][1] for k in row), default=0.1) for row in rows]
    out = _Sub()
    out.width = max(row_w, default=0.0)
    y, xy = 0.0, {}
    for row, w, h in zip(rows, row_w, row_h):
        x = (out.width - w) / 2
        for k in row:
            xy[k] = (x + size[k][0] / 2, y + h / 2)
            x += size[k][0] + GAP_X
        y += h + GAP_Y
    out.height = max(y - GAP_Y, 0.0)
    out.center = {k: xy[k] for k in keys}
    out.paths = {edge: [xy[k] for k in route] for edge, route in routes.items()}
    return out
