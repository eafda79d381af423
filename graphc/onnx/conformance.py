"""Run ONNX's backend node tests (one-node models with inputs and expected outputs) through
graphc.onnx.load and a compile target, and report passes, failures and unsupported cases.

    python -m graphc.onnx.conformance [--target cpu] [--markdown] [NAME_SUBSTRING ...]

The test data ships inside the onnx wheel up to onnx 1.22 (`onnx/backend/test/data/node`).
A test is *in scope* when every input and output is a tensor of a dtype graphc has and
every op has a converter; "unsupported" then means a converter refused an attribute or
mode with graphc's UnsupportedError (never a silent wrong answer).
"""
from __future__ import annotations

import argparse
import collections
import dataclasses
import glob
import os

import numpy as np

from ..errors import UnsupportedError
from .common import ONNX_TO_DTYPE, StaticInputNeeded, onnx_module, to_array

RTOL, ATOL = 1e-3, 1e-7  # the tolerances of onnx.backend.test


@dataclasses.dataclass
class NodeResult:
    name: str
    ops: tuple
    status: str      # pass | fail | unsupported | no-converter | dtype
    detail: str = ""


def data_root():
    onnx = onnx_module()
    root = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "node")
    return root if os.path.isdir(root) else None


def test_names(root=None):
    root = root or data_root()
    return sorted(os.listdir(root)) if root else []


def _tensor_dtypes_ok(values):
    for v in values:
        if v.type.WhichOneof("value") != "tensor_type":
            return f"{v.name!r} is a {v.type.WhichOneof('value')}"
        if v.type.tensor_type.elem_type not in ONNX_TO_DTYPE:
            name = onnx_module().TensorProto.DataType.Name(v.type.tensor_type.elem_type)
            return f"{v.name!r} has dtype {name}"
    return None


def _read(path):
    onnx = onnx_module()
    t = onnx.TensorProto()
    with open(path, "rb") as f:
        t.ParseFromString(f.read())
    return to_array(t)


def data_sets(test_dir):
    for d in sorted(glob.glob(os.path.join(test_dir, "test_data_set_*"))):
        ins = [_read(p) for p in sorted(glob.glob(os.path.join(d, "input_*.pb")),
                                        key=lambda p: int(p.rsplit("_", 1)[1][:-3]))]
        outs = [_read(p) for p in sorted(glob.glob(os.path.join(d, "output_*.pb")),
                                         key=lambda p: int(p.rsplit("_", 1)[1][:-3]))]
        yield ins, outs


def prepare(test_dir):
    """(model, ops, reason out of scope or None)."""
    from .tables import CONVERTERS
    onnx = onnx_module()
    model = onnx.load(os.path.join(test_dir, "model.onnx"))
    ops = tuple(sorted({n.op_type for n in model.graph.node}))
    reason = _tensor_dtypes_ok(list(model.graph.input) + list(model.graph.output))
    if reason:
        return model, ops, ("dtype", reason)
    missing = [o for o in ops if o not in CONVERTERS]
    if missing:
        return model, ops, ("no-converter", ", ".join(missing))
    return model, ops, None


def load_case(model, inputs):
    """Load the model, binding graph inputs that ops need at load time to this data set's
    values. Returns (graph, feeds)."""
    from .importer import load
    fed = [i.name for i in model.graph.input
           if i.name not in {t.name for t in model.graph.initializer}]
    by_name = dict(zip(fed, inputs))
    constants = {}
    while True:
        try:
            graph = load(model, constants=constants)
            break
        except StaticInputNeeded as e:
            if e.input_name in by_name and e.input_name not in constants:
                constants[e.input_name] = by_name[e.input_name]
                continue
            # derived from graph inputs (a window size, a crop size): bind the small integer
            # inputs, which such computations start from
            small = {k: v for k, v in by_name.items() if v.dtype.kind in "iu" and v.ndim <= 1}
            if all(k in constants for k in small):
                raise
            constants.update(small)
    feeds = [by_name[p.name] for p in graph.inputs]
    return graph, feeds


def check_outputs(results, expected):
    for i, (got, want) in enumerate(zip(results, expected)):
        got = np.asarray(got)
        if got.dtype != want.dtype:
            return f"output {i}: dtype {got.dtype}, expected {want.dtype}"
        if got.shape != want.shape:
            return f"output {i}: shape {got.shape}, expected {want.shape}"
        if want.dtype.kind in "fc":
            if not np.allclose(got, want, rtol=RTOL, atol=ATOL, equal_nan=True):
                err = np.max(np.abs(got.astype(np.float64) - want))
                return f"output {i}: max abs error {err:.3g}"
        elif not np.array_equal(got, want):
            return f"output {i}: values differ"
    return None


def run_test(test_dir, target="reference"):
    import graphc as gc
    name = os.path.basename(test_dir)
    model, ops, out_of_scope = prepare(test_dir)
    if out_of_scope:
        return NodeResult(name, ops, *out_of_scope)
    try:
        for inputs, expected in data_sets(test_dir):
            graph, feeds = load_case(model, inputs)
            exe = gc.compile(graph.outputs, graph.inputs, target=target)
            results = exe(*feeds)
            problem = check_outputs([r.numpy() for r in results], expected)
            if problem:
                return NodeResult(name, ops, "fail", problem)
    except UnsupportedError as e:
        return NodeResult(name, ops, "unsupported", str(e).splitlines()[0])
    except Exception as e:  # any other error is a failure, with its message
        return NodeResult(name, ops, "fail", f"{type(e).__name__}: {str(e).splitlines()[0]}"
                          if str(e) else type(e).__name__)
    return NodeResult(name, ops, "pass")


