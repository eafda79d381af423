"""graphc.distributed without MPI processes: errors, the sampler's split, the graph split."""
from __future__ import annotations

import numpy as np
import pytest

import graphc
import graphc.distributed as dist
import graphc.viz
from graphc import nn
from graphc.distributed.compiled import DistributedExecutable
from graphc.eager.hooks import queue_callback
from graphc.errors import UnsupportedError
from graphc.nn.parallel import DistributedDataParallel
from graphc.ops import collective
from graphc.utils.data import DistributedSampler


def test_calls_before_init_process_group_raise_a_clear_error():
    assert not dist.is_initialized()
    with pytest.raises(dist.DistributedError, match="has not been initialized"):
        dist.get_rank()
    with pytest.raises(dist.DistributedError, match="init_process_group"):
        DistributedDataParallel(nn.Linear(2, 2))


def test_only_the_mpi_backend():
    with pytest.raises(UnsupportedError, match="backend 'nccl' is not supported"):
        dist.init_process_group("nccl")


@pytest.mark.parametrize("n, replicas, drop_last", [(10, 3, False), (10, 3, True), (2, 4, False),
                                                    (9, 3, True)])
def test_distributed_sampler_splits_like_pytorch(n, replicas, drop_last):
    shares = [list(DistributedSampler(range(n), replicas, r, shuffle=False,
                                      drop_last=drop_last)) for r in range(replicas)]
    assert len({len(s) for s in shares}) == 1
    order = [i for group in zip(*shares) for i in group]  # rank r takes every replicas-th
    whole = list(range(n))
    if drop_last:
        assert order == whole[:len(order)] and len(order) == n // replicas * replicas
    else:
        padded = (whole * (1 + len(order) // n))[:len(order)]
        assert order == padded


def test_distributed_sampler_same_permutation_per_epoch_on_every_rank():
    a = DistributedSampler(range(20), 2, 0, seed=1)
    b = DistributedSampler(range(20), 2, 1, seed=1)
    assert sorted(list(a) + list(b)) == list(range(20))
    first = list(a)
    a.set_epoch(1)
    assert list(a) != first
    with pytest.raises(ValueError, match="Invalid rank 2"):
        DistributedSampler(range(4), 2, 2)


def test_post_accumulate_grad_hooks_fire_as_gradients_become_final():
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    events = []

    def hook(t):
        events.append((names[id(t)], t.grad is not None))
        if len(events) == 1:
            queue_callback(lambda: events.append("end"))
    names = {id(p): n for n, p in model.named_parameters()}
    handles = [p.register_post_accumulate_grad_hook(hook) for p in model.parameters()]
    model(graphc.randn(5, 3)).sum().backward()
    # the last layer's gradients are final first; the callback runs after every hook
    assert [e[0] for e in events[:-1]] == ["2.bias", "2.weight", "0.bias", "0.weight"]
    assert all(e[1] for e in events[:-1]) and events[-1] == "end"
    for h in handles:
        h.remove()
    events.clear()
    model(graphc.randn(5, 3)).sum().backward()
    assert events == []


def test_all_reduce_node_type_rule_and_gradient():
    x = graphc.placeholder((2, 3), name="x")
    y = collective.all_reduce(x, reduce="sum")
    assert y.type == x.type and y.node.op.name == "all_reduce"
    with pytest.raises(Exception, match="reduce must be one of"):
        collective.all_reduce(x, reduce="max")
    (g,) = [graphc.grad(y.sum(), [x])]
    assert any(n.op.name == "all_reduce" for n in graphc.Graph.from_outputs(g).nodes)


def test_graph_with_collective_compiles_in_two_parts(monkeypatch):
    # a step with a leaf-only value the update part recomputes (w * 0.5) and a variable that
    # the update part writes without reading (late update): the split's three paths
    import graphc.distributed.compiled as compiled
    monkeypatch.setattr(compiled, "allreduce_array",
                        lambda arr, reduce: arr.__imul__(1.0 if reduce == "mean" else 2.0))
    w = graphc.variable(np.ones(3, np.float32), name="w")
    seen = graphc.variable(np.zeros(3, np.float32), name="seen")
    x = graphc.placeholder((3,), name="x")
    grad = (x * w).reshape(-1)
    reduced = collective.all_reduce(grad, reduce="sum")
    new_w = w * 0.5 - reduced
    loss = (x * w).sum()
    exe = graphc.compile(loss, [x], updates={w: new_w, seen: reduced * 1.0}, target="reference")
    assert isinstance(exe, DistributedExecutable) and exe.gradient_part is not None
    assert "all_reduce" in graphc.viz.dump(exe)
    xv = np.array([1, 2, 3], np.float32)
    out = exe(xv)
    np.testing.assert_allclose(out.numpy(), 6.0)
    w_t, seen_t = w.node.attrs["storage"], seen.node.attrs["storage"]
    np.testing.assert_allclose(w_t.numpy(), 0.5 - 2 * xv)
    np.testing.assert_allclose(seen_t.numpy(), 2 * xv)


def test_chained_collectives_are_refused():
    x = graphc.placeholder((3,), name="x")
    y = collective.all_reduce(collective.all_reduce(x) * 2.0)
    with pytest.raises(UnsupportedError, match="reads the result of another collective"):
        graphc.compile(y, [x], target="reference")  # (one cpu program runs them in order)


def test_broadcast_of_a_variable_runs_before_the_step(monkeypatch):
    import graphc.distributed.compiled as compiled
    calls = []

    def fake_broadcast(arr, src):  # as if rank `src` held 7s
        calls.append(src)
        arr[...] = 7
        return arr
    monkeypatch.setattr(compiled, "broadcast_array", fake_broadcast)
    stats = graphc.variable(np.zeros(2, np.float32), name="stats")
    x = graphc.placeholder((2,), name="x")
    current = collective.broadcast(stats, src=0)
    out = (x * current).sum()
    exe = graphc.compile(out, [x], updates={stats: current * 0.5 + x}, target="reference")
    assert isinstance(exe, DistributedExecutable) and "broadcast" in graphc.viz.dump(exe)
    np.testing.assert_allclose(exe(np.ones(2, np.float32)).numpy(), 14.0)
    np.testing.assert_allclose(stats.node.attrs["storage"].numpy(), [4.5, 4.5])
    assert calls == [0]
    computed = collective.broadcast(x * 2.0)
    with pytest.raises(UnsupportedError, match="broadcast of a computed value"):
        graphc.compile(computed, [x], target="reference")


class _TwoEqualRanks:
    """The allreduce of two ranks holding the same values, without MPI: a sum doubles, a mean
    leaves them; installed for both the split and the one-program (cpu) paths."""

    def __init__(self):
        self.started = []

    def start(self, buffer):
        self.started.append(buffer.size)
        return buffer

    def progress(self, request):
        pass

    def finish(self, request, buffer, mean):
        if not mean:
            buffer *= 2.0


@pytest.fixture
def two_equal_ranks(monkeypatch):
    import graphc.distributed.compiled as compiled
    fake = _TwoEqualRanks()
    monkeypatch.setattr(compiled, "allreduce_array",
                        lambda arr, reduce: arr.__imul__(2.0 if reduce == "sum" else 1.0))
    monkeypatch.setattr(collective, "overlap", fake)
    return fake


@pytest.mark.parametrize("target", ["reference", "cpu"])
def test_a_reduced_buffer_that_is_also_returned_is_copied_first(two_equal_ranks, target):
    x = graphc.placeholder((2,), name="x")
    local = x * 3.0
    exe = graphc.compile([local, collective.all_reduce(local) + 0.0,
                          collective.all_reduce(local) + 1.0], [x], target=target)
    got = exe(np.ones(2, np.float32))
    np.testing.assert_allclose(got[0].numpy(), 3.0)  # the value before the reduction
    np.testing.assert_allclose(got[1].numpy(), 6.0)
    np.testing.assert_allclose(got[2].numpy(), 7.0)


@pytest.mark.parametrize("target", ["reference", "cpu"])
def test_reducing_a_feed_or_a_variable_leaves_them_unchanged(two_equal_ranks, target):
    x = graphc.placeholder((2,), name="x")
    w = graphc.variable(np.ones(2, np.float32), name="w")
    exe = graphc.compile([collective.all_reduce(x) + 0.0, collective.all_reduce(w) + 0.0], [x],
                         target=target)
    feed = np.ones(2, np.float32)
    got = exe(feed)
    np.testing.assert_allclose(got[0].numpy(), 2.0)
    np.testing.assert_allclose(got[1].numpy(), 2.0)
    np.testing.assert_allclose(feed, 1.0)
    np.testing.assert_allclose(w.node.attrs["storage"].numpy(), 1.0)


# ---- the one-program path (cpu): buckets in the memory plan, allreduce calls in the program --
def _mlp_step_graph(reduce="mean"):
    """A training step that averages each gradient with an all_reduce node (as DDP traces)."""
    graphc.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))
    x = graphc.placeholder((5, 4), name="x")
    y = graphc.placeholder((5,), graphc.int64, name="y")
    loss = nn.CrossEntropyLoss()(model(x), y)
    params = list(model.parameters())
    grads = graphc.grad(loss, params)
    reduced = [collective.all_reduce(g, reduce=reduce) for g in grads]
    return model, x, y, loss, {p: p - 0.1 * g for p, g in zip(params, reduced)}


