"""W10 data-parallel: the W3 CNN and W4 MLP training steps on 1 and 2 ranks, one thread each.

    python -m benchmarks.data_parallel [--quick] [--ranks 1,2] [--json out.json]
    python -m benchmarks.data_parallel --overlap-ab [--ranks 2]   # paired: overlap on/off
    python -m benchmarks.data_parallel --buckets-ab [--ranks 2]   # paired: shm / MPI buckets

Each world size is one `mpiexec -n N` job running this file with --worker; every rank
trains on its own batch of the workload's size (weak scaling: N ranks process N batches a
step). Systems: graphc eager with DistributedDataParallel, graphc compiled (graphc.jit of
the same step on the DDP model: allreduce between the compiled gradient and update parts)
and PyTorch DDP on the gloo backend when torch is installed; also the step compiled
without DDP: on 1 rank it shows what DDP costs, on N ranks it is N independent processes
that never communicate, so its scaling efficiency is the most this machine allows any DDP
(cores, memory bandwidth and caches shared; on a 2-core machine the 1-rank run has an idle
core that the 2-rank run lacks). Every rank runs the same
fixed number of steps (collectives must match); a step's time is the slowest rank's.

Reported: samples/s = N * batch / step time, and scaling efficiency = samples/s on N ranks /
(N * samples/s on 1 rank). `--overlap-ab` instead compares, in one job, the compiled DDP
step as one program whose bucket allreduces overlap backward (the default) against the
step as it was before that (gradients concatenated into one flat buffer, one allreduce, the
program split there: GRAPHC_DDP_OVERLAP=0), alternating their timed samples
(paired, so that a change of load hits both) and reporting wall and CPU time per step.
`--buckets-ab` compares, the same way, the compiled DDP step whose gradient buckets are
reduced through shared memory (the default on one machine: graphc/distributed/shared_memory.py)
against the same program reducing them with MPI_Iallreduce, and the step compiled without
DDP (the ceiling); it also times rank 0 alone ("one rank", the others asleep) in every
round, and reports each variant's scaling efficiency against it round by round: the two
separate jobs of the main table run minutes apart, and on a shared machine their baseline
can drift by 10-20%.
The job also measures MPI_Allreduce bandwidth (float32 buffers
from 4 KiB to 64 MiB) for docs/distributed.md. `w10_data_parallel(settings)` returns the
rows as Measurements for benchmarks/run.py.
"""
from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EAGER, COMPILED, TORCH_DDP = "graphc eager DDP", "graphc compiled DDP", "torch DDP (gloo)"
# no collectives: on 1 rank what DDP costs, on N ranks the machine's ceiling for scaling
PLAIN_JIT = "graphc compiled, no DDP"


# ---- inside the MPI job ------------------------------------------------------------------------
def _timed_steps(step, steps, repeat, comm, MPI, sample_s=0.1):
    """Median over `repeat` samples of the time per step (this rank), after 2 warm-up steps.
    A sample runs at least `steps` steps and lasts about `sample_s` (a 2 ms step timed 5 at a
    time is mostly noise); every rank runs the same count, the collectives must match."""
    start = time.perf_counter()
    for _ in range(2):
        step()
    warm = (time.perf_counter() - start) / 2
    steps = comm.allreduce(max(steps, int(sample_s / max(warm, 1e-6))), op=MPI.MAX)
    samples = []
    for _ in range(repeat):
        comm.Barrier()
        start = time.perf_counter()
        for _ in range(steps):
            step()
        samples.append((time.perf_counter() - start) / steps)
    return statistics.median(samples)


def _workloads(quick):
    from . import models as M
    cnn = M.CNNSpec(image=12 if quick else 28)
    mlp_sizes, mlp_batch = ((32, 16, 16, 10), 8) if quick else ((784, 256, 256, 10), 128)
    mlp = M.MLPSpec(mlp_sizes, "relu", "cross_entropy", "adam", 1e-3)
    return [("W3 CNN", "cnn", cnn, M.cnn_weights(cnn, seed=3), 4 if quick else 64),
            ("W4 MLP", "mlp", mlp, M.mlp_weights(mlp, seed=4), mlp_batch)]


