"""Run by tests/distributed/test_mpi.py under `mpiexec -n 2`: the cases named on the command
line, one after another in one job (each launch starts N Pythons with graphc and Numba: seconds).

Each case checks its results itself (every rank computes the single-process reference
where there is one) and prints "PASS <case> rank <r>" on success. A case that fails aborts
the job (graphc.distributed's hook), so the cases after it print nothing either.
"""
from __future__ import annotations

import copy
import os
import sys
import time

import numpy as np

import graphc
import graphc.distributed as dist
import graphc.viz
from graphc import nn
from graphc.nn.parallel import DistributedDataParallel as DDP

TOL = dict(rtol=1e-5, atol=1e-6)


def mlp():
    return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))


def data(batch_per_rank, world):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((batch_per_rank * world, 4)).astype(np.float32)
    y = rng.integers(0, 3, batch_per_rank * world).astype(np.int64)
    return x, y


def shard(arr, rank, world):
    n = len(arr) // world
    return arr[rank * n:(rank + 1) * n]


def close(a, b, what):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), err_msg=what, **TOL)


def case_collectives(rank, world):
    t = graphc.tensor(np.arange(4, dtype=np.float32) + rank)
    dist.all_reduce(t)
    close(t.numpy(), sum(np.arange(4) + r for r in range(world)), "all_reduce sum")
    t = graphc.tensor(np.arange(4, dtype=np.float64) * (rank + 1))
    dist.all_reduce(t, op=dist.ReduceOp.AVG)
    close(t.numpy(), np.arange(4) * np.mean(np.arange(1, world + 1)), "all_reduce avg")
    t = graphc.tensor(np.array([rank, -rank], np.int64))
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    assert t.tolist() == [world - 1, 0], t
    work = dist.all_reduce(graphc.ones(3), async_op=True)
    assert work.wait()
    b = graphc.tensor(np.full((2, 2), rank, np.int32))
    dist.broadcast(b, src=world - 1)
    assert (b.numpy() == world - 1).all(), b
    outs = [graphc.zeros(2, 3) for _ in range(world)]
    dist.all_gather(outs, graphc.ones(2, 3) * rank)
    for r, o in enumerate(outs):
        close(o.numpy(), np.full((2, 3), r), "all_gather")
    out = graphc.zeros(2)
    dist.reduce_scatter(out, [graphc.ones(2) * (r + 10 * rank) for r in range(world)])
    close(out.numpy(), np.full(2, sum(rank + 10 * q for q in range(world))), "reduce_scatter")
    whole = graphc.zeros(world * 2)
    dist.all_gather_into_tensor(whole, graphc.ones(2) * rank)
    close(whole.numpy(), np.repeat(np.arange(world), 2), "all_gather_into_tensor")
    out = graphc.zeros(2)
    dist.reduce_scatter_tensor(out, graphc.arange(world * 2).to(graphc.float32),
                               op=dist.ReduceOp.AVG)
    close(out.numpy(), np.arange(world * 2, dtype=np.float32)[rank * 2:rank * 2 + 2],
          "reduce_scatter_tensor avg")
    dist.barrier()


def _train_eager(model, opt, xs, ys, steps):
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(steps):
        opt.zero_grad()
        loss = loss_fn(model(graphc.tensor(xs)), graphc.tensor(ys))
        loss.backward()
        opt.step()
    return loss


