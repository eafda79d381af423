"""Random-graph fuzzing: random programs of graphc ops, checked across execution models.

A program is a list of instructions over a growing list of values; `run_program` replays it
with graphc functions, so the same program runs on eager tensors and on placeholders. For
each program, eager mode, the reference target and any other targets must agree on the
outputs and on the gradients of a scalar loss. Programs may also contain deliberately
illegal instructions, which must raise graphc's documented errors (never crash, never a
wrong answer).

    python -m graphc.testing.fuzz --graphs 20000 --targets reference cpu-interpreted --batch 25
    python -m graphc.testing.fuzz --graphs 200 --targets cpu      # Numba: ~3 s a graph
"""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np

import graphc as gc

SHAPES = [(), (1,), (3,), (4,), (2, 3), (3, 4), (1, 4), (3, 1), (2, 3, 4), (2, 1, 4), (0, 3)]
UNARY = ["neg", "abs", "exp_clamped", "tanh", "sigmoid", "relu", "square", "sin", "log_safe",
         "sqrt_safe", "softplus", "erf", "gelu", "leaky_relu", "elu"]
BINARY = ["add", "sub", "mul", "div_safe", "maximum", "minimum", "where_gt"]
REDUCE = ["sum", "mean", "amax", "logsumexp", "softmax", "log_softmax", "var"]
SHAPE_OPS = ["reshape", "permute", "slice", "index", "unsqueeze", "cat", "pad", "flatten"]
EXPECTED_ERRORS = (gc.ShapeError, gc.DTypeError)


def _unary(name, x):
    if name == "exp_clamped":
        return gc.exp(gc.clamp(x, -5.0, 5.0))
    if name == "log_safe":
        return gc.log(x * x + 1.0)
    if name == "sqrt_safe":
        return gc.sqrt(x * x + 0.5)
    if name == "leaky_relu":
        return gc.leaky_relu(x, 0.1)
    return getattr(gc, name)(x)


def _binary(name, a, b):
    if name == "div_safe":
        return a / (b * b + 1.0)
    if name == "where_gt":
        return gc.where(a > b, a, b * 0.5)
    return getattr(gc, name)(a, b)


def _reduce(name, x, dim, keepdim):
    if name in ("softmax", "log_softmax"):
        return getattr(gc, name)(x, dim)
    if name == "logsumexp":
        return gc.logsumexp(x, dim, keepdim)
    if name == "amax":
        return gc.amax(x, dim, keepdim)
    if name == "var":
        return gc.var(x, dim, keepdim=keepdim, correction=0)
    return getattr(gc, name)(x, dim, keepdim)


def make_program(seed, n_ops=8, illegal_rate=0.0):
    """A random program: (input arrays, instructions). Deterministic in `seed`."""
    rng = np.random.default_rng(seed)
    n_inputs = int(rng.integers(1, 4))
    inputs = [rng.standard_normal(SHAPES[rng.integers(len(SHAPES))]) for _ in range(n_inputs)]
    shapes = [a.shape for a in inputs]
    program = []
    for _ in range(n_ops):
        kind = rng.choice(["unary", "binary", "reduce", "shape", "matmul"], p=[.3, .3, .15, .15, .1])
        i = int(rng.integers(len(shapes)))
        s = shapes[i]
        if rng.random() < illegal_rate:
            program.append(("illegal", i, int(rng.integers(3))))
            continue
        if kind == "unary":
            program.append(("unary", str(rng.choice(UNARY)), i))
            shapes.append(s)
        elif kind == "binary":
            partners = [j for j, t in enumerate(shapes) if _broadcastable(s, t)]
            j = int(rng.choice(partners))
            program.append(("binary", str(rng.choice(BINARY)), i, j))
            shapes.append(np.broadcast_shapes(s, shapes[j]))
        elif kind == "reduce" and len(s) > 0:
            name = str(rng.choice(REDUCE))
            dim = int(rng.integers(-len(s), len(s)))
            keepdim = bool(rng.random() < 0.5)
            if name in ("softmax", "log_softmax"):
                out = s
            else:
                out = tuple(1 if k == dim % len(s) else d for k, d in enumerate(s)) if keepdim \
                    else tuple(d for k, d in enumerate(s) if k != dim % len(s))
            if name in ("amax", "softmax", "log_softmax", "logsumexp") and s[dim % len(s)] == 0:
                continue  # empty reductions without identity: torch errors too
            program.append(("reduce", name, i, dim, keepdim))
            shapes.append(out)
        elif kind == "shape" and len(s) > 0:
            instr, out = _shape_instruction(rng, i, s, shapes)
            if instr is not None:
                program.append(instr)
                shapes.append(out)
        elif kind == "matmul" and len(s) >= 1 and s[-1] > 0:
            n = int(rng.integers(1, 4))
            w = rng.standard_normal((s[-1], n))
            program.append(("matmul", i, w))
            shapes.append(s[:-1] + (n,))
    return inputs, program


