"""Turning a Picture into SVG/PNG: Graphviz `dot` when installed, else networkx + matplotlib.

The fallback draws a layered layout (each box one layer below the boxes it reads) so that a
picture is always possible; set GRAPHC_VIZ_ENGINE=matplotlib to force it.
"""
from __future__ import annotations

import io
import os
import shutil
import subprocess

from ..errors import GraphcError
from .dot import to_dot
from .picture import BOX_STYLES, REUSED_LINE, Picture

FORMATS = ("svg", "png", "pdf")
ENGINES = ("auto", "graphviz", "matplotlib")


def graphviz_available() -> bool:
    return shutil.which("dot") is not None


def choose_engine(engine="auto") -> str:
    if engine not in ENGINES:
        raise ValueError(f"unknown drawing engine {engine!r}; use one of {', '.join(ENGINES)}")
    if engine == "auto":
        engine = os.environ.get("GRAPHC_VIZ_ENGINE", "auto")
        if engine not in ENGINES:
            raise ValueError(f"GRAPHC_VIZ_ENGINE={engine!r}: use one of {', '.join(ENGINES)}")
    if engine == "auto":
        engine = "graphviz" if graphviz_available() else "matplotlib"
    if engine == "graphviz" and not graphviz_available():
        raise GraphcError("Graphviz's `dot` program is not installed (apt-get install graphviz "
                          "or conda install graphviz); use engine='matplotlib' instead")
    return engine


def render(pic: Picture, format="svg", engine="auto") -> bytes:
    if format not in FORMATS:
        raise ValueError(f"cannot draw to format {format!r}; use one of dot, "
                         f"{', '.join(FORMATS)}")
    if choose_engine(engine) == "graphviz":
        return render_graphviz(to_dot(pic), format)
    return render_matplotlib(pic, format)


def render_graphviz(dot_text: str, format: str) -> bytes:
    args = ["dot", f"-T{format}"] + (["-Gdpi=110"] if format == "png" else [])
    try:
        done = subprocess.run(args, input=dot_text.encode(), capture_output=True, timeout=120)
    except subprocess.TimeoutExpired:
        raise GraphcError("Graphviz took more than 2 minutes: draw with collapse=True") from None
    if done.returncode != 0:
        raise GraphcError(f"Graphviz failed: {done.stderr.decode(errors='replace').strip()}")
    return done.stdout


# ---- the matplotlib fallback ---------------------------------------------------------------
_FONT = 7.0
_CHAR_W = _FONT * 0.62 / 72   # inches per character
_LINE_H = _FONT * 1.35 / 72   # inches per line of text
_GAP_X, _GAP_Y, _PAD = 0.25, 0.35, 0.08


def layered_layout(pic: Picture):
    """Rows of box keys (top first) and, per arrow, its route through the rows.

    A Sugiyama-style sketch: each box sits one row below the lowest box it reads (sources
    right above their first user); an arrow spanning rows passes through a point in each row
    between ("d..." keys), and barycenter sweeps order every row to shorten the arrows.
    """
    import networkx as nx
    order = {k: i for i, k in enumerate(pic.boxes)}
    g = nx.DiGraph()
    g.add_nodes_from(pic.boxes)
    # arrows against the drawing order (cycles of a collapsed picture) do not constrain rows
    g.add_edges_from((a.src, a.dst) for a in pic.arrows if order[a.src] < order[a.dst])
    row_of = {}
    for k in nx.topological_sort(g):
        row_of[k] = max((row_of[p] + 1 for p in g.predecessors(k)), default=0)
    for k in reversed(list(nx.topological_sort(g))):
        if g.in_degree(k) == 0 and g.out_degree(k):
            row_of[k] = max(0, min(row_of[s] for s in g.successors(k)) - 1)
    rows = [[] for _ in range(max(row_of.values(), default=0) + 1)]
    for k in pic.boxes:
        rows[row_of[k]].append(k)
    routes, up, down = [], {}, {}
    for i, a in enumerate(pic.arrows):
        route = [a.src]
        if row_of[a.src] < row_of[a.dst]:
            for r in range(row_of[a.src] + 1, row_of[a.dst]):
                rows[r].append(f"d{i}_{r}")
                route.append(f"d{i}_{r}")
        route.append(a.dst)
        routes.append(route)
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
    for row in rows:  # keep the boxes of one cluster side by side
        first = {}
        for i, k in enumerate(row):
            cluster = pic.boxes[k].cluster if k in pic.boxes else None
            first.setdefault(cluster or k, i)
        row.sort(key=lambda k: (first[(pic.boxes[k].cluster if k in pic.boxes else None) or k],
                                pos[k]))
    return rows, routes