def case_ddp_eager(rank, world):
    graphc.manual_seed(100 + rank)  # different initial weights: DDP broadcasts rank 0's
    local = mlp()
    ddp = DDP(local, bucket_cap_mb=0.0001)  # tiny buckets: several allreduces per backward
    assert len(ddp._buckets) > 1
    launched_during_backward = []
    finish = ddp._finish_backward

    def finish_and_record():  # every bucket's allreduce started from a hook, during backward
        launched_during_backward.append(all(b.request is not None for b in ddp._buckets))
        finish()
    object.__setattr__(ddp, "_finish_backward", finish_and_record)
    reference = copy.deepcopy(local)
    x, y = data(3, world)
    opt = graphc.optim.SGD(ddp.parameters(), lr=0.1, momentum=0.9)
    ref_opt = graphc.optim.SGD(reference.parameters(), lr=0.1, momentum=0.9)
    _train_eager(ddp, opt, shard(x, rank, world), shard(y, rank, world), 3)
    _train_eager(reference, ref_opt, x, y, 3)
    for (name, p), q in zip(local.named_parameters(), reference.parameters()):
        close(p.detach().numpy(), q.detach().numpy(), f"eager DDP parameter {name}")
    assert launched_during_backward == [True] * 3, launched_during_backward
    # no_sync: the first micro-batch accumulates locally, the second synchronizes the sum
    opt.zero_grad()
    ref_opt.zero_grad()
    loss_fn = nn.CrossEntropyLoss()
    xr, yr = shard(x, rank, world), shard(y, rank, world)
    with ddp.no_sync():
        loss_fn(ddp(graphc.tensor(xr)), graphc.tensor(yr)).backward()
    loss_fn(ddp(graphc.tensor(xr)), graphc.tensor(yr)).backward()
    (loss_fn(reference(graphc.tensor(x)), graphc.tensor(y)) * 2).backward()
    for p, q in zip(local.parameters(), reference.parameters()):
        close(p.grad.numpy(), q.grad.numpy(), "no_sync accumulated gradient")


class _Branches(nn.Module):
    """Rank 0 uses both branches, the other ranks only the first; no rank uses the third."""

    def __init__(self, use_second):
        super().__init__()
        self.first, self.second = nn.Linear(4, 3), nn.Linear(4, 3)
        self.never = nn.Linear(4, 3)
        self.use_second = use_second

    def forward(self, x):
        out = self.first(x)
        return out + self.second(x) if self.use_second else out


def case_ddp_unused_parameters(rank, world):
    # a parameter no backward reaches on some ranks contributes zeros; its bucket still starts
    # in the same order on every rank (tiny buckets: one per parameter)
    graphc.manual_seed(4)
    local = _Branches(use_second=rank == 0)
    ddp = DDP(local, bucket_cap_mb=0.00001, find_unused_parameters=True)
    assert len(ddp._buckets) == 6
    x, y = data(3, world)
    xr, yr = shard(x, rank, world), shard(y, rank, world)
    loss_fn = nn.CrossEntropyLoss()
    loss_fn(ddp(graphc.tensor(xr)), graphc.tensor(yr)).backward()
    # one process: the mean over ranks of each rank's loss with its own branches
    reference = [copy.deepcopy(local) for _ in range(world)]
    total = 0
    for r, model in enumerate(reference):
        model.use_second = r == 0
        total = total + loss_fn(model(graphc.tensor(shard(x, r, world))),
                                graphc.tensor(shard(y, r, world))) / world
    total.backward()
    for name, p in local.named_parameters():
        if name.startswith("never"):
            assert p.grad is None, name  # no rank computed one: left None, as in PyTorch
            continue
        want = sum(dict(m.named_parameters())[name].grad.numpy()
                   for m in reference if dict(m.named_parameters())[name].grad is not None)
        close(p.grad.numpy(), want, f"unused-parameter gradient {name}")


def case_compiled_steps_that_differ_between_ranks_raise(rank, world):
    graphc.manual_seed(4)
    ddp = DDP(_Branches(use_second=rank == 0))  # rank 0 has more gradients to average
    opt = graphc.optim.SGD(ddp.parameters(), lr=0.1)
    loss_fn = nn.CrossEntropyLoss()

    @graphc.jit
    def step(xb, yb):
        opt.zero_grad()
        loss_fn(ddp(xb), yb).backward()
        opt.step()
    x, y = data(3, world)
    try:
        step(shard(x, rank, world), shard(y, rank, world))
    except dist.DistributedError as e:
        assert "different collectives" in str(e), e
    else:
        raise AssertionError("ranks with different compiled steps did not raise")


def case_ddp_bucket_view(rank, world):
    graphc.manual_seed(5)
    local = mlp()
    ddp = DDP(local, gradient_as_bucket_view=True)
    reference = copy.deepcopy(local)
    x, y = data(2, world)
    _train_eager(ddp, graphc.optim.Adam(ddp.parameters(), lr=0.01), shard(x, rank, world),
                 shard(y, rank, world), 2)
    _train_eager(reference, graphc.optim.Adam(reference.parameters(), lr=0.01), x, y, 2)
    for p, q in zip(local.parameters(), reference.parameters()):
        close(p.detach().numpy(), q.detach().numpy(), "DDP gradient_as_bucket_view")
    assert np.shares_memory(next(local.parameters()).grad.numpy(), ddp._buckets[-1].flat) or \
        any(np.shares_memory(p.grad.numpy(), b.flat) for p in local.parameters()
            for b in ddp._buckets)