def _data(kind, spec, batch, rank):
    rng = np.random.default_rng(100 + rank)
    if kind == "cnn":
        x = rng.random((batch, 1, spec.image, spec.image), np.float32)
        return x, rng.integers(0, spec.classes, batch).astype(np.int64)
    x = rng.standard_normal((batch, spec.sizes[0])).astype(np.float32)
    return x, rng.integers(0, spec.sizes[-1], batch).astype(np.int64)


def _graphc_step(kind, spec, weights, x, y, compiled, wrap=True):
    import graphc as gc
    from graphc.nn.parallel import DistributedDataParallel
    from . import models as M
    model = M._graphc_mlp(spec, weights) if kind == "mlp" else M._graphc_cnn(spec, weights)
    ddp = DistributedDataParallel(model) if wrap else model
    lossf = M._graphc_loss(spec.loss if kind == "mlp" else "cross_entropy")
    opt = M._graphc_opt(spec.optimizer if kind == "mlp" else "adadelta", ddp.parameters(),
                        spec.lr)

    def step(xb, yb):
        opt.zero_grad()
        loss = lossf(ddp(xb), yb)
        loss.backward()
        opt.step()
        return loss
    if compiled:
        from .harness import graphc_target
        jitted = gc.jit(step, target=graphc_target())
        return lambda: jitted(x, y)
    xt, yt = gc.from_numpy(x), gc.from_numpy(y)
    return lambda: step(xt, yt)


def _torch_step(torch, kind, spec, weights, x, y):
    from . import models as M
    model, _ = M._torch_step(torch, kind, spec, weights)
    ddp = torch.nn.parallel.DistributedDataParallel(model)
    name = spec.optimizer if kind == "mlp" else "adadelta"
    opt = {"adam": torch.optim.Adam, "adadelta": torch.optim.Adadelta}[name](ddp.parameters(),
                                                                          lr=spec.lr)
    lossf = torch.nn.functional.cross_entropy
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = lossf(ddp(xt), yt)
        loss.backward()
        opt.step()
        return loss
    return step


@contextlib.contextmanager
def _flat_gradients(active):
    """The compiled DDP step as it was before the overlap (the "split" variant): gradients
    concatenated per dtype into one flat value, one all_reduce, the program split there."""
    from graphc import functional as F
    from graphc.ir.graph import Value
    from graphc.nn.parallel import DistributedDataParallel as DDP
    from graphc.ops.collective import all_reduce

    def concatenated(self):
        by_dtype = {}
        for p in self._params:
            if isinstance(p.grad, Value):
                by_dtype.setdefault(p.grad.dtype, []).append(p)
        for params in by_dtype.values():
            flats = [p.grad.reshape(-1) for p in params]
            averaged = all_reduce(flats[0] if len(flats) == 1 else F.cat(flats), reduce="mean")
            offset = 0
            for p in params:
                n = int(np.prod(p.shape, dtype=np.int64))
                p.grad = averaged[offset:offset + n].reshape(p.shape)
                offset += n
    original = DDP._average_symbolic_grads
    if active:
        DDP._average_symbolic_grads = concatenated
    try:
        yield
    finally:
        DDP._average_symbolic_grads = original


def _overlap_ab(comm, MPI, quick, rounds):
    """Paired samples of the compiled DDP step with and without overlap (see the docstring):
    per variant the median over rounds of the slowest rank's wall and CPU time per step, and
    the median of the per-round ratios (overlap / split)."""
    steps = 3 if quick else 10
    rows = []
    for name, kind, spec, weights, batch in _workloads(quick):
        x, y = _data(kind, spec, batch, comm.Get_rank())
        variants = {}
        for label, flag in (("overlap", "1"), ("split", "0")):
            os.environ["GRAPHC_DDP_OVERLAP"] = flag  # read when the step is compiled
            with _flat_gradients(label == "split"):  # traced (and compiled) at the first call
                step = _graphc_step(kind, spec, weights, x, y, True)
                for _ in range(2):
                    step()
            variants[label] = step
        os.environ.pop("GRAPHC_DDP_OVERLAP")
        samples = _paired_samples(comm, MPI, variants, rounds, steps)
        ratios = [a[0] / b[0] for a, b in zip(samples["overlap"], samples["split"])]
        rows.append({"workload": name, "batch_per_rank": batch, "rounds": rounds,
                     "ranks": comm.Get_size(),
                     **{f"{label}_{what}_s": statistics.median(s[k] for s in samples[label])
                        for label in samples for k, what in ((0, "wall"), (1, "cpu"))},
                     "wall_ratio_median": statistics.median(ratios),
                     "wall_ratio_min": min(ratios), "wall_ratio_max": max(ratios)})
    return rows


