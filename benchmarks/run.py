"""Run the benchmark suite: `python -m benchmarks.run [--quick] [--only W1,W4] [--out DIR]`.

Prints the Markdown table and writes results.md, results.json and results.png to --out.
`main(argv)` is what `graphc bench` calls. W10 (data-parallel, benchmarks/data_parallel.py)
starts MPI jobs of its own, so it runs only when named: `--only W10` (skipped, with the
reason, where mpi4py or mpiexec is missing).
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time

from . import report
from .compile_time import w7_compile
from .data_parallel import w10_data_parallel
from .harness import Settings, limit_threads, optional, use_fresh_caches
from .workloads import TARGETS, WORKLOADS

ALL = list(WORKLOADS) + ["W7"]  # the default run
ON_REQUEST = {"W10": w10_data_parallel}  # run only when named in --only


def _machine():
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if "model name" in line)
    except (OSError, StopIteration):
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    versions = {"python": platform.python_version()}
    for name in ("numpy", "numba", "torch", "jax"):
        module = optional(name)
        if module is not None:
            versions[name] = module.__version__
    return {"cpu": cpu, "cores": os.cpu_count(), "load_average_1min": load,
            "platform": platform.platform(), "versions": versions}


def build_parser():
    p = argparse.ArgumentParser(prog="graphc bench", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="toy sizes, few repeats (CI smoke run)")
    p.add_argument("--only", default="", help="comma-separated workloads, e.g. W1,W5 (W10, "
                   "data-parallel on MPI, runs only when named)")
    p.add_argument("--out", default="bench-results", help="directory for md/json/png")
    p.add_argument("--repeat", type=int, default=7, help="timed samples per system")
    p.add_argument("--frameworks", default="torch,jax",
                   help="other frameworks to compare with when installed ('' for none)")
    p.add_argument("--no-torch-compile", action="store_true",
                   help="skip torch.compile (its compiles take tens of seconds)")
    p.add_argument("--threads", type=int, default=None,
                   help="threads for every system (graphc, BLAS, PyTorch, XLA); default: each "
                        "framework's own (all cores)")
    p.add_argument("--fresh-caches", action="store_true",
                   help="empty on-disk caches (graphc, Numba, TorchInductor) for this run: the "
                        "compile column then shows cold compiles")
    p.add_argument("--no-chart", action="store_true")
    return p


def parse(argv):
    return build_parser().parse_args(argv)


def main(argv=None):
    args = parse(sys.argv[1:] if argv is None else argv)
    chosen = [w.strip().upper() for w in args.only.split(",") if w.strip()] or ALL
    unknown = [w for w in chosen if w not in ALL and w not in ON_REQUEST]
    if unknown:
        raise SystemExit(f"unknown workload(s) {unknown}; choose from {ALL + list(ON_REQUEST)}")
    settings = Settings(quick=args.quick, repeat=args.repeat,
                        frameworks=[f for f in args.frameworks.split(",") if f],
                        torch_compile=not args.no_torch_compile, threads=args.threads)
    if args.threads:
        limit_threads(args.threads)
    if args.fresh_caches:
        use_fresh_caches()
    meta = {"machine": _machine(), "command": "python -m benchmarks.run " + " ".join(
        sys.argv[1:] if argv is None else argv), "quick": args.quick,
        "started": time.strftime("%Y-%m-%d %H:%M:%S")}
    results = []
    for name in chosen:
        start = time.perf_counter()
        print(f"[{name}] running ...", file=sys.stderr, flush=True)
        if name == "W7":
            results += w7_compile(settings, results)
        else:
            results += (ON_REQUEST.get(name) or WORKLOADS[name])(settings)
        print(f"[{name}] done in {time.perf_counter() - start:.1f} s", file=sys.stderr,
              flush=True)
    meta["machine"]["load_average_1min_end"] = _machine()["load_average_1min"]
    meta["threads"] = args.threads or "framework defaults"
    meta["caches"] = "fresh (cold compiles)" if args.fresh_caches else "as found on disk"
    targets = [t for t in TARGETS if t.workload in chosen]
    header = (f"graphc benchmarks ({'quick' if args.quick else 'full'}) on "
              f"{meta['machine']['cpu']}, {meta['machine']['cores']} cores, load "
              f"{meta['machine']['load_average_1min']:.2f}, threads: {meta['threads']}, "
              f"caches: {meta['caches']}; "
              f"{meta['machine']['versions']}\n")
    table = report.markdown(results, targets, header)
    print(table)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "results.md"), "w") as f:
        f.write(table)
    with open(os.path.join(args.out, "results.json"), "w") as f:
        f.write(report.to_json(results, targets, meta))
    if not args.no_chart:
        report.chart(results, os.path.join(args.out, "results.png"))
    return results


if __name__ == "__main__":
    main()