def _compiled(rank, world, target):
    graphc.manual_seed(11)
    local = mlp()
    ddp = DDP(local)
    reference = copy.deepcopy(local)
    x, y = data(4, world)
    loss_fn = nn.CrossEntropyLoss()

    def make_step(model):
        opt = graphc.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)

        def step(xb, yb):
            opt.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
            return loss
        return step

    step = graphc.jit(make_step(ddp), target=target)
    ref_step = graphc.jit(make_step(reference), target="reference")
    xr, yr = shard(x, rank, world), shard(y, rank, world)
    for _ in range(3):
        loss = step(xr, yr).detach()
        ref_loss = ref_step(x, y)
        dist.all_reduce(loss, op=dist.ReduceOp.AVG)  # mean of the shards' means
        close(loss.numpy(), ref_loss.numpy(), f"compiled DDP ({target}) loss")
    for (name, p), q in zip(local.named_parameters(), reference.parameters()):
        close(p.detach().numpy(), q.detach().numpy(), f"compiled DDP ({target}) parameter {name}")
    exe = step.executable
    assert type(exe).__name__ == "DistributedExecutable", exe
    text = graphc.viz.dump(exe)
    assert text.count("= all_reduce(") == 4, text  # one per parameter; the compiler buckets them
    if target == "reference":
        assert "all_reduce" in graphc.viz.draw(exe).dot  # the picture shows the collective
        assert exe.gradient_part is not None and exe.program is None  # split at the nodes
    else:  # one program: the gradients written into one bucket, reduced while it runs
        assert exe.program is not None and exe.source.count("ar_start(") == 1, exe.source
        assert "1 allreduce buckets (4x" in exe.program._runner.graph.memory.summary()


def case_ddp_compiled_reference(rank, world):
    _compiled(rank, world, "reference")


def case_ddp_compiled_cpu(rank, world):
    _compiled(rank, world, "cpu")


def case_shared_memory_buckets(rank, world):
    """Compiled steps' buckets are summed in place in shared memory on one machine: the same
    sums as MPI_Allreduce, the same bits on every rank, flag rows reused safely with two
    buckets in flight, a bucket another rank never starts timing out; small buckets, and
    buckets outside the pool on any rank, through MPI;
    compiled steps take their bucket arena from the pool and train as the reference, and as
    with every bucket through MPI; eager DDP's buckets are in the pool too."""
    from graphc.distributed import shared_memory
    from graphc.distributed.collectives import InPlaceAllreduce
    from graphc.ops import collective
    state = dist.process_group._state
    comm, MPI, wait = state.comm, state.MPI, dist.process_group.wait
    shm = collective.overlap
    assert isinstance(shm, shared_memory.SharedMemoryAllreduce), shm
    rows = shared_memory.ROWS
    shared_memory.ROWS = 4  # (rows are reused every 4 buckets)
    try:
        few_rows = shared_memory.SharedMemoryAllreduce(comm, MPI, wait, 1 << 20)
    finally:
        shared_memory.ROWS = rows
    rng = np.random.default_rng(rank)
    for impl in (shm, few_rows):
        a, b = impl.arena(4096, np.float32), impl.arena(4096, np.float32)  # 16 KiB each
        c = impl.arena(2048, np.float64)
        assert not (a.any() or b.any() or c.any())  # arenas start as zeros
        apart = np.zeros(2048)  # not in the pool: through MPI, on every rank
        half = impl.arena(2048, np.float64) if rank == 0 else np.zeros(2048)  # (on one rank)
        for step in range(6):
            small = rng.standard_normal(5)
            for x in (a, b, c, apart, half):
                x[...] = rng.standard_normal(x.size)
            expected = [x.copy() for x in (a, b, c, small, apart, half)]
            for x in expected:
                comm.Allreduce(MPI.IN_PLACE, x)
            expected[2] /= world
            ha, hb = impl.start(a), impl.start(b)  # two buckets in flight
            hs = impl.start(small)
            impl.progress(ha)
            impl.progress(hs)
            impl.finish(ha, a, False)
            hc = impl.start(c)
            impl.finish(hb, b, False)
            impl.finish(hc, c, True)
            impl.finish(hs, small, False)
            for x in (apart, half):
                impl.finish(impl.start(x), x, False)
            for got, want in zip((a, b, c, small, apart, half), expected):
                close(got, want, f"shared-memory allreduce, step {step}")
                if world == 2:  # a + b in either order: MPI's bits
                    np.testing.assert_array_equal(got, want)
            for other in comm.allgather(np.concatenate([a, b])):
                np.testing.assert_array_equal(other, np.concatenate([a, b]))  # same bits
    assert few_rows.uses == 6 * 5 and few_rows.in_flight == 0, (few_rows.uses,
                                                                 few_rows.in_flight)
    assert few_rows.arena(1 << 20, np.float32) is None  # over its pool: ordinary memory
    few_rows.close()
    # a rank that never starts the bucket: the others time out with the process group's error
    stuck = shared_memory.SharedMemoryAllreduce(
        comm, MPI, lambda request, what: wait(request, what, timeout=0.5), 1 << 20)
    x = stuck.arena(8192, np.float32)
    if rank == 0:
        try:
            stuck.finish(stuck.start(x), x, False)
        except dist.DistributedTimeoutError as e:
            assert "all_reduce (a gradient bucket)" in str(e) and "0.5 s" in str(e), e
        else:
            raise AssertionError("a bucket nobody else started did not time out")
    comm.Barrier()
    stuck.close()
    min_bytes, used = shared_memory.MIN_BYTES, shm.used
    shared_memory.MIN_BYTES = 0  # the test model's bucket is 384 bytes
    try:
        uses = shm.uses
        _compiled(rank, world, "cpu")
        assert shm.used > used and shm.uses == uses + 3, (shm.used, shm.uses)
        # eager DDP's buckets too: in the pool, reduced in place
        uses, used = shm.uses, shm.used
        case_ddp_eager(rank, world)
        case_ddp_unused_parameters(rank, world)
        assert shm.used > used and shm.uses > uses + 3, (shm.used, shm.uses)
    finally:
        shared_memory.MIN_BYTES = min_bytes
    collective.overlap = InPlaceAllreduce(comm, MPI)
    try:
        _compiled(rank, world, "cpu")  # MPI_Iallreduce buckets (as on several machines)
    finally:
        collective.overlap = shm