def _paired_samples(comm, MPI, variants, rounds, steps):
    """{label: [(wall, CPU) seconds a step of the slowest rank, one per round]}: each round
    runs every variant in turn, `steps` steps each, after a barrier."""
    samples = {label: [] for label in variants}
    for _ in range(rounds):
        for label, step in variants.items():
            comm.Barrier()
            wall, cpu = time.perf_counter(), time.process_time()
            for _ in range(steps):
                step()
            wall = (time.perf_counter() - wall) / steps
            cpu = (time.process_time() - cpu) / steps
            samples[label].append(_quiet_max(comm, MPI, (wall, cpu)))
    return samples


def _quiet_max(comm, MPI, values):
    """The largest of every rank's values, waiting asleep: a rank done early (the "one rank"
    variant's idle ones) must leave its core alone while the others still run."""
    values = np.asarray(values, np.float64)
    request = comm.Iallreduce(MPI.IN_PLACE, values, op=MPI.MAX)
    while not request.Test():
        time.sleep(0.0005)
    return tuple(values)


def _buckets_ab(comm, MPI, quick, rounds):
    """Paired samples of one compiled DDP step with its buckets reduced through shared
    memory ("shm") or MPI_Iallreduce ("mpi"), of the step without DDP ("no DDP"), and of
    rank 0's step without DDP alone ("one rank"): per variant the median over rounds of the
    slowest rank's wall and CPU time per step, the median of the per-round wall ratios to
    "mpi", and of the per-round scaling efficiencies (one rank's time / the variant's)."""
    from graphc.distributed.collectives import InPlaceAllreduce
    from graphc.distributed.shared_memory import SharedMemoryAllreduce
    from graphc.ops import collective
    steps = 3 if quick else 20
    default = collective.overlap
    alone = comm.Get_rank() == 0
    buckets = {"mpi": InPlaceAllreduce(comm, MPI)}
    if isinstance(default, SharedMemoryAllreduce):  # (not with GRAPHC_SHM_ALLREDUCE=0)
        buckets["shm"] = default
    rows = []
    for name, kind, spec, weights, batch in _workloads(quick):
        x, y = _data(kind, spec, batch, comm.Get_rank())
        ddp = _graphc_step(kind, spec, weights, x, y, True)
        ddp()  # compiled with the default buckets: its arena in shared memory where they are
        plain = _graphc_step(kind, spec, weights, x, y, True, False)
        # "one rank": rank 0's step without DDP while the others sleep, the 1-rank baseline
        # of the scaling efficiency, measured in the same minutes as the 2-rank steps
        variants = {"no DDP": plain, "one rank": plain if alone else (lambda: None)}
        for label, impl in buckets.items():
            variants[label] = functools.partial(_with_buckets, collective, impl, ddp)
        for step in variants.values():
            for _ in range(2):
                step()
        samples = _paired_samples(comm, MPI, variants, rounds, steps)
        row = {"workload": name, "batch_per_rank": batch, "rounds": rounds,
               "ranks": comm.Get_size()}
        for label, s in samples.items():
            ratios = [a[0] / b[0] for a, b in zip(s, samples["mpi"])]
            # scaling efficiency: N ranks' samples/s over N times one rank's, round by round
            efficiency = [a[0] / b[0] for a, b in zip(samples["one rank"], s)]
            row[label] = {"wall_s": statistics.median(w for w, _ in s),
                          "cpu_s": statistics.median(c for _, c in s),
                          "wall_ratio_median": statistics.median(ratios),
                          "wall_ratio_min": min(ratios), "wall_ratio_max": max(ratios),
                          "efficiency_median": statistics.median(efficiency),
                          "efficiency_min": min(efficiency), "efficiency_max": max(efficiency)}
        rows.append(row)
    collective.overlap = default
    return rows


