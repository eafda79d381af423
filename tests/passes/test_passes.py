"""Each compiler pass on small graphs: what it rewrites, and that it keeps meaning."""
import re

import numpy as np

import graphc as gc
from graphc.ir.graph import Graph
from graphc.passes import (FUSED, PIPELINE, cse, dce, fuse, plan_memory, run_pipeline,
                           simplify, specialize)


def _graph(outputs, updates=()):
    outs = list(outputs)
    g = Graph.from_outputs(outs + [new for _, new in updates])
    g.outputs = outs
    return specialize(g, updates=list(updates))


def _ops(graph):
    return [n.op.name for n in graph.nodes if not n.op.is_leaf]


def test_simplify_removes_identities():
    x = gc.placeholder((3, 4), name="x")
    y = -(-((x * 1 + 0) / 1))
    y = y.permute(1, 0).permute(1, 0).reshape(12).reshape(4, 3).reshape(3, 4)
    y = gc.cast(y, gc.float32)
    g = dce(simplify(_graph([y])))
    assert _ops(g) == [] and g.outputs[0] is g.inputs[0]


def test_simplify_folds_constants_and_keeps_shape_only_inputs_free():
    x = gc.placeholder((2, 3), name="x")
    c = gc.constant(np.float32(2.0)) * 3.0 + 1.0
    y = x * c + gc.zeros_like(x)
    g = dce(simplify(_graph([y])))
    consts = [n.attrs["value"] for n in g.nodes if n.op.name == "constant"]
    assert any(np.all(v == 7.0) for v in consts)
    assert "full_like" not in _ops(g)  # a broadcast view of a scalar instead


def test_a_transposed_product_read_once_swaps_its_operands():
    a, b = gc.placeholder((3, 4), name="a"), gc.placeholder((4, 5), name="b")
    g = dce(simplify(_graph([(a @ b).permute(1, 0)])))
    (product,) = [n for n in g.nodes if n.op.name == "matmul"]
    assert g.outputs[0] is product.outputs[0]  # b^T @ a^T: no transpose of the result left
    assert [v.node.op.name for v in product.inputs] == ["permute", "permute"]
    av = np.arange(12, dtype=np.float32).reshape(3, 4)
    bv = np.linspace(-1, 1, 20, dtype=np.float32).reshape(4, 5)
    got = gc.compile((a @ b).permute(1, 0), [a, b], target="reference")(av, bv).numpy()
    np.testing.assert_allclose(got, (av @ bv).T, rtol=1e-6)


def test_a_transposed_product_read_twice_is_left_alone():
    a, b = gc.placeholder((3, 4), name="a"), gc.placeholder((4, 5), name="b")
    p = a @ b
    g = dce(simplify(_graph([p.permute(1, 0), p * 2])))
    assert _ops(g).count("matmul") == 1  # not computed twice


def test_a_product_of_a_batch_permuted_operand_is_permuted_afterwards():
    """permute(x) @ w with the last dim kept: x @ w on x as it lies (one BLAS call), then the
    permutation; a permutation that moves the last dim is left alone."""
    x, w = gc.placeholder((2, 3, 4), name="x"), gc.placeholder((4, 5), name="w")
    y = x.permute(1, 0, 2) @ w
    g = dce(simplify(_graph([y])))
    (product,) = [n for n in g.nodes if n.op.name == "matmul"]
    assert product.inputs[0] is g.inputs[0] and g.outputs[0].node.op.name == "permute"
    xv = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    wv = np.linspace(-1, 1, 20, dtype=np.float32).reshape(4, 5)
    for target in ("reference", "cpu"):
        got = gc.compile(y, [x, w], target=target)(xv, wv).numpy()
        np.testing.assert_allclose(got, xv.transpose(1, 0, 2) @ wv, rtol=1e-6)
    moved = dce(simplify(_graph([x.permute(0, 2, 1) @ gc.placeholder((3, 5), name="v")])))
    (product,) = [n for n in moved.nodes if n.op.name == "matmul"]
    assert product.inputs[0].node.op.name == "permute"