def _jit_distributed(rank, world, target, wrap=False, micro_batches=1):
    """graphc.jit(step, distributed=True) on a plain model (every rank seeded alike): 2 ranks
    x B train as 1 process x 2B. wrap: the model is also DDP-wrapped (averaged once, not
    twice); micro_batches: backward() called that often in one step (gradients accumulate,
    each backward averages, as DDP does)."""
    graphc.manual_seed(12)
    local = mlp()
    reference = copy.deepcopy(local)
    x, y = data(4, world)
    loss_fn = nn.CrossEntropyLoss()

    def make_step(model):
        opt = graphc.optim.Adam(model.parameters(), lr=0.05)

        def step(xb, yb):
            opt.zero_grad()
            half = len(xb) // micro_batches
            for k in range(micro_batches):
                loss = loss_fn(model(xb[k * half:(k + 1) * half]), yb[k * half:(k + 1) * half])
                loss.backward()
            opt.step()
            return loss
        return step

    def interleaved(a):  # micro-batch k of every rank's shard, in the reference's batch k
        shards = [np.split(shard(a, r, world), micro_batches) for r in range(world)]
        return np.concatenate([shards[r][k] for k in range(micro_batches) for r in range(world)])
    step = graphc.jit(make_step(DDP(local) if wrap else local), target=target, distributed=True)
    ref_step = graphc.jit(make_step(reference), target="reference")
    for _ in range(3):
        step(shard(x, rank, world), shard(y, rank, world))
        ref_step(interleaved(x), interleaved(y))
    for (name, p), q in zip(local.named_parameters(), reference.parameters()):
        close(p.detach().numpy(), q.detach().numpy(), f"jit(distributed=True, {target}) {name}")
    exe = step.executable
    assert graphc.viz.dump(exe).count("= all_reduce(") == 4 * micro_batches


def case_jit_distributed(rank, world):
    _jit_distributed(rank, world, "reference")
    _jit_distributed(rank, world, "reference", wrap=True)
    _jit_distributed(rank, world, "cpu")
    _jit_distributed(rank, world, "cpu", micro_batches=2)  # chained: one program only


