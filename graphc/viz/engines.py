"""Turning a Picture into SVG/PNG: Graphviz `dot` when installed, else networkx + matplotlib.

The fallback draws graphc's own layered layout (graphc/viz/layout.py: grandalf's Sugiyama
layout when installed) so that a picture is always possible; set GRAPHC_VIZ_ENGINE=matplotlib
to force it.
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
_PAD, _MARGIN, _TITLE = 0.08, 0.3, 0.45
_MAX_PIXELS = 30000           # a huge graph is drawn at a lower resolution, never cropped


def _box_size(box):
    lines = box.label.split("\n")
    return max(map(len, lines)) * _CHAR_W + 2 * _PAD, len(lines) * _LINE_H + 2 * _PAD


def render_matplotlib(pic: Picture, format: str) -> bytes:
    """Draw with matplotlib on graphc's own layered layout (graphc/viz/layout.py): data flows
    top to bottom, fused kernels are frames around exactly their ops, and the figure grows
    with the graph so that labels never overlap."""
    from matplotlib.figure import Figure
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Patch
    from matplotlib.path import Path

    from .layout import layout
    lay = layout(pic, _box_size)
    width = max(lay.width + 2 * _MARGIN, 3.0)
    height = lay.height + 2 * _MARGIN + _TITLE
    dx = (width - lay.width) / 2

    def at(x, y):  # layout (y down, from the top) -> figure inches (y up)
        return x + dx, height - _TITLE - _MARGIN - y

    fig = Figure(figsize=(width, height))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    ax.axis("off")
    ax.text(width / 2, height - _TITLE / 2, pic.title, ha="center", va="center",
            fontsize=_FONT + 2)
    for key, (x0, y0, x1, y1) in lay.clusters.items():
        (fx0, fy1), (fx1, fy0) = at(x0, y0), at(x1, y1)
        ax.add_patch(FancyBboxPatch((fx0, fy0), fx1 - fx0, fy1 - fy0, boxstyle="round,pad=0",
                                    fill=True, fc="#f3f8ff", linestyle="--", ec="#1971c2",
                                    lw=0.8, zorder=1))
        ax.text(fx0 + 0.06, fy1 - 0.05, pic.clusters[key].label, fontsize=_FONT - 1,
                color="#1971c2", va="top", zorder=1)
    for k, box in pic.boxes.items():
        look, (w, h) = BOX_STYLES[box.style], lay.size[k]
        x, y = at(*lay.center[k])
        shape = {"ellipse": "round,pad=0,rounding_size=0.12", "box3d": "round4,pad=0"}.get(
            look["shape"], "round,pad=0,rounding_size=0.04" if box.style == "variable"
            else "square,pad=0")
        ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle=shape, zorder=3,
                                    fc=look["fill"],
                                    ec=REUSED_LINE if box.reused else look["line"],
                                    lw=2.0 if box.output or box.reused else 0.8))
        ax.text(x, y, box.label, ha="center", va="center", fontsize=_FONT, zorder=4,
                linespacing=1.2)
    for a, route in zip(pic.arrows, lay.routes):
        update = a.style == "update"
        ax.add_patch(FancyArrowPatch(
            path=Path([at(x, y) for x, y in route]), arrowstyle="-|>", mutation_scale=7,
            lw=0.6, zorder=2, color=BOX_STYLES["update"]["line"] if update else "#495057",
            linestyle="--" if update else "-", shrinkA=0, shrinkB=0))
    used = []
    for b in pic.boxes.values():
        if b.style not in used:
            used.append(b.style)
    ax.legend(handles=[Patch(fc=BOX_STYLES[s]["fill"], ec=BOX_STYLES[s]["line"],
                             label=_LEGEND[s]) for s in used],
              loc="upper left", fontsize=_FONT - 1, frameon=False)
    out = io.BytesIO()
    dpi = min(110, _MAX_PIXELS / max(width, height))
    fig.savefig(out, format=format, dpi=dpi)
    return out.getvalue()


_LEGEND = {"input": "input", "variable": "variable", "constant": "constant", "op": "op",
           "grad": "gradient op", "update": "variable update", "collapsed": "collapsed group",
           "tape_leaf": "leaf (requires grad)", "tape_op": "tape entry (grad_fn)",
           "tape_root": "tensor"}
