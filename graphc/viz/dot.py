"""Graphviz DOT text for a Picture, written by hand (no graphviz Python package needed)."""
from __future__ import annotations

from .picture import BOX_STYLES, REUSED_LINE, Picture


def quote(text: str) -> str:
    """A DOT double-quoted string: backslashes and quotes escaped, newlines as \\n."""
    text = str(text).replace("\\", "\\\\").replace('"', '\\"')
    return '"' + text.replace("\r", "").replace("\n", "\\n") + '"'


def _attrs(**kw) -> str:
    return "[" + ", ".join(f"{k}={v}" for k, v in kw.items()) + "]"


def _box_line(box) -> str:
    look = BOX_STYLES[box.style]
    style = "filled,rounded" if look["shape"] == "box" and box.style == "variable" else "filled"
    attrs = dict(label=quote(box.label), shape=look["shape"], style=quote(style),
                 fillcolor=quote(look["fill"]), color=quote(look["line"]))
    if box.output:
        attrs["peripheries"] = 2
    if box.reused:
        attrs.update(color=quote(REUSED_LINE), penwidth=2)
    return f"{box.key} {_attrs(**attrs)};"


def to_dot(pic: Picture) -> str:
    lines = [
        "digraph graphc {",
        f"  graph [label={quote(pic.title)}, labelloc=t, fontname=Helvetica, rankdir=TB, "
        f"nodesep=0.25, ranksep=0.35];",
        '  node [fontname=Helvetica, fontsize=10, margin="0.08,0.04", height=0.3];',
        "  edge [fontname=Helvetica, fontsize=8, color=\"#495057\", arrowsize=0.6];",
    ]
    for key, cluster in pic.clusters.items():
        lines.append(f"  subgraph {key} {{")
        lines.append(f"    label={quote(cluster.label)}; style=\"rounded,dashed\"; "
                     f"color=\"#1971c2\"; fontcolor=\"#1971c2\"; fontsize=9;")
        lines += [f"    {_box_line(b)}" for b in pic.boxes.values() if b.cluster == key]
        lines.append("  }")
    lines += [f"  {_box_line(b)}" for b in pic.boxes.values()
              if b.cluster not in pic.clusters]
    for a in pic.arrows:
        attrs = {}
        if a.label:
            attrs["label"] = quote(a.label)
        if a.style == "update":
            attrs.update(style="dashed", color=quote(BOX_STYLES["update"]["line"]))
        lines.append(f"  {a.src} -> {a.dst}{' ' + _attrs(**attrs) if attrs else ''};")
    lines.append("}")
    return "\n".join(lines) + "\n"