def _static_step(model, batch_dims, opt_cls=graphc.optim.Adam, **compile_args):
    """graphc.compile of a define-and-run training step: placeholders, the loss, the
    optimizer's updates(loss)."""
    x = graphc.placeholder((batch_dims, 4), name="x")
    y = graphc.placeholder((batch_dims,), graphc.int64, name="y")
    loss = nn.CrossEntropyLoss()(model(x), y)
    opt = opt_cls(model.parameters(), lr=0.05)
    return graphc.compile(loss, [x, y], updates=opt.updates(loss), **compile_args)


def case_compile_distributed(rank, world):
    # graphc.compile(..., distributed=True) and a DDP model in a static graph: 2 ranks x B
    # train as 1 process x 2B, on both targets; the batch dim symbolic (one executable)
    x, y = data(4, world)
    xr, yr = shard(x, rank, world), shard(y, rank, world)
    for target in ("reference", "cpu"):
        for wrap in (False, True):
            graphc.manual_seed(21)
            local = mlp()
            reference = copy.deepcopy(local)
            if wrap:  # the DDP model averages its gradients itself
                step = _static_step(DDP(local), None, target=target)
            else:
                step = _static_step(local, None, target=target, distributed=True)
            ref_step = _static_step(reference, None, target="reference")
            for _ in range(3):
                step(xr, yr)
                ref_step(x, y)
            what = f"compile({'DDP' if wrap else 'distributed=True'}, {target})"
            for (name, p), q in zip(local.named_parameters(), reference.parameters()):
                close(p.detach().numpy(), q.detach().numpy(), f"{what} {name}")
            assert type(step).__name__ == "DistributedExecutable", (what, step)
            assert graphc.viz.dump(step).count("= all_reduce(") == 4, what
            if target == "cpu":
                assert step.program is not None and step.source.count("ar_start(") == 1


def _per_rank_mean(model, opt, shards):
    """One eager step of one process on the mean over ranks of each rank's mean loss (what
    data-parallel training computes when the ranks' batches differ in size)."""
    loss_fn = nn.CrossEntropyLoss()
    opt.zero_grad()
    total = sum(loss_fn(model(graphc.tensor(xs)), graphc.tensor(ys)) for xs, ys in shards)
    (total / len(shards)).backward()
    opt.step()


def case_uneven_batches(rank, world):
    # the last batch smaller on one rank only: the buckets are over parameters, so every
    # rank communicates alike and trains as one process on the mean of the ranks' losses
    rng = np.random.default_rng(3)
    batches = []  # per step: [(x, y) of each rank]
    for step_sizes in ([3] * world, [3] * (world - 1) + [2], [3] * (world - 1) + [1]):
        batches.append([(rng.standard_normal((n, 4)).astype(np.float32),
                         rng.integers(0, 3, n).astype(np.int64)) for n in step_sizes])
    loss_fn = nn.CrossEntropyLoss()
    for mode in ("eager", "jit reference", "jit cpu", "compile cpu"):
        graphc.manual_seed(31)
        local = mlp()
        reference = copy.deepcopy(local)
        ref_opt = graphc.optim.SGD(reference.parameters(), lr=0.1, momentum=0.9)
        if mode == "eager":
            ddp = DDP(local)
            opt = graphc.optim.SGD(ddp.parameters(), lr=0.1, momentum=0.9)

            def run(xb, yb):
                opt.zero_grad()
                loss_fn(ddp(graphc.tensor(xb)), graphc.tensor(yb)).backward()
                opt.step()
        elif mode.startswith("jit"):
            opt = graphc.optim.SGD(local.parameters(), lr=0.1, momentum=0.9)

            def step(xb, yb):
                opt.zero_grad()
                loss_fn(local(xb), yb).backward()
                opt.step()
            run = graphc.jit(step, target=mode.split()[1], distributed=True)
        else:
            run = _static_step(local, None, graphc.optim.SGD, target="cpu", distributed=True)
            ref_opt = graphc.optim.SGD(reference.parameters(), lr=0.05)
        for shards in batches:
            run(*shards[rank])
            _per_rank_mean(reference, ref_opt, shards)
        for (name, p), q in zip(local.named_parameters(), reference.parameters()):
            close(p.detach().numpy(), q.detach().numpy(), f"uneven batches ({mode}) {name}")