def _box_size(box):
    lines = box.label.split("\n")
    return max(map(len, lines)) * _CHAR_W + 2 * _PAD, len(lines) * _LINE_H + 2 * _PAD


def render_matplotlib(pic: Picture, format: str) -> bytes:
    from matplotlib.figure import Figure
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Patch
    from matplotlib.path import Path

    rows, routes = layered_layout(pic)
    sizes = {k: _box_size(pic.boxes[k]) if k in pic.boxes else (0.06, 0.0)
             for row in rows for k in row}
    row_w = [sum(sizes[k][0] for k in row) + _GAP_X * (len(row) - 1) for row in rows]
    width = max(row_w + [3.0]) + 2 * _GAP_X
    row_h = [max((sizes[k][1] for k in row), default=_LINE_H) for row in rows]
    height = sum(row_h) + _GAP_Y * (len(rows) + 1) + 0.5
    xy, y = {}, height - 0.45 - _GAP_Y
    for row, w, h in zip(rows, row_w, row_h):
        x = (width - w) / 2
        for k in row:
            xy[k] = (x + sizes[k][0] / 2, y - h / 2)
            x += sizes[k][0] + _GAP_X
        y -= h + _GAP_Y
    fig = Figure(figsize=(min(width, 80), min(height, 120)))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    ax.axis("off")
    ax.text(width / 2, height - 0.2, pic.title, ha="center", va="center", fontsize=_FONT + 2)
    for key, cluster in pic.clusters.items():
        members = [k for k, b in pic.boxes.items() if b.cluster == key]
        if not members:
            continue
        x0 = min(xy[k][0] - sizes[k][0] / 2 for k in members) - 0.06
        x1 = max(xy[k][0] + sizes[k][0] / 2 for k in members) + 0.06
        y0 = min(xy[k][1] - sizes[k][1] / 2 for k in members) - 0.06
        y1 = max(xy[k][1] + sizes[k][1] / 2 for k in members) + 0.14
        ax.add_patch(FancyBboxPatch((x0, y0), x1 - x0, y1 - y0, boxstyle="round,pad=0.02",
                                    fill=False, linestyle="--", edgecolor="#1971c2", lw=0.8))
        ax.text(x0 + 0.04, y1 - 0.02, cluster.label, fontsize=_FONT - 1, color="#1971c2",
                va="top")
    for k, box in pic.boxes.items():
        look, (w, h), (x, y) = BOX_STYLES[box.style], sizes[k], xy[k]
        shape = {"ellipse": "round,pad=0,rounding_size=0.12", "box3d": "round4,pad=0"}.get(
            look["shape"], "round,pad=0,rounding_size=0.04" if box.style == "variable"
            else "square,pad=0")
        ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle=shape, zorder=3,
                                    fc=look["fill"],
                                    ec=REUSED_LINE if box.reused else look["line"],
                                    lw=2.0 if box.output or box.reused else 0.8))
        ax.text(x, y, box.label, ha="center", va="center", fontsize=_FONT, zorder=4,
                linespacing=1.2)
    for a, route in zip(pic.arrows, routes):
        (x0, y0), (x1, y1) = xy[a.src], xy[a.dst]
        down = y0 > y1  # arrows leave a box at its bottom and enter the next one at its top
        points = [(x0, y0 - sizes[a.src][1] / 2 if down else y0 + sizes[a.src][1] / 2)]
        points += [xy[k] for k in route[1:-1]]
        points.append((x1, y1 + sizes[a.dst][1] / 2 if down else y1 - sizes[a.dst][1] / 2))
        update = a.style == "update"
        ax.add_patch(FancyArrowPatch(
            path=Path(points), arrowstyle="-|>", mutation_scale=7, lw=0.6, zorder=2,
            color=BOX_STYLES["update"]["line"] if update else "#495057",
            linestyle="--" if update else "-", shrinkA=0, shrinkB=0))
    used = []
    for b in pic.boxes.values():
        if b.style not in used:
            used.append(b.style)
    ax.legend(handles=[Patch(fc=BOX_STYLES[s]["fill"], ec=BOX_STYLES[s]["line"],
                             label=_LEGEND[s]) for s in used],
              loc="upper left", fontsize=_FONT - 1, frameon=False)
    out = io.BytesIO()
    fig.savefig(out, format=format, dpi=110)
    return out.getvalue()


_LEGEND = {"input": "input", "variable": "variable", "constant": "constant", "op": "op",
           "grad": "gradient op", "update": "variable update", "collapsed": "collapsed group",
           "tape_leaf": "leaf (requires grad)", "tape_op": "tape entry (grad_fn)",
           "tape_root": "tensor"}