def run_all(target="reference", names=None, root=None, batch=1, report=None):
    """Results per test. batch > 1 compiles that many tests' graphs as one program (a Numba
    compile costs seconds per program, not per test); a batch that fails to compile or
    run is retried test by test, so that the failure is attributed."""
    root = root or data_root()
    selected = names if names is not None else test_names(root)
    results = []
    for start in range(0, len(selected), max(batch, 1)):
        dirs = [os.path.join(root, n) for n in selected[start:start + max(batch, 1)]]
        done = run_batch(dirs, target) if batch > 1 else [run_test(dirs[0], target)]
        for r in done:
            if report is not None:  # progress, one result at a time
                report(r)
        results += done
    return results


def run_batch(test_dirs, target):
    cases, results = [], {}
    for d in test_dirs:
        name = os.path.basename(d)
        model, ops, out_of_scope = prepare(d)
        if out_of_scope:
            results[name] = NodeResult(name, ops, *out_of_scope)
            continue
        try:
            sets = list(data_sets(d))
            if len(sets) != 1:
                results[name] = run_test(d, target)
                continue
            inputs, expected = sets[0]
            graph, feeds = load_case(model, inputs)
        except Exception:
            results[name] = run_test(d, target)  # classifies the load error
            continue
        cases.append((name, ops, graph, feeds, expected))
    _compile_and_check(cases, target, os.path.dirname(test_dirs[0]), results)
    return [results[os.path.basename(d)] for d in test_dirs]


def _compile_and_check(cases, target, root, results):
    """One program for all cases; if it fails to compile or run, halve the batch (so that
    one failing test costs a few compiles, not one per test)."""
    import graphc as gc
    if not cases:
        return
    if len(cases) == 1:
        results[cases[0][0]] = run_test(os.path.join(root, cases[0][0]), target)
        return
    try:
        exe = gc.compile([v for c in cases for v in c[2].outputs],
                         [p for c in cases for p in c[2].inputs], target=target)
        outputs = exe(*[f for c in cases for f in c[3]])
    except Exception:
        half = len(cases) // 2
        _compile_and_check(cases[:half], target, root, results)
        _compile_and_check(cases[half:], target, root, results)
        return
    k = 0
    for name, ops, graph, _, expected in cases:
        got = [r.numpy() for r in outputs[k:k + len(graph.outputs)]]
        k += len(graph.outputs)
        problem = check_outputs(got, expected)
        results[name] = NodeResult(name, ops, "fail" if problem else "pass", problem or "")


def summary(results):
    counts = collections.Counter(r.status for r in results)
    in_scope = counts["pass"] + counts["fail"] + counts["unsupported"]
    return (f"{len(results)} node tests: {in_scope} in scope ({counts['pass']} pass, "
            f"{counts['fail']} fail, {counts['unsupported']} unsupported attribute or mode); "
            f"out of scope: {counts['no-converter']} need an op graphc.onnx lacks, "
            f"{counts['dtype']} use dtypes or types graphc lacks")


def per_op(results):
    """op -> Counter of statuses (a test with several ops counts for each)."""
    table = collections.defaultdict(collections.Counter)
    for r in results:
        for op in r.ops:
            table[op][r.status] += 1
    return table


def markdown(results, target):
    lines = [f"Target `{target}`: {summary(results)}.", "",
             "| op | pass | fail | unsupported | no converter | dtype |",
             "|---|---|---|---|---|---|"]
    for op, c in sorted(per_op(results).items()):
        lines.append(f"| {op} | {c['pass']} | {c['fail']} | {c['unsupported']} | "
                     f"{c['no-converter']} | {c['dtype']} |")
    rest = [r for r in results if r.status in ("fail", "unsupported")]
    if rest:
        lines += ["", "In-scope tests that do not pass:", ""]
        lines += [f"- `{r.name}` ({r.status}): {r.detail}" for r in rest]
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m graphc.onnx.conformance")
    p.add_argument("names", nargs="*", help="only tests whose name contains one of these")
    p.add_argument("--target", default="reference")
    p.add_argument("--batch", type=int, default=1,
                   help="compile this many tests as one program (16 for cpu: larger "
                   "programs take GBs of memory to compile)")
    p.add_argument("--markdown", action="store_true", help="a per-op table for docs/onnx.md")
    p.add_argument("--verbose", "-v", action="store_true", help="one line per test")
    args = p.parse_args(argv)
    if data_root() is None:
        print("this onnx package ships no backend node test data (pip install onnx==1.22.0)")
        return 1
    names = [n for n in test_names() if not args.names or any(s in n for s in args.names)]
    def show(r):
        print(f"{r.status:12} {r.name:60} {r.detail}", flush=True)
    results = run_all(args.target, names, batch=args.batch,
                      report=show if args.verbose else None)
    print(markdown(results, args.target) if args.markdown else summary(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