def _with_buckets(collective, impl, step):
    collective.overlap = impl  # what the program's ar_start / ar_finish call
    return step()


def _allreduce_bandwidth(comm, MPI, quick):
    rows = []
    sizes = [1 << k for k in range(12, 22 if quick else 27, 2)]  # bytes: 4 KiB .. 64 MiB
    n = comm.Get_size()
    for nbytes in sizes:
        buf = np.ones(nbytes // 4, np.float32)
        reps = max(3, min(200, (64 << 20) // nbytes))
        comm.Allreduce(MPI.IN_PLACE, buf)
        comm.Barrier()
        start = time.perf_counter()
        for _ in range(reps):
            comm.Allreduce(MPI.IN_PLACE, buf)
        seconds = comm.allreduce((time.perf_counter() - start) / reps, op=MPI.MAX)
        rows.append({"bytes": nbytes, "seconds": seconds, "algbw_GBps": nbytes / seconds / 1e9,
                     "busbw_GBps": nbytes / seconds / 1e9 * 2 * (n - 1) / n})
    return rows


def worker(quick, out_path, systems, overlap_rounds=0, buckets_rounds=0):
    sys.path.insert(0, ROOT)
    from .harness import limit_threads, optional
    limit_threads(1)
    import graphc.distributed as dist
    dist.init_process_group("mpi", timeout=600)
    comm, MPI = dist.process_group._state.comm, dist.process_group._state.MPI
    rank, world = dist.get_rank(), dist.get_world_size()
    if overlap_rounds or buckets_rounds:
        key, rows = (("overlap_ab", _overlap_ab(comm, MPI, quick, overlap_rounds))
                     if overlap_rounds else
                     ("buckets_ab", _buckets_ab(comm, MPI, quick, buckets_rounds)))
        if rank == 0:
            with open(out_path, "w") as f:
                json.dump({key: rows, "load_average": os.getloadavg()}, f)
        return
    torch = optional("torch") if "torch" in systems else None
    steps, repeat = (3, 3) if quick else (5, 5)
    runs = []  # (workload, system, build): graphc's first, PyTorch's after all of them
    for name, kind, spec, weights, batch in _workloads(quick):
        x, y = _data(kind, spec, batch, rank)
        model = (kind, spec, weights, x, y)  # (bound now: the runs happen after this loop)
        builders = {EAGER: functools.partial(_graphc_step, *model, False),
                    COMPILED: functools.partial(_graphc_step, *model, True),
                    PLAIN_JIT: functools.partial(_graphc_step, *model, True, False)}
        runs += [(name, batch, system, build) for system, build in builders.items()
                 if system.split()[0] in systems]
        if torch is not None:
            runs.append((name, batch, TORCH_DDP, functools.partial(_torch_step, torch, *model)))
    runs.sort(key=lambda run: run[2] == TORCH_DDP)
    results = []
    for name, batch, system, build in runs:
        if system == TORCH_DDP and not torch.distributed.is_initialized():
            _start_gloo(torch, comm, rank, world)  # (its threads never share graphc's runs)
        step = build()
        seconds = _timed_steps(step, steps, repeat, comm, MPI, 0.02 if quick else 0.1)
        slowest = comm.allreduce(seconds, op=MPI.MAX)
        results.append({"workload": name, "system": system, "ranks": world,
                        "batch_per_rank": batch, "step_s": slowest,
                        "samples_per_s": world * batch / slowest})
    bandwidth = _allreduce_bandwidth(comm, MPI, quick) if world > 1 else []
    if rank == 0:
        with open(out_path, "w") as f:
            json.dump({"steps": results, "allreduce": bandwidth}, f)
    if torch is not None and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


def _start_gloo(torch, comm, rank, world):
    """PyTorch's process group, started after graphc's measurements, so that gloo's
    threads never share the cores with graphc's ranks."""
    torch.set_num_threads(1)
    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    port = comm.bcast(29500 + os.getpid() % 1000 if rank == 0 else None, root=0)
    torch.distributed.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}",
                                         rank=rank, world_size=world)


# ---- the driver -------------------------------------------------------------------------------
def _mpiexec():
    found = shutil.which("mpiexec")
    if found:
        return found
    path = os.path.join(sysconfig.get_path("scripts"), "mpiexec")
    return path if os.path.exists(path) else None


def run_jobs(ranks=(1, 2), quick=False, systems=("graphc", "torch"), overlap_rounds=0,
             buckets_rounds=0):
    """{ranks: worker results} for each world size, each one mpiexec job."""
    mpiexec = _mpiexec()
    if mpiexec is None:
        raise RuntimeError("W10 needs mpiexec: pip install 'graphc[distributed]'")
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""),
               OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
               NUMBA_NUM_THREADS="1")
    out = {}
    for n in ranks:
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "w10.json")
            cmd = [mpiexec, "-n", str(n), sys.executable, "-m", "benchmarks.data_parallel",
                   "--worker", "--json", path, "--systems", ",".join(systems)]
            if quick:
                cmd.append("--quick")
            if overlap_rounds:
                cmd += ["--overlap-ab", "--rounds", str(overlap_rounds)]
            if buckets_rounds:
                cmd += ["--buckets-ab", "--rounds", str(buckets_rounds)]
            subprocess.run(cmd, cwd=ROOT, env=env, check=True, timeout=3600)
            with open(path) as f:
                out[n] = json.load(f)
    return out


