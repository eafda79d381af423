"""Seeing graphs: text dumps and pictures of static graphs, executables and eager tapes.

    graphc.viz.draw(obj, "step.svg")       # DOT always; SVG/PNG via Graphviz or matplotlib
    print(graphc.viz.dump(obj))            # typed IR text (or the eager tape as text)

`obj` is a Graph, symbolic outputs (a Value or a list of them), a compiled Executable (its
fusion groups, buffers and updates are shown when the target provides them) or an eager
tensor (its tape, like torchviz's make_dot). In Jupyter a drawing displays itself.
"""
from __future__ import annotations

import os

from ..compile import Executable
from ..eager.tensor import Tensor
from ..ir.graph import Graph, Value
from .dot import to_dot
from .text import dump, dump_passes, dump_source
from .picture import Picture, executable_picture, graph_picture, is_gradient
from .engines import FORMATS, choose_engine, graphviz_available, render
from .tape import format_tape, tape_picture

__all__ = ["draw", "Drawing", "executable_picture", "dump", "dump_passes", "dump_source", "to_dot", "picture_of",
           "graphviz_available", "is_gradient", "format_tape"]


class Drawing:
    """A picture ready to be written as DOT, SVG, PNG or PDF (and shown by Jupyter)."""

    def __init__(self, picture: Picture, engine="auto"):
        self.picture = picture
        self.engine = engine
        self.dot = to_dot(picture)

    def render(self, format="svg") -> bytes:
        if format == "dot":
            return self.dot.encode()
        return render(self.picture, format, self.engine)

    def save(self, path, format=None):
        """Write to `path`; the format comes from its suffix unless given."""
        path = os.fspath(path)
        format = format or os.path.splitext(path)[1].lstrip(".").lower()
        if format not in ("dot", "gv") + FORMATS:
            raise ValueError(f"cannot tell the picture format of {path!r}: use a .dot, "
                             f".{', .'.join(FORMATS)} file or pass format=")
        data = self.render("dot" if format == "gv" else format)
        with open(path, "wb") as f:
            f.write(data)
        return path

    # Jupyter: SVG when Graphviz is there, else a matplotlib PNG (only one is computed)
    def _repr_svg_(self):
        if choose_engine(self.engine) != "graphviz":
            return None
        return self.render("svg").decode()

    def _repr_png_(self):
        if choose_engine(self.engine) == "graphviz":
            return None
        return self.render("png")

    def __str__(self):
        return self.dot

    def __repr__(self):
        p = self.picture
        return (f"<graphc.viz.Drawing {p.title!r}: {len(p.boxes)} boxes, {len(p.arrows)} "
                f"arrows, {len(p.clusters)} clusters>")


def picture_of(obj, collapse=False, params=None) -> Picture:
    """The Picture of a graph, outputs, executable or eager tensor(s)."""
    if isinstance(obj, Tensor) or (isinstance(obj, (list, tuple)) and obj
                                   and all(isinstance(t, Tensor) for t in obj)):
        return tape_picture([obj] if isinstance(obj, Tensor) else list(obj), params)
    if isinstance(obj, Executable) or isinstance(getattr(obj, "graph", None), Graph):
        return executable_picture(obj, collapse=collapse)
    if isinstance(obj, Value) or (isinstance(obj, (list, tuple)) and obj
                                  and all(isinstance(v, Value) for v in obj)):
        obj = Graph.from_outputs([obj] if isinstance(obj, Value) else obj)
    if isinstance(obj, Graph):
        return graph_picture(obj, collapse=collapse)
    raise TypeError(f"graphc.viz cannot draw a {type(obj).__name__}: give a Graph, symbolic "
                    f"outputs, a compiled Executable or an eager Tensor")


def draw(obj, path=None, format=None, collapse=False, engine="auto", params=None) -> Drawing:
    """Draw `obj`; write it to `path` when given (format from the suffix unless `format`).

    collapse=True draws the ops of each module scope (or source line) as one box.
    engine: "auto" (Graphviz when installed, else matplotlib), "graphviz" or "matplotlib".
    params: for an eager tape, {name: tensor} naming its leaves, as torchviz's make_dot
    (e.g. dict(model.named_parameters())).
    """
    drawing = Drawing(picture_of(obj, collapse=collapse, params=params), engine)
    if path is not None:
        drawing.save(path, format)
    return drawing
