"""graphc.scan: eager loop, one scan node in graphs, its gradient rule, cpu lowering, RNNs."""
import json

import numpy as np
import pytest

import graphc as gc
from graphc import nn
from graphc.errors import ShapeError
from graphc.ir.serialize import graph_from_json, graph_to_json

from helpers import numeric_grad

rng = np.random.default_rng(0)
XS = rng.standard_normal((4, 2, 3))
H0 = rng.standard_normal((2, 3))
W = rng.standard_normal((3, 3)) * 0.5


def numpy_scan(h, xs, w, reverse=False):
    """The meaning of the tuple-carry cell below, as a NumPy loop: ((h, s), ys)."""
    s = np.zeros(())
    ys = [None] * len(xs)
    for t in (range(len(xs) - 1, -1, -1) if reverse else range(len(xs))):
        h = np.tanh(xs[t] + h @ w)
        s = s + h.sum()
        ys[t] = h * s
    return (h, s), np.stack(ys)


def cell(w):
    def f(carry, x):
        h, s = carry
        h = gc.tanh(x + h @ w)
        s = s + h.sum()
        return (h, s), h * s
    return f


def symbolic(reverse=False):
    """(xs, h0 placeholders, W variable tensor, final h, final s, ys)."""
    w = gc.tensor(W.copy(), requires_grad=True)
    xs, h0 = gc.placeholder(XS.shape, gc.float64, "xs"), gc.placeholder(H0.shape, gc.float64, "h0")
    (h, s), ys = gc.scan(cell(w), (h0, gc.zeros((), dtype=gc.float64)), xs, reverse=reverse)
    return xs, h0, w, h, s, ys


@pytest.mark.parametrize("reverse", [False, True])
def test_eager_matches_numpy_loop(reverse):
    w = gc.tensor(W)
    (h, s), ys = gc.scan(cell(w), (gc.tensor(H0), gc.zeros((), dtype=gc.float64)),
                         gc.tensor(XS), reverse=reverse)
    (eh, es), eys = numpy_scan(H0, XS, W, reverse)
    np.testing.assert_allclose(h.numpy(), eh, rtol=1e-12)
    np.testing.assert_allclose(s.numpy(), es, rtol=1e-12)
    np.testing.assert_allclose(ys.numpy(), eys, rtol=1e-12)


def test_eager_gradients_come_from_the_tape():
    w = gc.tensor(W.copy(), requires_grad=True)
    xs = gc.tensor(XS.copy(), requires_grad=True)
    (h, s), ys = gc.scan(cell(w), (gc.tensor(H0), gc.zeros((), dtype=gc.float64)), xs)
    (ys.sum() + s).backward()
    expected = numeric_grad(lambda a: numpy_scan(H0, XS, a)[1].sum() + numpy_scan(H0, XS, a)[0][1],
                            [W], 0)
    np.testing.assert_allclose(w.grad.numpy(), expected, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("reverse", [False, True])
def test_one_scan_node_matches_eager_and_finite_differences(reverse):
    xs, h0, w, h, s, ys = symbolic(reverse)
    graph = gc.Graph.from_outputs([h, s, ys])
    assert [n.op.name for n in graph.nodes].count("scan") == 1
    body = next(n for n in graph.nodes if n.op.name == "scan").attrs["body"]
    assert [p.name for p in body.inputs] == ["carry0", "carry1", "x0", "captured0"]

    loss = (ys * ys).sum() + s + (h * h).sum()
    grads = gc.grad(loss, [h0, xs, w])
    run = gc.compile([h, s, ys] + grads, [h0, xs], target="reference")
    out = run(H0, XS)
    (eh, es), eys = numpy_scan(H0, XS, W, reverse)
    for got, want in zip(out[:3], (eh, es, eys)):
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-12)

    def f(a, b, c):
        (fh, fs), fys = numpy_scan(a, b, c, reverse)
        return (fys * fys).sum() + fs + (fh * fh).sum()
    for k, got in enumerate(out[3:]):
        np.testing.assert_allclose(got.numpy(), numeric_grad(f, [H0, XS, W], k),
                                   rtol=1e-6, atol=1e-7)


def test_cpu_matches_reference():
    xs, h0, w, h, s, ys = symbolic(reverse=True)
    loss = (ys * ys).sum() + s
    grads = gc.grad(loss, [h0, xs, w])
    outs = [h, s, ys] + grads
    ref = gc.compile(outs, [h0, xs], target="reference")(H0, XS)
    cpu = gc.compile(outs, [h0, xs], target="cpu")
    got = cpu(H0, XS)
    for a, b in zip(got, ref):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-9, atol=1e-12)
    assert "scan body program" in cpu.source


