import numpy as np

import graphc as gc


def test_graph_text_is_readable_and_typed():
    x = gc.placeholder((None, 3), name="x")
    w = gc.variable(np.ones((3, 2), np.float32), name="w")
    y = gc.relu(x @ w).sum(1)
    assert str(gc.Graph.from_outputs([y])) == (
        "graph(%x: f32[?, 3]) {\n"
        "  %w = variable('w') : f32[3, 2]\n"
        "  %0 = matmul(%x, %w) : f32[?, 2]\n"
        "  %1 = relu(%0) : f32[?, 2]\n"
        "  %2 = sum(%1, dims=(1,), keepdim=False) : f32[?]\n"
        "  return %2\n"
        "}")


def test_topological_order_and_networkx():
    x = gc.placeholder((2,))
    y = x * 2
    z = y + x
    g = gc.Graph.from_outputs([z])
    pos = {n.id: i for i, n in enumerate(g.nodes)}
    for n in g.nodes:
        assert all(pos[v.node.id] < pos[n.id] for v in n.inputs)
    nxg = g.to_networkx()
    import networkx as nx
    assert nx.is_directed_acyclic_graph(nxg) and nxg.number_of_nodes() == len(g.nodes)


def test_parameter_becomes_one_variable_bound_to_its_storage():
    w = gc.ones(2, requires_grad=True)
    x = gc.placeholder((2,))
    y = (x * w + w).sum()
    g = gc.Graph.from_outputs([y])
    assert len(g.variables) == 1 and g.variables[0].node.attrs["storage"] is w


def test_updates_write_into_variable_storage():
    w = gc.tensor([1.0, 2.0], requires_grad=True)
    x = gc.placeholder((2,))
    loss = (x * w).sum()
    step = gc.compile(loss, [x], updates={w: w - 0.5 * gc.grad(loss, w)}, target="reference")
    step(np.array([1.0, 1.0], np.float32))
    assert w.tolist() == [0.5, 1.5]  # eager tensor sees the update: same storage
    step(np.array([2.0, 0.0], np.float32))
    assert w.tolist() == [-0.5, 1.5]


def test_higher_order_static_gradient():
    x = gc.placeholder(())
    y = gc.sin(x) * x
    d1 = gc.grad(y, x)
    d2 = gc.grad(d1, x)
    v = np.float32(0.7)
    r = gc.compile([d1, d2], [x], target="reference")(v)
    np.testing.assert_allclose(r[0].item(), np.cos(v) * v + np.sin(v), rtol=1e-6)
    np.testing.assert_allclose(r[1].item(), -np.sin(v) * v + 2 * np.cos(v), rtol=1e-6)


def test_symbolic_batch_dim_specialized_per_call():
    x = gc.placeholder((None, 2))
    f = gc.compile(x.mean(0), [x], target="reference")
    assert f(np.ones((3, 2), np.float32)).shape == (2,)
    assert f(np.ones((7, 2), np.float32)).shape == (2,)


def test_modules_name_the_scopes_of_the_nodes_they_build(tmp_path):
    from graphc import nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.act, self.fc2 = nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2)

        def forward(self, x):
            return self.fc2(self.act(self.fc1(x)))

    x = gc.placeholder((None, 4), name="x")
    out = Net()(x)
    extra = out * 2  # outside any module
    scopes = {n.op.name: n.scope for n in gc.Graph.from_outputs([extra]).nodes}
    assert scopes["relu"] == "Net.act" and scopes["matmul"] in ("Net.fc1", "Net.fc2")
    assert scopes["mul"] is None and scopes["placeholder"] is None
    gc.save_graph(extra, tmp_path / "g.json")
    loaded = gc.load_graph(tmp_path / "g.json")
    assert [n.scope for n in loaded.nodes] == [n.scope for n in gc.Graph.from_outputs([extra]).nodes]