def _chunk_gradient(x, use):
    """d/dx of sum(w_k * piece_k) over the pieces of x that `use` picks (gate-like chunks)."""
    pieces = use(x)
    loss = sum((p * float(k + 1)).sum() for k, p in enumerate(pieces))
    return gc.grad(loss, x)


def _pieces_check(use, tiled, x0):
    x = gc.placeholder(x0.shape, gc.float64, name="x")
    ops = _ops(dce(simplify(_graph([_chunk_gradient(x, use)]))))
    assert ("cat" in ops, "slice_backward" in ops) == ((True, False) if tiled else (False, True))
    got = gc.compile(_chunk_gradient(x, use), [x], target="reference")(x0).numpy()
    xt = gc.tensor(x0, requires_grad=True)
    sum((p * float(k + 1)).sum() for k, p in enumerate(use(xt))).backward()
    np.testing.assert_array_equal(got, xt.grad.numpy())


def test_gradients_of_pieces_that_tile_a_dim_become_one_cat():
    x0 = np.linspace(-1, 1, 24).reshape(3, 8)
    # all four chunks (an LSTM's gates): one cat, no zero-filled slice gradients
    _pieces_check(lambda x: x.chunk(4, 1), True, x0)
    # a gap (the second chunk unused) is a zero view inside the cat
    _pieces_check(lambda x: [x[:, 0:2], x[:, 4:6], x[:, 6:8]], True, x0)
    # integer indices (time steps) and a slice
    _pieces_check(lambda x: [x[0], x[1:]], True, x0)


def test_overlapping_or_strided_pieces_keep_their_slice_gradients():
    x0 = np.linspace(-1, 1, 24).reshape(3, 8)
    _pieces_check(lambda x: [x[:, 0:5], x[:, 3:8]], False, x0)
    _pieces_check(lambda x: [x[:, 0::2], x[:, 1::2]], False, x0)


def test_cse_merges_repeated_work_and_dce_drops_dead_nodes():
    x = gc.placeholder((5,), name="x")
    gc.sin(x)  # built, never an output
    y = gc.exp(x) + gc.exp(x)
    g = dce(cse(_graph([y])))
    assert sorted(_ops(g)) == ["add", "exp"]
    assert any(n.op.name == "placeholder" for n in g.nodes)


def _fused(graph):
    return [n for n in graph.nodes if n.op is FUSED]


def test_elementwise_chain_with_broadcast_is_one_kernel():
    a, b, c = (gc.placeholder(s) for s in [(4, 8), (8,), (4, 1)])
    g = fuse(_graph([gc.sigmoid(a * b + c) * gc.tanh(a)]))
    assert _ops(g) == ["fused"]
    assert [n.op.name for n in _fused(g)[0].attrs["group"].nodes] == [
        "mul", "add", "sigmoid", "tanh", "mul"]


def test_mean_of_squared_difference_is_one_pass():
    a, b = gc.placeholder((64,)), gc.placeholder((64,))
    g = run_pipeline(Graph.from_outputs([((a - b) ** 2).mean()]))
    assert _ops(g) == ["fused"] and _fused(g)[0].attrs["group"].kind == "reduce"
    assert [s.node.op.name for s in g.memory.steps] == ["fused"]


def test_softmax_gradient_takes_few_passes():
    x = gc.placeholder((8, 10))
    w = gc.placeholder((8, 10))
    y = gc.softmax(x, 1)
    g = run_pipeline(Graph.from_outputs([gc.grad((y * w).sum(), x)]))
    kernels = [s for s in g.memory.steps if s.node is not None]
    assert len(kernels) <= 4, [s.node.op.name for s in kernels]