def test_cpu_compiles_one_body_whatever_the_length():
    """The kernels of a compiled scan do not grow with the number of steps."""
    w = gc.tensor(W[:2, :2].astype(np.float32))
    counts = []
    for steps in (3, 7):
        xs = gc.placeholder((steps, 2), gc.float32)
        h, ys = gc.scan(lambda h, x: (gc.tanh(x + h @ w), h), gc.zeros(2), xs)
        exe = gc.compile([h, ys], [xs], target="cpu")
        a = rng.standard_normal((steps, 2)).astype(np.float32)
        hh, yy = exe(a)
        eh, eys = gc.scan(lambda h, x: (gc.tanh(x + h @ w), h), gc.zeros(2), gc.tensor(a))
        np.testing.assert_allclose(hh.numpy(), eh.numpy(), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(yy.numpy(), eys.numpy(), rtol=1e-5, atol=1e-6)
        counts.append(exe.compile_report().functions)
    assert counts[0] == counts[1]


def test_symbolic_batch_dim_and_captured_outer_value():
    xs = gc.placeholder((3, None, 2), gc.float64, "xs")
    bias = gc.placeholder((2,), gc.float64, "bias")
    scale = bias * 2  # an outer symbolic value read inside f: captured as an input
    h, ys = gc.scan(lambda h, x: (h + x * scale, h.sum(1)), xs[0] * 0, xs)
    g = gc.grad(ys.sum() + h.sum(), bias)
    run = gc.compile([h, ys, g], [xs, bias], target="reference")
    a, b = rng.standard_normal((3, 5, 2)), rng.standard_normal(2)
    hh, yy, gg = run(a, b)
    np.testing.assert_allclose(hh.numpy(), a.sum(0) * b * 2)
    want = numeric_grad(lambda bb: _outer_loop(a, bb), [b], 0)
    np.testing.assert_allclose(gg.numpy(), want, rtol=1e-6)


def _outer_loop(a, b):
    h, total = np.zeros(a.shape[1:]), 0.0
    for t in range(len(a)):
        total += h.sum()
        h = h + a[t] * b * 2
    return total + h.sum()


def test_jit_of_a_function_calling_scan():
    w = gc.tensor(W.astype(np.float32))

    @gc.jit(target="reference")
    def run(h, xs):
        return gc.scan(lambda h, x: (gc.tanh(x + h @ w), h.sum()), h, xs)

    h, ys = run(gc.tensor(H0.astype(np.float32)), gc.tensor(XS.astype(np.float32)))
    eh, eys = gc.scan(lambda h, x: (gc.tanh(x + h @ w), h.sum()),
                      gc.tensor(H0.astype(np.float32)), gc.tensor(XS.astype(np.float32)))
    np.testing.assert_allclose(h.numpy(), eh.numpy(), rtol=1e-6)
    np.testing.assert_allclose(ys.numpy(), eys.numpy(), rtol=1e-6)
    assert "scan" in str(run.graph(gc.tensor(H0.astype(np.float32)),
                                   gc.tensor(XS.astype(np.float32))))


def test_length_without_xs():
    h, ys = gc.scan(lambda c, _: (c * 2, c), gc.tensor(1.0), None, length=4)
    assert h.item() == 16 and ys.tolist() == [1, 2, 4, 8]
    p = gc.placeholder((), gc.float32)
    sh, sys_ = gc.scan(lambda c, _: (c * 2, c), p, None, length=4)
    out = gc.compile([sh, sys_], [p], target="reference")(np.float32(1))
    assert out[0].item() == 16 and out[1].tolist() == [1, 2, 4, 8]


def test_carry_that_changes_shape_names_the_users_line():
    xs = gc.placeholder((3, 2))
    with pytest.raises(ShapeError, match=r"(?s)carry 0 enters f as \[2\].*\[1, 2\].*test_scan"):
        gc.scan(lambda h, x: (gc.unsqueeze(h + x, 0), x), gc.zeros(2), xs)
    with pytest.raises(ShapeError, match="carry 0 enters f"):
        gc.scan(lambda h, x: (gc.unsqueeze(h + x, 0), x), gc.zeros(2), gc.zeros(3, 2))


def test_other_errors():
    with pytest.raises(ShapeError, match="disagree on the number of steps"):
        gc.scan(lambda c, x: (c, x), gc.zeros(2), (gc.zeros(3, 2), gc.zeros(4, 2)))
    with pytest.raises(ValueError, match="length is required"):
        gc.scan(lambda c, x: (c, x), gc.zeros(2), None)
    with pytest.raises(TypeError, match="must return a pair"):
        gc.scan(lambda c, x: c, gc.placeholder((2,)), gc.zeros(3, 2))
    with pytest.raises(ShapeError, match="structure"):
        gc.scan(lambda c, x: ((c, c), x), gc.placeholder((2,)), gc.zeros(3, 2))


def test_graph_dump_and_json_round_trip():
    xs, h0, w, h, s, ys = symbolic()
    graph = gc.Graph.from_outputs([h, s, ys])
    text = str(graph)
    assert "    body:" in text and "      %" in text and "captured0" in text
    doc = json.loads(json.dumps(graph_to_json(graph)))
    loaded = graph_from_json(doc)
    a = gc.compile(graph.outputs, [h0, xs], target="reference")(H0, XS)
    b = gc.compile(loaded.outputs, loaded.inputs, target="reference")(H0, XS)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u.numpy(), v.numpy())