def _planned(monkeypatch, bucket_mb):
    from graphc.compile import _normalize_updates
    from graphc.lower import Options, lower_program
    from graphc.passes import run_pipeline
    monkeypatch.setenv("GRAPHC_BUCKET_MB", str(bucket_mb))
    _, x, y, loss, updates = _mlp_step_graph()
    pairs = _normalize_updates(updates)
    graph = graphc.Graph.from_outputs([loss] + [new for _, new in pairs])
    graph.inputs, graph.outputs = [x, y], [loss]
    planned = run_pipeline(graph, updates=pairs)
    return planned, lower_program(planned, Options()).source


def test_gradients_are_written_into_one_bucket_and_reduced_in_place(monkeypatch):
    planned, source = _planned(monkeypatch, 1)
    plan = planned.memory
    assert [(c.members, c.reduce) for c in plan.collectives] == [(4, "mean")]
    assert not any(s.node is None or s.node.op.name == "all_reduce" for s in plan.steps), \
        plan.summary()  # no copy into a flat buffer, no all_reduce step
    bucket = plan.collectives[0].root
    for n in planned.nodes:  # every reduced gradient lives in the bucket, side by side
        if n.op.name == "all_reduce":
            assert plan.layouts[n.inputs[0]].root is bucket
            assert plan.layouts[n.outputs[0]].root is bucket
    assert source.count("ar_start(") == 1 and source.count("ar_finish(") == 1
    assert source.index("ar_start(") < source.index("ar_finish(")