def table(jobs):
    """Rows: workload, system, ranks, step ms, samples/s, scaling efficiency vs 1 rank."""
    base = {(r["workload"], r["system"]): r["samples_per_s"]
            for r in jobs.get(1, {}).get("steps", [])}
    lines = ["| workload | system | ranks | step (ms) | samples/s | scaling efficiency |",
             "|---|---|---|---|---|---|"]
    for n in sorted(jobs):
        for r in jobs[n]["steps"]:
            one = base.get((r["workload"], r["system"]))
            eff = f"{r['samples_per_s'] / (n * one):.0%}" if one and n > 1 else "—"
            lines.append(f"| {r['workload']} | {r['system']} | {n} | {r['step_s'] * 1e3:.2f} | "
                         f"{r['samples_per_s']:.0f} | {eff} |")
    bandwidth = [b for n in sorted(jobs) for b in jobs[n].get("allreduce", [])]
    if bandwidth:
        lines += ["", "| allreduce bytes | time (µs) | algbw (GB/s) | busbw (GB/s) |",
                  "|---|---|---|---|"]
        lines += [f"| {b['bytes']:,} | {b['seconds'] * 1e6:.1f} | {b['algbw_GBps']:.2f} | "
                  f"{b['busbw_GBps']:.2f} |" for b in bandwidth]
    return "\n".join(lines)


def overlap_table(jobs):
    lines = ["| workload | ranks | overlap wall (ms) | split wall (ms) | overlap CPU (ms) | "
             "split CPU (ms) | paired wall ratio, median [min, max] |", "|---|---|---|---|---|---|---|"]
    for n in sorted(jobs):
        for r in jobs[n]["overlap_ab"]:
            lines.append(f"| {r['workload']} | {n} | {r['overlap_wall_s'] * 1e3:.2f} | "
                         f"{r['split_wall_s'] * 1e3:.2f} | {r['overlap_cpu_s'] * 1e3:.2f} | "
                         f"{r['split_cpu_s'] * 1e3:.2f} | {r['wall_ratio_median']:.3f} "
                         f"[{r['wall_ratio_min']:.3f}, {r['wall_ratio_max']:.3f}] |")
    return "\n".join(lines)