def test_fusion_never_makes_a_cycle():
    x = gc.placeholder((4, 5))
    e = gc.exp(x)
    r = e.sum(1, keepdim=True)      # e -> sum -> (broadcast) -> z, and e -> z directly
    z = e / r
    g = fuse(_graph([z]))
    import networkx as nx
    assert nx.is_directed_acyclic_graph(g.to_networkx())
    order = {n.id: i for i, n in enumerate(g.nodes)}
    for n in g.nodes:
        assert all(order[v.node.id] < order[n.id] for v in n.inputs)
    arr = np.random.default_rng(0).standard_normal((4, 5)).astype(np.float32)
    got = gc.compile(z, target="cpu")(arr).numpy()
    np.testing.assert_allclose(got, np.exp(arr) / np.exp(arr).sum(1, keepdims=True), rtol=1e-6)


def test_memory_plan_reuses_dead_buffers_and_updates_variables_in_place():
    w = gc.variable(np.ones((16, 16), np.float32), name="w")
    x = gc.placeholder((16, 16))
    h = x @ w
    h = (h @ w).tanh() @ w
    loss = h.sum()
    new_w = w - 0.1 * gc.grad(loss, w)
    g = plan_memory(fuse(dce(cse(simplify(_graph([loss], [(w, new_w)]))))))
    plan = g.memory
    temps = [s for s in plan.storage.values() if s.kind == "temp"]
    assert sum(plan.arena_sizes.values()) < sum(s.size for s in temps)
    assert plan.inplace == [g.updates[0][0]]


def test_swapping_variables_reads_both_old_values():
    a = gc.variable(np.arange(3, dtype=np.float32), name="a")
    b = gc.variable(np.arange(3, 6, dtype=np.float32), name="b")
    step = gc.compile(a.sum(), updates={a: b, b: a}, target="cpu")
    step()
    np.testing.assert_array_equal(a.node.attrs["storage"].numpy(), [3, 4, 5])
    np.testing.assert_array_equal(b.node.attrs["storage"].numpy(), [0, 1, 2])


def test_run_pipeline_records_every_pass():
    x = gc.placeholder((3,), name="x")
    graph, log = run_pipeline(Graph.from_outputs([gc.exp(x) * 1 + gc.exp(x)]), record=True)
    assert [name for name, _, _ in log] == ["specialize"] + [name for name, _ in PIPELINE]
    assert all(isinstance(summary, str) and text.startswith("graph(") for _, summary, text in log)
    assert "fused" in log[-2][2]


def test_symbolic_dims_are_specialized():
    x = gc.placeholder((None, 3), name="x")
    y = x.mean(0)
    from graphc.types import TensorType
    g = run_pipeline(Graph.from_outputs([y]), input_types={x: TensorType((7, 3), gc.float32)})
    assert all(v.type.is_concrete for n in g.nodes for v in n.outputs)


def test_pass_summaries_explain_skips_and_the_arena():
    from graphc.passes import run_pipeline
    x = gc.placeholder((None, 4), name="x")
    y = (gc.tanh(x) * 2 + 1).sum()
    _, log = run_pipeline(gc.Graph.from_outputs([y]), record=True)
    summaries = dict((name, summary) for name, summary, _ in log)
    assert summaries["plan_memory"] == ("skipped (the shapes are symbolic: memory is planned "
                                        "per concrete input shape)")
    x = gc.placeholder((3, 4), name="x")
    y = (gc.tanh(x) * 2 + 1) @ gc.tanh(x).T
    _, log = run_pipeline(gc.Graph.from_outputs([y]), record=True, skip=("fuse",))
    summaries = dict((name, summary) for name, summary, _ in log)
    assert summaries["fuse"] == "skipped (switched off)"
    assert re.match(r"\d+ temporaries of \d+ bytes in a \d+-byte arena \((reuse saves \d+ "
                    r"bytes|\d+ bytes of it pad slots to 64-byte lines)\)",
                    summaries["plan_memory"]), summaries["plan_memory"]