def _broadcastable(a, b):
    try:
        np.broadcast_shapes(a, b)
        return True
    except ValueError:
        return False


def _shape_instruction(rng, i, s, shapes):
    name = str(rng.choice(SHAPE_OPS))
    if name == "reshape":
        return ("reshape", i, (-1,)), (int(np.prod(s)),)
    if name == "flatten":
        return ("flatten", i), (int(np.prod(s)),)
    if name == "permute":
        perm = tuple(int(p) for p in rng.permutation(len(s)))
        return ("permute", i, perm), tuple(s[p] for p in perm)
    if name == "unsqueeze":
        d = int(rng.integers(0, len(s) + 1))
        return ("unsqueeze", i, d), s[:d] + (1,) + s[d:]
    if name == "slice":
        d = int(rng.integers(len(s)))
        start = int(rng.integers(0, max(s[d], 1)))
        key = (slice(None),) * d + (slice(start, None),)
        return ("slice", i, key), s[:d] + (len(range(start, s[d])),) + s[d + 1:]
    if name == "index" and s[0] > 0:
        idx = rng.integers(0, s[0], int(rng.integers(1, 5)))
        return ("index", i, idx), (len(idx),) + s[1:]
    if name == "cat":
        same = [j for j, t in enumerate(shapes) if t == s]
        j = int(rng.choice(same))
        return ("cat", i, j), (2 * s[0],) + s[1:]
    if name == "pad":
        a, b = int(rng.integers(0, 3)), int(rng.integers(0, 3))
        return ("pad", i, (a, b)), s[:-1] + (s[-1] + a + b,)
    return None, None


def run_program(program, inputs):
    """Replay a program on graphc values (eager tensors or placeholders); returns all values."""
    values = list(inputs)
    for instr in program:
        kind = instr[0]
        if kind == "unary":
            values.append(_unary(instr[1], values[instr[2]]))
        elif kind == "binary":
            values.append(_binary(instr[1], values[instr[2]], values[instr[3]]))
        elif kind == "reduce":
            _, name, i, dim, keepdim = instr
            values.append(_reduce(name, values[i], dim, keepdim))
        elif kind == "matmul":
            w = instr[2].astype(values[instr[1]].dtype.np)  # same dtype as its input
            values.append(values[instr[1]] @ (gc.constant(w) if _symbolic(values)
                                              else gc.tensor(w)))
        elif kind == "reshape":
            values.append(values[instr[1]].reshape(instr[2]))
        elif kind == "flatten":
            values.append(values[instr[1]].flatten())
        elif kind == "permute":
            values.append(values[instr[1]].permute(instr[2]))
        elif kind == "unsqueeze":
            values.append(values[instr[1]].unsqueeze(instr[2]))
        elif kind == "slice":
            values.append(values[instr[1]][instr[2]])
        elif kind == "index":
            values.append(values[instr[1]][instr[2]])
        elif kind == "cat":
            values.append(gc.cat([values[instr[1]], values[instr[2]]]))
        elif kind == "pad":
            values.append(gc.pad(values[instr[1]], instr[2]))
        elif kind == "illegal":
            _illegal(values[instr[1]], instr[2])
    return values


def _symbolic(values):
    return any(isinstance(v, gc.Value) for v in values)


def _illegal(x, which):
    """Operations that must raise a documented error for any input shape."""
    if which == 0:
        x.reshape(x.numel() + 1 if isinstance(x.numel(), int) else 1, -1)
    elif which == 1:
        x.sum(x.ndim + 1)
    else:
        x @ gc.ones(7, 5, dtype=gc.int64)


def loss_of(values):
    """A scalar mixing every value, so that every instruction gets a gradient."""
    total = None
    for k, v in enumerate(values):
        if v.dtype.is_floating_point:
            term = (v * (0.1 * (k + 1))).sum()
            total = term if total is None else total + term
    return total