@pytest.mark.parametrize("layer", ["rnn", "lstm"])
def test_recurrent_layers_use_one_scan_and_equal_the_unrolled_loop(layer):
    gc.manual_seed(0)
    m = (nn.RNN(3, 4, num_layers=2) if layer == "rnn" else nn.LSTM(3, 4)).double()
    x = rng.standard_normal((5, 2, 3))
    out, state = m(gc.tensor(x))  # eager: the unrolled Python loop
    eager = [out] + list(state if isinstance(state, tuple) else (state,))
    xp = gc.placeholder(x.shape, gc.float64)
    sout, sstate = m(xp)
    souts = [sout] + list(sstate if isinstance(sstate, tuple) else (sstate,))
    graph = gc.Graph.from_outputs(souts)
    assert [n.op.name for n in graph.nodes].count("scan") == m.num_layers
    got = gc.compile(souts, [xp], target="reference")(x)
    for a, b in zip(got, eager):
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), rtol=1e-12, atol=1e-14)


def test_a_step_with_a_scan_uses_the_kernel_layout(monkeypatch):
    from graphc.lower import Options, lower_program
    from graphc.passes import run_pipeline
    monkeypatch.setenv("GRAPHC_LAYOUT", "whole")
    xs = gc.placeholder((3, 2), gc.float32)
    h, ys = gc.scan(lambda h, x: (h * x, h), gc.ones(2), xs)
    graph = run_pipeline(gc.Graph.from_outputs([h, ys], [xs]))
    generated = lower_program(graph, Options(), layout="whole")
    assert generated.layout == "kernels" and len(generated.subprograms) == 1
    assert "for _t in range(2):" in generated.source


def test_nested_scans_with_gradients():
    a, w = rng.standard_normal((3, 4, 2)), rng.standard_normal((2, 2)) * 0.5

    def model(weight, xs):
        def inner(c, x):
            return gc.tanh(c @ weight + x), c

        def outer(c, x):
            c2, ys = gc.scan(inner, c, x)
            return c2 * 0.5, ys.sum(0)
        h, ys = gc.scan(outer, gc.zeros(2, dtype=gc.float64), xs)
        return h, ys, (h * h).sum() + ys.sum()

    we, xe = gc.tensor(w, requires_grad=True), gc.tensor(a, requires_grad=True)
    he, yse, loss = model(we, xe)
    loss.backward()
    ws, xs = gc.tensor(w, requires_grad=True), gc.placeholder(a.shape, gc.float64)
    h, ys, sloss = model(ws, xs)
    outs = [h, ys] + gc.grad(sloss, [ws, xs])
    got = gc.compile(outs, [xs], target="reference")(a)
    for u, v in zip(got, [he, yse, we.grad, xe.grad]):
        np.testing.assert_allclose(u.numpy(), v.detach().numpy(), rtol=1e-12, atol=1e-14)
    cpu = gc.compile([h, ys], [xs], target="cpu")(a)  # a body program calling another
    for u, v in zip(cpu, [he, yse]):
        np.testing.assert_allclose(u.numpy(), v.detach().numpy(), rtol=1e-12, atol=1e-14)


def test_second_order_gradient_through_a_scan():
    a, h0, w0 = XS[:3, :, :2], H0[:, :2], W[:2, :2]

    def first_order_norm(w):  # eager: |d loss / dw|^2, the tape differentiating the loop
        wt = gc.tensor(w, requires_grad=True)
        h, ys = gc.scan(lambda c, x: (gc.tanh(x + c @ wt), c * c), gc.tensor(h0), gc.tensor(a))
        (ys.sum() + (h * h).sum()).backward()
        return (wt.grad.numpy() ** 2).sum()

    wt = gc.tensor(w0.copy(), requires_grad=True)
    xs, h = gc.placeholder(a.shape, gc.float64), gc.placeholder(h0.shape, gc.float64)
    hT, ys = gc.scan(lambda c, x: (gc.tanh(x + c @ wt), c * c), h, xs)
    g = gc.grad(ys.sum() + (hT * hT).sum(), wt)
    g2 = gc.grad((g * g).sum(), wt)
    got = gc.compile(g2, [h, xs], target="reference")(h0, a)
    np.testing.assert_allclose(got.numpy(), numeric_grad(first_order_norm, [w0], 0),
                               rtol=1e-6, atol=1e-8)