def test_small_buckets_start_while_backward_runs(monkeypatch):
    _, source = _planned(monkeypatch, 1e-5)  # one gradient a bucket
    program = source[source.index("def program"):]
    assert program.count("ar_start(") == 4
    # the last layer's gradients are reduced while the first layer's backward runs (its
    # matmul: a blas call), and the waits come after every start, before the updates
    first_start = program.index("ar_start(")
    assert "blas(" in program[first_start:program.rindex("ar_start(")]
    assert program.index("ar_finish(") > program.rindex("ar_start(")
    assert "ar_progress(" in program


def test_one_cpu_program_equals_the_step_without_collectives(two_equal_ranks):
    model, x, y, loss, updates = _mlp_step_graph()
    exe = graphc.compile(loss, [x, y], updates, target="cpu")
    assert exe.program is not None and "one program" in repr(exe)
    plain_model, px, py, plain_loss, _ = _mlp_step_graph()
    params = list(plain_model.parameters())
    grads = graphc.grad(plain_loss, params)
    plain = graphc.compile(plain_loss, [px, py], {p: p - 0.1 * g for p, g in zip(params, grads)},
                           target="reference")
    xv = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    yv = np.array([0, 1, 2, 1, 0], np.int64)
    for _ in range(2):
        np.testing.assert_allclose(exe(xv, yv).numpy(), plain(xv, yv).numpy(), rtol=1e-5)
    for p, q in zip(model.parameters(), plain_model.parameters()):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=1e-5,
                                   atol=1e-6)
    assert len(two_equal_ranks.started) == 2  # one bucket a step


def test_jit_distributed_needs_a_process_group():
    with pytest.raises(dist.DistributedError, match="init_process_group"):
        graphc.jit(lambda a: a * 2, distributed=True)(np.ones(2, np.float32))


# ---- graphc.compile(distributed=True): parameter gradients tagged by graphc.grad --------------
def _collective_ancestors(graph):
    """For each all_reduce node: whether another all_reduce is among its ancestors."""
    chained = []
    for node in graph.nodes:
        if node.op.name == "all_reduce":
            above = graphc.Graph.from_outputs([node.inputs[0]]).nodes
            chained.append(any(n.op.name == "all_reduce" for n in above))
    return chained