def buckets_table(jobs):
    lines = ["| workload | ranks | variant | wall (ms) | CPU (ms) | paired wall ratio to mpi, "
             "median [min, max] | paired scaling efficiency, median [min, max] |",
             "|---|---|---|---|---|---|---|"]
    for n in sorted(jobs):
        for r in jobs[n]["buckets_ab"]:
            for label in ("shm", "mpi", "no DDP", "one rank"):
                v = r.get(label)
                if v is None:
                    continue
                efficiency = ("—" if label == "one rank" else
                              f"{v['efficiency_median']:.0%} [{v['efficiency_min']:.0%}, "
                              f"{v['efficiency_max']:.0%}]")
                ranks = 1 if label == "one rank" else n
                lines.append(f"| {r['workload']} | {ranks} | {label} | "
                             f"{v['wall_s'] * 1e3:.3f} | {v['cpu_s'] * 1e3:.3f} | "
                             f"{v['wall_ratio_median']:.3f} [{v['wall_ratio_min']:.3f}, "
                             f"{v['wall_ratio_max']:.3f}] | {efficiency} |")
    return "\n".join(lines)


def mpi_unavailable():
    """Why W10 cannot start its MPI jobs here, or None."""
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return "needs mpi4py and an MPI launcher: pip install 'graphc[distributed]'"
    if _mpiexec() is None:
        return "needs mpiexec: pip install mpich (or 'graphc[distributed]')"
    return None


def w10_data_parallel(settings):
    """The W10 rows as Measurements (for benchmarks/run.py); one skipped row without MPI."""
    from .harness import Measurement, skipped
    why = mpi_unavailable()
    if why is None:
        try:
            jobs = run_jobs(quick=settings.quick,
                            systems=tuple(["graphc"] + sorted(settings.frameworks & {"torch"})))
        except (OSError, subprocess.SubprocessError) as e:
            why = f"the MPI job failed ({e})"
    if why is not None:
        return [skipped("W10", COMPILED, why)]
    base = {(r["workload"], r["system"]): r["samples_per_s"] for r in jobs[1]["steps"]}
    rows = []
    for n, job in sorted(jobs.items()):
        for r in job["steps"]:
            eff = r["samples_per_s"] / (n * base[(r["workload"], r["system"])]) if n > 1 else 1
            rows.append(Measurement("W10", f"{r['system']} x{n}", f"step ({r['workload']})",
                                    r["step_s"], samples=3,
                                    note=f"{r['samples_per_s']:.0f} samples/s, scaling "
                                         f"efficiency {eff:.0%}",
                                    extra={"ranks": n, "samples_per_s": r["samples_per_s"],
                                           "efficiency": eff}))
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="tiny shapes (a smoke test)")
    p.add_argument("--ranks", default="1,2", help="world sizes, e.g. 1,2")
    p.add_argument("--systems", default="graphc,torch", help="graphc and/or torch")
    p.add_argument("--json", default=None, help="write the results here")
    p.add_argument("--overlap-ab", action="store_true",
                   help="paired comparison of the compiled DDP step with and without overlap")
    p.add_argument("--buckets-ab", action="store_true",
                   help="paired comparison of the compiled DDP step's buckets reduced through "
                        "shared memory and through MPI_Iallreduce")
    p.add_argument("--rounds", type=int, default=15,
                   help="--overlap-ab / --buckets-ab: paired rounds")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    systems = tuple(args.systems.split(","))
    rounds = args.rounds if args.overlap_ab else 0
    buckets_rounds = args.rounds if args.buckets_ab else 0
    if args.worker:
        worker(args.quick, args.json, systems, rounds, buckets_rounds)
        return 0
    ranks = tuple(int(n) for n in args.ranks.split(","))
    if (args.overlap_ab or args.buckets_ab) and args.ranks == "1,2":
        ranks = (2,)
    load = os.getloadavg()
    jobs = run_jobs(ranks, args.quick, systems, rounds, buckets_rounds)
    print(f"load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, after: "
          + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    print(overlap_table(jobs) if args.overlap_ab else
          buckets_table(jobs) if args.buckets_ab else table(jobs))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({str(k): v for k, v in jobs.items()}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