def check_program(seed, targets=("reference",), n_ops=8, illegal_rate=0.02, rtol=1e-7):
    """Run one random program eagerly and on each target; raise AssertionError on any
    disagreement. Returns "ok" or the name of the expected error raised."""
    arrays, program = make_program(seed, n_ops, illegal_rate)
    xs = [gc.tensor(a, requires_grad=True) for a in arrays]
    try:
        values = run_program(program, xs)
    except EXPECTED_ERRORS as e:
        _check_static_raises(program, arrays, type(e))
        return type(e).__name__
    loss = loss_of(values)
    loss.backward()
    eager = [loss.detach().numpy()] + [x.grad.numpy() if x.grad is not None else np.zeros_like(a)
                                       for x, a in zip(xs, arrays)]
    _check_directional_derivative(seed, program, arrays, eager[1:])
    ps = [gc.placeholder(a.shape, gc.float64) for a in arrays]
    sloss = loss_of(run_program(program, ps))
    outputs = [sloss] + list(gc.grad(sloss, ps))
    for target in targets:
        got = run_on(target, outputs, ps, arrays)
        for k, (u, v) in enumerate(zip(got, eager)):
            np.testing.assert_allclose(
                u, v, rtol=rtol, atol=1e-9,
                err_msg=f"seed {seed}, target {target}: {'loss' if k == 0 else f'grad {k - 1}'} "
                        f"differs from eager; program: {program}")
    return "ok"


# A pseudo-target: the "cpu" target's passes and generated program, run as plain Python.
INTERPRETED = "cpu-interpreted"


def run_interpreted(exe, feeds):
    """Run the program that target "cpu" generates for `exe` without compiling it: Numba's
    py_func of every function of the generated module, as plain Python. Everything graphc
    does (passes, fusion, memory plan, lowering) is checked; only Numba's own code
    generation is not, and it costs seconds per program where this costs milliseconds."""
    program = exe._runner.program([np.asarray(f) for f in feeds], compile_kernels=False)
    # f32_from_bits is an LLVM intrinsic in compiled code
    compiled, program.fn = program.fn, program.python_twin({"f32_from_bits": _f32_from_bits})
    try:  # the runner's own calling convention, with the Python twin in the program's place
        outputs, _ = program.run([np.asarray(f) for f in feeds])
    finally:
        program.fn = compiled
    return outputs


def _f32_from_bits(bits):
    """The float32 whose bits are the low 32 bits of an integer (runtime.library's
    intrinsic, in Python)."""
    return np.array(int(bits) & 0xFFFFFFFF, np.uint32).view(np.float32)[()]


def _near_tie(program, values, rel=1e-5):
    """A comparison whose operands are equal to within float32 rounding (e.g. x and tanh(x)
    for a tiny x): a target rounding differently, within its error bound, may take the other
    branch, and the gradient jumps. Such programs are not compared."""
    for instr in program:
        if instr[0] == "binary" and instr[1] in ("where_gt", "maximum", "minimum") \
                and instr[2] != instr[3]:
            a, b = (values[i].detach().numpy().astype(np.float64) for i in instr[2:4])
            if np.any(np.abs(a - b) <= rel * (np.abs(a) + np.abs(b))):
                return True
    return False


def run_on(target, outputs, placeholders, feeds):
    """Compile `outputs` on `target` (or INTERPRETED) and return the results as arrays."""
    exe = gc.compile(outputs, placeholders, target="cpu" if target == INTERPRETED else target)
    if target == INTERPRETED:
        return run_interpreted(exe, feeds)
    return [r.numpy() for r in exe(*feeds)]