@pytest.mark.parametrize("target", ["reference", "cpu"])
def test_compile_distributed_averages_each_gradient_once(two_equal_ranks, monkeypatch, target):
    # a bias's gradient is the cotangent the weight's gradient is made from: the weight's
    # gradient must be computed from the local value, and each gradient averaged once
    monkeypatch.setattr(dist, "is_initialized", lambda: True)
    model, x, y, loss, _ = _mlp_step_graph()
    opt = graphc.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    exe = graphc.compile(loss, [x, y], updates=opt.updates(loss), target=target,
                         distributed=True)
    assert isinstance(exe, DistributedExecutable)
    assert _collective_ancestors(exe.graph) == [False] * 4
    plain_model, px, py, plain_loss, _ = _mlp_step_graph()
    plain_opt = graphc.optim.SGD(plain_model.parameters(), lr=0.1, momentum=0.9)
    plain = graphc.compile(plain_loss, [px, py], updates=plain_opt.updates(plain_loss),
                           target="reference")
    xv = np.random.default_rng(1).standard_normal((5, 4)).astype(np.float32)
    yv = np.array([0, 1, 2, 1, 0], np.int64)
    for _ in range(2):  # the fake averages equal ranks: the step of one process
        np.testing.assert_allclose(exe(xv, yv).numpy(), plain(xv, yv).numpy(), rtol=1e-5)
    for p, q in zip(model.parameters(), plain_model.parameters()):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=1e-5,
                                   atol=1e-6)


def test_compile_distributed_reads_the_average_after_backward_only(monkeypatch):
    # a value computed from a gradient after backward (clipping, a returned gradient) reads
    # the average; one that gradients are computed from keeps the local value
    monkeypatch.setattr(dist, "is_initialized", lambda: True)
    w = graphc.variable(np.ones(3, np.float32), name="w")
    b = graphc.variable(np.zeros(3, np.float32), name="b")
    x = graphc.placeholder((3,), name="x")
    h = x * w + b
    loss = (h * h).sum()
    gw, gb = graphc.grad(loss, [w, b])
    assert gw.grad_of == (w,) and gb.grad_of == (b,)
    norm = (gw * gw).sum()
    exe = graphc.compile([loss, gb, norm], [x], updates={w: w - 0.1 * gw, b: b - 0.1 * gb},
                         target="reference", distributed=True)
    reduced = [n for n in exe.graph.nodes if n.op.name == "all_reduce"]
    assert [n.attrs["reduce"] for n in reduced] == ["mean", "mean"]
    assert exe.outputs[0] is loss  # the local loss
    assert exe.outputs[1].node in reduced  # the returned gradient: averaged
    assert any(n in reduced for n in graphc.Graph.from_outputs([exe.outputs[2]]).nodes)
    assert _collective_ancestors(exe.graph) == [False, False]


def test_compile_distributed_errors(monkeypatch):
    x = graphc.placeholder((3,), name="x")
    w = graphc.variable(np.ones(3, np.float32), name="w")
    with pytest.raises(dist.DistributedError, match="init_process_group"):
        graphc.compile((x * w).sum(), [x], distributed=True)
    monkeypatch.setattr(dist, "is_initialized", lambda: True)
    with pytest.raises(UnsupportedError, match="no parameter gradients to average"):
        graphc.compile((x * w).sum(), [x], distributed=True, target="reference")
    with pytest.raises(ValueError, match="bucket_cap_mb applies to distributed=True"):
        graphc.compile((x * w).sum(), [x], bucket_cap_mb=5, target="reference")
    with pytest.raises(ValueError, match="positive number"):
        collective.all_reduce(x, reduce="mean", bucket_cap_mb=0)


def test_gradient_tags_are_saved_and_loaded(tmp_path, monkeypatch, two_equal_ranks):
    model, x, y, loss, _ = _mlp_step_graph()
    opt = graphc.optim.SGD(model.parameters(), lr=0.1)
    step = graphc.compile(loss, [x, y], updates=opt.updates(loss), target="reference")
    path = tmp_path / "step.json"
    graphc.save_graph(step, path)
    loaded = graphc.load_graph(path)
    tagged = {v.grad_of[0].name for n in loaded.nodes for v in n.outputs if v.grad_of}
    assert tagged == {"0.weight", "0.bias", "2.weight", "2.bias"}
    monkeypatch.setattr(dist, "is_initialized", lambda: True)
    again = graphc.compile(loaded, distributed=True, target="reference")
    assert isinstance(again, DistributedExecutable)
    assert graphc.viz.dump(again).count("= all_reduce(") == 4


