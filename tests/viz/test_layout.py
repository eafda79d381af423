"""graphc's own layout (pictures without Graphviz): data flows top to bottom, no two boxes
overlap, and a fused kernel's frame holds exactly its ops; with grandalf and without it."""
import builtins

import numpy as np
import pytest

import graphc as gc
from graphc.viz.engines import _box_size
from graphc.viz.layout import layout
from graphc.viz.picture import executable_picture
from conftest import build_step


def _fused_picture():
    pytest.importorskip("numba")
    x, w, b, loss, gw, gb = build_step()
    exe = gc.compile(loss, inputs=[x], updates={w: w - 0.1 * gw, b: b - 0.1 * gb}, target="cpu")
    pic = executable_picture(exe)  # symbolic batch: the passes run, nothing is compiled
    assert len(pic.clusters) >= 2
    return pic


@pytest.fixture(params=["grandalf", "networkx"])
def engine(request, monkeypatch):
    if request.param == "grandalf":
        pytest.importorskip("grandalf")
    else:  # as on a machine without grandalf
        real = builtins.__import__

        def no_grandalf(name, *args, **kwargs):
            if name.startswith("grandalf"):
                raise ImportError("no grandalf here")
            return real(name, *args, **kwargs)
        monkeypatch.setattr(builtins, "__import__", no_grandalf)
    return request.param


def _rect(lay, k):
    (x, y), (w, h) = lay.center[k], lay.size[k]
    return x - w / 2, y - h / 2, x + w / 2, y + h / 2


def _overlap(a, b):
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def test_boxes_never_overlap_and_clusters_hold_exactly_their_ops(engine):
    pic = _fused_picture()
    lay = layout(pic, _box_size)
    rects = {k: _rect(lay, k) for k in pic.boxes}
    keys = list(rects)
    for i, a in enumerate(keys):
        for b in keys[i + 1:]:
            assert not _overlap(rects[a], rects[b]), (pic.boxes[a].label, pic.boxes[b].label)
    for ckey, frame in lay.clusters.items():
        for k, box in pic.boxes.items():
            inside = frame[0] <= rects[k][0] and rects[k][2] <= frame[2] and \
                frame[1] <= rects[k][1] and rects[k][3] <= frame[3]
            if box.cluster == ckey:
                assert inside, box.label
            else:
                assert not _overlap(frame, rects[k]), (pic.clusters[ckey].label, box.label)
    for a, b in [(a, b) for i, a in enumerate(lay.clusters.values())
                 for b in list(lay.clusters.values())[i + 1:]]:
        assert not _overlap(a, b)


def test_data_flows_top_to_bottom(engine):
    pic = _fused_picture()
    lay = layout(pic, _box_size)
    for arrow in pic.arrows:
        assert lay.center[arrow.src][1] < lay.center[arrow.dst][1], \
            (pic.boxes[arrow.src].label, pic.boxes[arrow.dst].label)
    assert len(lay.routes) == len(pic.arrows)
    for arrow, route in zip(pic.arrows, lay.routes):  # from the source's bottom edge down
        assert route[0][1] == pytest.approx(_rect(lay, arrow.src)[3])
        assert route[-1][1] == pytest.approx(_rect(lay, arrow.dst)[1])


def test_a_picture_is_drawn_at_the_size_of_its_layout(engine):
    from graphc import viz
    x = gc.placeholder((3,), name="x")
    y = gc.tanh(x) * np.float32(2)
    png = viz.draw(y, engine="matplotlib").render("png")
    assert png.startswith(b"\x89PNG")
