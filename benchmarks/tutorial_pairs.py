"""Whole example programs in eager mode, graphc against PyTorch: the wall time a user waits.

    python -m benchmarks.tutorial_pairs [--threads 1] [--rounds 3] [--only digits_cnn,resnet_blocks]
                                        [--quick]

Each example of examples/ is written against PyTorch's names (`import graphc as torch`,
`import graphc.nn as nn`, ...). Here each runs as it is, `--mode eager --no-plot`, in a new
process, once with graphc and once with PyTorch itself: for the PyTorch run, the child makes
the names `graphc`, `graphc.nn`, `graphc.nn.functional`, `graphc.optim` and
`graphc.utils.data` refer to torch's modules before it imports the example, so both runs
execute the same lines (data loading, DataLoader batches, `.item()` every step, evaluation
under no_grad). graphc's compile helpers in examples/_common.py are not reached in eager
mode.

The time is the child's wall clock from before the library's import to the end of the
example's main(): import, building the model, training and evaluation. Runs alternate
graphc, PyTorch, graphc, ... for `--rounds` rounds; the table gives medians and the ratio
graphc / PyTorch (< 1: graphc is faster). With `--threads N`, both libraries and their BLAS
run on N threads; by default each library chooses, as a user's program would.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROGRAMS = ("digits_cnn", "resnet_blocks")
QUICK = {"digits_cnn": ["--epochs", "1", "--limit", "64"], "resnet_blocks": ["--steps", "3"]}
# what each example imports, and the torch module that stands in for it
ALIASES = {"graphc": "torch", "graphc.nn": "torch.nn",
           "graphc.nn.functional": "torch.nn.functional", "graphc.optim": "torch.optim",
           "graphc.utils": "torch.utils", "graphc.utils.data": "torch.utils.data"}


def _child(program, library, threads, quick):
    """Run examples/<program>.py's main() eagerly with `library`; print one JSON line."""
    import importlib
    start = time.perf_counter()
    if library == "torch":
        import torch
        if threads:
            torch.set_num_threads(threads)
        for name, target in ALIASES.items():
            sys.modules[name] = importlib.import_module(target)
    else:
        import graphc
        if threads:
            graphc.set_num_threads(threads)
    imported = time.perf_counter()
    sys.path.insert(0, os.path.join(ROOT, "examples"))
    example = importlib.import_module(program)
    result = example.main(["--mode", "eager", "--no-plot"] + (QUICK[program] if quick else []))
    done = time.perf_counter()
    metric = {k: v for k, v in result.items() if isinstance(v, float)}
    print(json.dumps({"wall_s": done - start, "import_s": imported - start, **metric}))


def _run(program, library, threads, quick):
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    if threads:
        env["GRAPHC_NUM_THREADS"] = str(threads)
    cmd = [sys.executable, "-m", "benchmarks.tutorial_pairs", "--child", program, library]
    if threads:
        cmd += ["--threads", str(threads)]
    if quick:
        cmd.append("--quick")
    done = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        raise RuntimeError(f"{program} with {library}: {done.stderr.strip()[-800:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(programs=PROGRAMS, rounds=3, threads=None, quick=False):
    """{program: {library: [child results, one a round]}}"""
    runs = {p: {"graphc": [], "torch": []} for p in programs}
    for _ in range(rounds):
        for program in programs:
            for library in ("graphc", "torch"):
                runs[program][library].append(_run(program, library, threads, quick))
    return runs


def table(runs):
    lines = ["| program | graphc eager | PyTorch eager | graphc / PyTorch | import, graphc / "
             "PyTorch | final loss, graphc / PyTorch |", "|---|---:|---:|---:|---:|---:|"]
    for program, by in runs.items():
        med = {lib: statistics.median(r["wall_s"] for r in rs) for lib, rs in by.items()}
        imp = {lib: statistics.median(r["import_s"] for r in rs) for lib, rs in by.items()}
        loss = {lib: rs[-1].get("loss", float("nan")) for lib, rs in by.items()}
        lines.append(f"| {program} | {med['graphc']:.2f} s | {med['torch']:.2f} s | "
                     f"{med['graphc'] / med['torch']:.2f}x | {imp['graphc']:.2f} / "
                     f"{imp['torch']:.2f} s | {loss['graphc']:.3f} / {loss['torch']:.3f} |")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m benchmarks.tutorial_pairs",
                                description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=None,
                   help="threads for both libraries (default: each library's own choice)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--only", default=",".join(PROGRAMS))
    p.add_argument("--quick", action="store_true", help="a few steps of each (a smoke test)")
    p.add_argument("--child", nargs=2, metavar=("PROGRAM", "LIBRARY"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        return _child(*args.child, args.threads, args.quick)
    try:
        import torch  # noqa: F401
    except ImportError:
        sys.exit("tutorial_pairs compares against PyTorch: pip install torch")
    programs = [name for name in args.only.split(",") if name]
    unknown = set(programs) - set(PROGRAMS)
    if unknown:
        sys.exit(f"unknown programs {sorted(unknown)}; choose from {', '.join(PROGRAMS)}")
    runs = measure(programs, args.rounds, args.threads, args.quick)
    print(f"threads: {args.threads or 'each library default'}; {args.rounds} rounds, "
          f"alternating; wall time from the library's import to the end of main()")
    print(table(runs))
    return runs


if __name__ == "__main__":
    main()