def case_bucket_cap_mb_in_compiled_steps(rank, world):
    graphc.manual_seed(8)
    for cap, buckets in ((None, 1), (0.00001, 4)):  # default: one; tiny: one per gradient
        local = mlp()
        opt = graphc.optim.SGD(local.parameters(), lr=0.1)
        loss_fn = nn.CrossEntropyLoss()

        def step(xb, yb):
            opt.zero_grad()
            loss_fn(local(xb), yb).backward()
            opt.step()
        jitted = graphc.jit(step, target="cpu", distributed=True, bucket_cap_mb=cap)
        x, y = data(2, 1)
        jitted(x, y)
        assert jitted.executable.source.count("ar_start(") == buckets, (cap, buckets)
        compiled = _static_step(mlp(), 2, target="cpu", distributed=True, bucket_cap_mb=cap)
        compiled(x, y)
        assert compiled.source.count("ar_start(") == buckets, (cap, buckets)
        ddp = DDP(mlp(), bucket_cap_mb=cap)  # the DDP model's argument, in a static graph
        assert len(ddp._buckets) == buckets  # (and eagerly)
        compiled = _static_step(ddp, 2, target="cpu")
        compiled(x, y)
        assert compiled.source.count("ar_start(") == buckets, (cap, buckets)


def case_new_communication_on_one_rank_fails_clearly(rank, world):
    # a reduced value whose size follows the batch: after a step all ranks agreed on, one
    # rank gets another batch size; its new step communicates differently from the other
    # ranks' (which run the step compiled before) -> a clear error, no hang, no mixed data
    xp = graphc.placeholder((None, 3), name="x")
    exe = graphc.compile(dist.all_reduce(xp * 2.0, op=dist.ReduceOp.AVG) + 1.0, [xp],
                         target="reference")
    exe(np.ones((2, 3), np.float32))
    if rank == world - 1:
        exe(np.ones((3, 3), np.float32))  # times out checking: the others never check
    else:
        time.sleep(1.5)  # (so that the checking rank's deadline comes first)
        exe(np.ones((2, 3), np.float32))
    time.sleep(60)


def case_ddp_batchnorm_compiled_equals_eager(rank, world):
    # BatchNorm's statistics: rank 0's broadcast at each forward (PyTorch's default), then
    # each rank updates them from its own batch; compiled and eager must agree exactly
    def model():
        graphc.manual_seed(3)
        net = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.Tanh(), nn.Linear(6, 3))
        with graphc.no_grad():
            net[1].running_mean.copy_(graphc.ones(6) * rank)  # differ until broadcast
        return net
    xr, yr = data(4, 1)  # the same batch on every rank
    loss_fn = nn.CrossEntropyLoss()
    results = []
    # cpu: one program with the broadcasts first; static: graphc.compile of a graph built
    # with the DDP model on placeholders
    for compiled in (False, "reference", "cpu", "static"):
        local = model()
        ddp = DDP(local)
        opt = graphc.optim.SGD(ddp.parameters(), lr=0.1, momentum=0.9)

        def step(xb, yb):
            opt.zero_grad()
            loss = loss_fn(ddp(xb), yb)
            loss.backward()
            opt.step()
            return loss
        if compiled == "static":
            xp = graphc.placeholder(xr.shape, name="x")
            yp = graphc.placeholder(yr.shape, graphc.int64, name="y")
            loss = loss_fn(ddp(xp), yp)
            run = graphc.compile(loss, [xp, yp], target="reference", updates={
                **opt.updates(loss), **ddp.buffer_updates()})
        else:
            run = graphc.jit(step, target=compiled) if compiled else (
                lambda a, b: step(graphc.tensor(a), graphc.tensor(b)))
        with graphc.no_grad():  # rank-local statistics again, after DDP's initial broadcast
            local[1].running_mean.copy_(graphc.ones(6) * (rank + 5))
        for _ in range(3):
            run(xr, yr)
        results.append({k: v.detach().numpy().copy() for k, v in local.state_dict().items()})
    for k in results[0]:
        close(results[1][k], results[0][k], f"BatchNorm DDP compiled vs eager: {k}")
        close(results[2][k], results[0][k], f"BatchNorm DDP compiled (cpu) vs eager: {k}")
        close(results[3][k], results[0][k], f"BatchNorm DDP static graph vs eager: {k}")
    # the same data on every rank: only the broadcast makes the statistics agree across ranks
    mean = graphc.tensor(results[1]["1.running_mean"])
    parts = [graphc.zeros(6) for _ in range(world)]
    dist.all_gather(parts, mean)
    for p in parts:
        close(p.numpy(), parts[0].numpy(), "running_mean after the broadcasts")


