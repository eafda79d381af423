"""The cpu target's whole-program cache (graphc/backends/program_cache.py): an equal graph
compiled again loads its program whole (no passes, no code generation) and runs it right;
any change the code depends on makes another key; a damaged entry is rebuilt."""
import copy
import json

import numpy as np
import pytest

import graphc as gc
from graphc.backends import program_cache
from runtime import cache

W1 = np.arange(6, dtype=np.float32).reshape(3, 2) / 10
W2 = -np.arange(6, dtype=np.float32).reshape(3, 2) / 7
X = np.linspace(-1, 1, 12, dtype=np.float32).reshape(4, 3)


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("GRAPHC_CACHE_DIR", str(tmp_path))
    return tmp_path


def step(first=W1, second=W2, scale=2.0, width=3, share=False, name="x", op=gc.tanh,
         **options):
    """A training-step-like graph: two variables (w_a read first), one updated."""
    x = gc.placeholder((4, width), name=name)
    a = gc.variable(first[:width].copy(), name="w")
    b = a if share else gc.variable(second[:width].copy(), name="w")
    loss = (op(x @ a) * scale + x @ b).sum()
    exe = gc.compile(loss, [x], updates={a: a * 0.5 + b}, target="cpu", **options)
    return exe, a.node.attrs["storage"], b.node.attrs["storage"]


def key(exe, shapes=((4, 3),)):
    runner = exe._runner
    return program_cache.program_key(runner.spec, list(shapes), runner._flags())


def expected(first, second, scale=2.0):
    loss = (np.tanh(X @ first) * scale + X @ second).sum()
    return loss, first * 0.5 + second


def check(exe, a, first, second):
    loss, new = expected(first, second)
    np.testing.assert_allclose(exe(X).item(), loss, rtol=1e-5)
    np.testing.assert_allclose(a.numpy(), new, rtol=1e-6)
    return exe.compile_report()


@pytest.mark.parametrize("layout", ["kernels", "whole"])
def test_an_equal_graph_loads_its_program_whole_and_runs_it_right(cache_dir, layout):
    exe, a, _ = step(layout=layout)
    assert not check(exe, a, W1, W2).program_cached
    again, a2, _ = step(layout=layout)  # built anew: other nodes, other storages
    report = check(again, a2, W1, W2)
    assert report.program_cached and report.passes_s == 0 and report.layout == layout
    np.testing.assert_allclose(a.numpy(), W1 * 0.5 + W2, rtol=1e-6)  # the first: untouched
    # what people read is made again from the graph: the user's lines, the memory plan
    assert "step(layout=layout)" not in again.source and "loss = (op(x @ a)" in again.source
    assert again.memory_report()["planned_bytes"] > 0


def test_variables_swapped_in_the_graph_get_their_own_values_and_updates(cache_dir):
    exe, a, _ = step(W1, W2, layout="kernels")
    check(exe, a, W1, W2)
    swapped, a2, b2 = step(W2, W1, layout="kernels")  # same structure, the roles swapped
    assert check(swapped, a2, W2, W1).program_cached
    np.testing.assert_array_equal(b2.numpy(), W1)


def test_an_index_error_of_a_loaded_program_names_the_users_line(cache_dir):
    def build():
        x = gc.placeholder((4, 3), name="x")
        i = gc.placeholder((2,), gc.int64, name="i")
        y = x[i] * 2  # the line the error must point at
        return gc.compile(y, inputs=[x, i], target="cpu")
    build()(X, np.array([0, 1]))
    exe = build()
    np.testing.assert_array_equal(exe(X, np.array([3, -1])).numpy(), X[[3, -1]] * 2)
    assert exe.compile_report().program_cached
    with pytest.raises(IndexError) as info:
        exe(X, np.array([1, 4]))
    assert "size 4" in str(info.value) and "y = x[i] * 2" in str(info.value)


CHANGES = {
    "a constant's value": lambda: key(step(scale=3.0)[0]),
    "a variable's shape": lambda: key(step(width=2)[0], [(4, 2)]),
    "the feeds' shapes": lambda: key(step()[0], [(5, 3)]),
    "one variable read twice": lambda: key(step(share=True)[0]),
    "an op": lambda: key(step(op=gc.sigmoid)[0]),
    "a name": lambda: key(step(name="features")[0]),
    "strict math": lambda: key(step(strict=True)[0]),
    "no fusion": lambda: key(step(fuse=False)[0]),
    "the layout": lambda: key(step(layout="whole")[0]),
}


@pytest.mark.parametrize("change", CHANGES)
def test_every_change_the_code_depends_on_makes_another_key(change):
    base = key(step()[0])
    assert base is not None and key(step()[0]) == base  # equal graphs, equal keys
    assert CHANGES[change]() != base


def test_a_changed_scalar_template_graphc_source_or_version_makes_another_key(monkeypatch):
    exe = step()[0]
    base = key(exe)
    monkeypatch.setattr(gc.ops.elementwise.tanh, "scalar", "math.sin({0})")
    assert key(exe) != base
    monkeypatch.undo()
    monkeypatch.setattr(program_cache, "_stamp", "another graphc")
    assert key(exe) != base
    monkeypatch.setattr(program_cache.cache, "environment", lambda: "another numba")
    assert key(exe) != base


def test_an_op_graphc_does_not_define_is_never_cached():
    exe = step()[0]
    node = next(n for n in exe.graph.nodes if n.op is gc.ops.elementwise.tanh)
    node.op = copy.copy(node.op)  # same name, not the registered op (a user's op)
    assert key(exe) is None


def _store_and_damage(cache_dir, how):
    exe, a, _ = step(layout="kernels")
    check(exe, a, W1, W2)
    [path] = cache_dir.glob("graphc_prog_*.entry")
    entry_key = path.name[len("graphc_prog_"):-len(".entry")]
    doc = json.loads(cache.read_entry(entry_key))
    program = doc["program"]
    if how == "garbage":
        path.write_bytes(path.read_bytes()[:40] + b"garbage")
        return entry_key
    if how == "not json":
        payload = b"{not json"
    elif how == "wrong structure":
        program["views"] = [["a", 1]]
        payload = json.dumps(doc).encode()
    elif how == "variable out of range":
        program["variables"] = [99]
        payload = json.dumps(doc).encode()
    elif how == "program does not compile":
        program["source"] = "def bind(:\n"
        payload = json.dumps(doc).encode()
    cache.write_entry(entry_key, payload)  # checksummed: only its content is off
    return entry_key


@pytest.mark.parametrize("how", ["garbage", "not json", "wrong structure",
                                 "variable out of range", "program does not compile"])
def test_a_damaged_entry_is_rebuilt_never_trusted(cache_dir, how):
    entry_key = _store_and_damage(cache_dir, how)
    exe, a, _ = step(layout="kernels")
    assert not check(exe, a, W1, W2).program_cached
    again, a2, _ = step(layout="kernels")  # the rebuilt entry is sound
    assert check(again, a2, W1, W2).program_cached
    assert cache.read_entry(entry_key) is not None


def test_graphc_program_cache_0_compiles_from_the_graph(cache_dir, monkeypatch):
    exe, a, _ = step(layout="kernels")
    check(exe, a, W1, W2)
    monkeypatch.setenv("GRAPHC_PROGRAM_CACHE", "0")
    again, a2, _ = step(layout="kernels")
    assert not check(again, a2, W1, W2).program_cached