def check_batch(seeds, targets=("cpu",), n_ops=8, illegal_rate=0.02, rtol=None,
                dtype="float64"):
    """Like check_program for many seeds, but with ONE compiled program per target: the
    programs become independent subgraphs of one graph. Each program is still checked
    separately against eager mode. dtype: of the inputs ("float32" checks the target's
    float32 math against eager's NumPy, rtol 1e-4 by default). Returns {result: count}."""
    gdtype = gc.as_dtype(dtype)
    rtol = rtol if rtol is not None else (1e-6 if gdtype is gc.float64 else 1e-4)
    atol = 1e-9 if gdtype is gc.float64 else 1e-5
    counts, cases, outputs, feeds, placeholders = {}, [], [], [], []
    for seed in seeds:
        arrays, program = make_program(seed, n_ops, illegal_rate)
        arrays = [a.astype(gdtype.np) for a in arrays]
        xs = [gc.tensor(a, requires_grad=True) for a in arrays]
        try:
            values = run_program(program, xs)
        except EXPECTED_ERRORS as e:
            _check_static_raises(program, arrays, type(e))
            counts[type(e).__name__] = counts.get(type(e).__name__, 0) + 1
            continue
        if gdtype is gc.float32 and _near_tie(program, values):
            counts["near tie"] = counts.get("near tie", 0) + 1
            continue
        loss = loss_of(values)
        loss.backward()
        eager = [loss.detach().numpy()] + [
            x.grad.numpy() if x.grad is not None else np.zeros_like(a)
            for x, a in zip(xs, arrays)]
        ps = [gc.placeholder(a.shape, gdtype, name=f"s{seed}_x{k}")
              for k, a in enumerate(arrays)]
        sloss = loss_of(run_program(program, ps))
        cases.append((seed, program, eager, len(outputs)))
        outputs += [sloss] + list(gc.grad(sloss, ps))
        placeholders += ps
        feeds += arrays
        counts["ok"] = counts.get("ok", 0) + 1
    if not outputs:
        return counts
    for target in targets:
        got = run_on(target, outputs, placeholders, feeds)
        for seed, program, eager, first in cases:
            for k, want in enumerate(eager):
                np.testing.assert_allclose(
                    got[first + k], want, rtol=rtol, atol=atol,
                    err_msg=f"seed {seed}, target {target} ({dtype}, batched): "
                            f"{'loss' if k == 0 else f'grad {k - 1}'} differs from eager; "
                            f"program: {program}")
    return counts


def _check_directional_derivative(seed, program, arrays, grads, eps=1e-6):
    """Gradients against central finite differences along one random direction."""
    direction = [np.random.default_rng(seed + 1).standard_normal(a.shape) for a in arrays]

    def loss_at(t):
        with gc.no_grad():
            xs = [gc.tensor(a + t * d) for a, d in zip(arrays, direction)]
            return loss_of(run_program(program, xs)).item()

    numeric = (loss_at(eps) - loss_at(-eps)) / (2 * eps)
    analytic = sum(float(np.sum(g * d)) for g, d in zip(grads, direction))
    if not np.isfinite(analytic) or not np.isfinite(numeric):
        return
    if abs(numeric - analytic) > 1e-4 * max(1.0, abs(numeric)):
        raise AssertionError(f"seed {seed}: gradient along a random direction is {analytic}, "
                             f"finite differences give {numeric}; program: {program}")


def _check_static_raises(program, arrays, error_type):
    ps = [gc.placeholder(a.shape, gc.as_dtype(a.dtype)) for a in arrays]
    try:
        run_program(program, ps)
    except error_type:
        return
    raise AssertionError(f"eager raised {error_type.__name__} but static graph building did not: "
                         f"{program}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--graphs", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ops", type=int, default=10)
    parser.add_argument("--targets", nargs="+", default=["reference"],
                        help=f"reference, cpu (Numba: seconds per compile), {INTERPRETED}")
    parser.add_argument("--batch", type=int, default=1,
                        help="programs per compiled graph (independent subgraphs of one "
                             "graph); 1 also checks gradients against finite differences")
    parser.add_argument("--dtype", default="float64", choices=["float64", "float32"],
                        help="of the inputs (finite differences: float64, --batch 1 only)")
    args = parser.parse_args(argv)
    counts = {}
    start = time.perf_counter()
    for first in range(args.seed, args.seed + args.graphs, args.batch):
        last = min(first + args.batch, args.seed + args.graphs)
        if args.batch == 1 and args.dtype == "float64":  # with finite differences
            found = {check_program(first, args.targets, args.ops): 1}
        else:
            found = check_batch(range(first, last), args.targets, args.ops, dtype=args.dtype)
        for result, n in found.items():
            counts[result] = counts.get(result, 0) + n
    print(f"{args.graphs} random {args.dtype} graphs (seeds {args.seed}..."
          f"{args.seed + args.graphs - 1}) checked in {time.perf_counter() - start:.1f} s "
          f"on {', '.join(['eager'] + args.targets)}: {counts}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