def case_sync_batchnorm(rank, world):
    # global-batch statistics: 2 ranks x B train exactly as 1 process x 2B with BatchNorm
    def model():
        graphc.manual_seed(9)
        return nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.Tanh(), nn.Linear(6, 3))
    local = nn.SyncBatchNorm.convert_sync_batchnorm(model())
    assert isinstance(local[1], nn.SyncBatchNorm)
    reference = model()
    ddp = DDP(local)
    x, y = data(5, world)
    x = x * 3 + 2  # statistics far from (0, 1)
    opt = graphc.optim.SGD(ddp.parameters(), lr=0.1, momentum=0.9)
    ref_opt = graphc.optim.SGD(reference.parameters(), lr=0.1, momentum=0.9)
    _train_eager(ddp, opt, shard(x, rank, world), shard(y, rank, world), 3)
    _train_eager(reference, ref_opt, x, y, 3)
    want = reference.state_dict()
    for k, v in local.state_dict().items():
        close(v.detach().numpy(), want[k].detach().numpy(), f"SyncBatchNorm DDP: {k}")


def case_ddp_no_sync_in_a_static_graph_raises(rank, world):
    ddp = DDP(mlp())
    try:
        with ddp.no_sync():
            ddp(graphc.placeholder((2, 4), name="x"))
    except graphc.UnsupportedError as e:
        assert "ddp.module" in str(e), e
    else:
        raise AssertionError("DDP.no_sync() on a placeholder did not raise")


def case_symbolic_all_reduce(rank, world):
    xp = graphc.placeholder((3,), name="x")
    reduced = dist.all_reduce(xp * 2.0, op=dist.ReduceOp.AVG)
    exe = graphc.compile(reduced + 1.0, [xp])
    out = exe(np.full(3, rank, np.float32))
    close(out.numpy(), np.full(3, 2.0 * np.mean(np.arange(world)) + 1.0), "symbolic all_reduce")


def case_sampler(rank, world):
    n = 11
    sampler = graphc.utils.data.DistributedSampler(range(n), shuffle=True, seed=3)
    sampler.set_epoch(2)
    mine = graphc.tensor(np.array(list(sampler), np.int64))
    parts = [graphc.zeros(len(sampler), dtype=graphc.int64) for _ in range(world)]
    dist.all_gather(parts, mine)
    seen = np.concatenate([p.numpy() for p in parts])
    assert len(seen) == len(sampler) * world and set(seen.tolist()) == set(range(n)), seen


def case_checkpoint(rank, world):
    graphc.manual_seed(rank)
    ddp = DDP(mlp())
    directory = os.environ["CHECKPOINT_DIR"]
    path = os.path.join(directory, "ckpt.graphc")
    before = set(os.listdir(directory))
    dist.save(ddp.module.state_dict(), path)
    state = graphc.load(path)  # every rank may read it once save returned
    for k, v in ddp.module.state_dict().items():
        close(state[k].detach().numpy(), v.detach().numpy(), f"checkpoint {k}")
    assert set(os.listdir(directory)) - before <= {"ckpt.graphc"}, os.listdir(directory)


def case_raise(rank, world):
    if rank == 1:
        raise ValueError("rank 1 fails on purpose")
    dist.all_reduce(graphc.ones(2))  # would wait forever without the abort
    time.sleep(60)


def case_die(rank, world):
    if rank == 1:
        os._exit(3)  # dies without a word: no exception, no MPI_Finalize
    dist.all_reduce(graphc.ones(2))
    time.sleep(60)


def case_hang(rank, world):
    if rank == 1:
        time.sleep(60)  # never reaches the collective (the launcher is killed by the test)
    dist.all_reduce(graphc.ones(2))


def main():
    dist.init_process_group("mpi", timeout=float(os.environ.get("WORKER_TIMEOUT", 60)))
    rank, world = dist.get_rank(), dist.get_world_size()
    for case in sys.argv[1:]:
        globals()[f"case_{case}"](rank, world)
        dist.barrier()
        print(f"PASS {case} rank {rank}", flush=True)


if __name__ == "__main__":
    main()