# ---- bucket_cap_mb: PyTorch's rule, eager and compiled ------------------------------------------
def _planned_caps(monkeypatch, cap_mb):
    """The allreduce buckets of the MLP step whose all_reduce nodes carry bucket_cap_mb."""
    from graphc.compile import _normalize_updates
    from graphc.passes import run_pipeline
    monkeypatch.delenv("GRAPHC_BUCKET_MB", raising=False)
    graphc.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))
    x = graphc.placeholder((5, 4), name="x")
    y = graphc.placeholder((5,), graphc.int64, name="y")
    loss = nn.CrossEntropyLoss()(model(x), y)
    params = list(model.parameters())
    reduced = [collective.all_reduce(g, reduce="mean", bucket_cap_mb=cap_mb)
               for g in graphc.grad(loss, params)]
    pairs = _normalize_updates({p: p - 0.1 * g for p, g in zip(params, reduced)})
    graph = graphc.Graph.from_outputs([loss] + [new for _, new in pairs])
    graph.inputs, graph.outputs = [x, y], [loss]
    return [c.members for c in run_pipeline(graph, updates=pairs).memory.collectives]


def test_bucket_count_follows_bucket_cap_mb_in_compiled_steps(monkeypatch):
    # gradients (ready order): 2.bias 12 B, 2.weight 96 B, 0.bias 32 B, 0.weight 128 B
    assert _planned_caps(monkeypatch, None) == [4]       # 1 MiB first bucket
    assert _planned_caps(monkeypatch, 1e-5) == [1, 1, 1, 1]   # 10 B: one a gradient
    assert _planned_caps(monkeypatch, 150 / 2 ** 20) == [3, 1]  # 150 B
    monkeypatch.setenv("GRAPHC_BUCKET_MB", "1")  # the override wins over the nodes' cap
    from graphc.passes import memory
    assert memory.bucket_caps(1e-5) == (1 << 20, 1 << 20)


def test_eager_buckets_follow_bucket_cap_mb_with_pytorchs_first_bucket(monkeypatch):
    from graphc.nn.parallel.distributed import _buckets
    monkeypatch.delenv("GRAPHC_BUCKET_MB", raising=False)
    # 2 MiB, 4 MiB, 20 MiB, 10 MiB float32 parameters
    params = [graphc.zeros(n * (1 << 18)) for n in (2, 4, 20, 10)]
    sizes = lambda buckets: [[p._data.nbytes >> 20 for p in b.params] for b in buckets]  # noqa
    # default: reversed order, a 1 MiB first bucket (one gradient), then up to 25 MiB
    assert sizes(_buckets(params, None)) == [[10], [20, 4], [2]]
    assert sizes(_buckets(params, 5)) == [[10], [20], [4], [2]]
    assert sizes(_buckets(params, 100)) == [[10, 20, 4, 2]]
    monkeypatch.setenv("GRAPHC_BUCKET_MB", "12")
    assert sizes(_buckets(params, 100)) == [[10], [20], [4, 2]]
    with pytest.raises(ValueError, match="positive number"):
        _buckets(params, -1)


def test_eager_buckets_are_reduced_by_the_installed_bucket_allreduce(monkeypatch):
    """Eager DDP's flat buffers come from the bucket allreduce's shared arena when it has one
    (on one machine: graphc/distributed/shared_memory.py) and go through its start/finish
    with a mean, as compiled steps' buckets do; without a process group, launching raises
    DistributedError."""
    from graphc.distributed import process_group
    from graphc.nn.parallel.distributed import _Bucket
    grads = [np.arange(3, dtype=np.float32), np.ones(2, np.float32)]
    params = [graphc.zeros(3, requires_grad=True), graphc.zeros(2, requires_grad=True)]
    for p, g in zip(params, grads):
        p.grad = graphc.tensor(g)
    with pytest.raises(dist.DistributedError, match="init_process_group"):
        _Bucket(params).launch()

    class Pool:  # two ranks with equal gradients, the buffer in "shared memory"
        def __init__(self):
            self.arenas, self.calls = [], []

        def arena(self, size, dtype):
            self.arenas.append(np.full(size, 7, dtype))  # (what launch must overwrite)
            return self.arenas[-1]

        def start(self, buffer):
            self.calls.append("start")
            buffer *= 2  # the sum over two ranks
            return "handle"

        def finish(self, handle, buffer, mean):
            self.calls.append(("finish", handle, mean))
            if mean:
                buffer /= 2

    pool = Pool()
    monkeypatch.setattr(collective, "overlap", pool)
    monkeypatch.setattr(process_group._state, "comm", object())  # a process group
    bucket = _Bucket(params)
    assert bucket.flat is pool.arenas[0]
    bucket.launch()
    bucket.finish(as_view=False)
    assert pool.calls == ["start", ("finish", "handle", True)]
    for p, g in zip(params, grads):
        np.testing.assert_array_equal(p.grad.numpy(), g)  # the mean of two equal ranks
