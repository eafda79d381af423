"""Runs tests/parity/torch_names.py through PyTorch and graphc and reports coverage.

    PYTHONPATH=$PWD python tests/parity/sweep.py          # table of failures + coverage
    PYTHONPATH=$PWD python tests/parity/sweep.py -v       # every entry

For each entry, eagerly: same values (rtol 1e-7 unless the entry says otherwise), dtype and
shape as PyTorch, and, when the entry is differentiable, the same gradients for a random
cotangent. Then the forward pass once more under graphc.jit (target "reference", so that the
sweep measures tracing, not Numba compile time), compared with PyTorch's values.
Statuses: ok, missing (graphc has no such name), wrong (a different result), error (raised).
"""
from __future__ import annotations

import os
import sys
from collections import Counter

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from torch_names import ENTRIES  # noqa: E402


def _to_numpy(v):
    if hasattr(v, "detach"):
        v = v.detach()
    if hasattr(v, "cpu"):
        v = v.cpu()
    if hasattr(v, "numpy"):
        return np.asarray(v.numpy())
    return v


def _dtype_name(v):
    dt = getattr(v, "dtype", None)
    return None if dt is None else str(dt).split(".")[-1]


def _same(ours, theirs, rtol, check):
    """None if equal, else a short reason."""
    if isinstance(theirs, (tuple, list)) and not hasattr(theirs, "shape"):
        if not isinstance(ours, (tuple, list)) or len(ours) != len(theirs):
            return f"a sequence of {len(theirs)} expected, got {type(ours).__name__}"
        for a, b in zip(ours, theirs):
            why = _same(a, b, rtol, check)
            if why:
                return why
        return None
    if not hasattr(theirs, "shape"):  # Python values: bool, int, float, str, torch.Size ...
        if isinstance(theirs, float) and isinstance(ours, (float, int, np.floating)):
            return None if np.isclose(ours, theirs, rtol=rtol) else f"{ours!r} != {theirs!r}"
        return None if ours == theirs and type(ours) is type(theirs) or (
            type(theirs).__name__ == "Size" and tuple(ours) == tuple(theirs)) else \
            f"{ours!r} ({type(ours).__name__}) != {theirs!r} ({type(theirs).__name__})"
    if not hasattr(ours, "shape"):
        return f"a tensor expected, got {type(ours).__name__}"
    if tuple(ours.shape) != tuple(theirs.shape):
        return f"shape {list(ours.shape)} != {list(theirs.shape)}"
    if _dtype_name(ours) != _dtype_name(theirs):
        return f"dtype {_dtype_name(ours)} != {_dtype_name(theirs)}"
    if check == "shape":
        return None
    a, b = _to_numpy(ours), _to_numpy(theirs)
    if a.dtype.kind in "fc":
        tol = max(rtol, 1e-6) if a.dtype == np.float32 else rtol  # float32: a few ulp
        ok = np.allclose(a, b, rtol=tol, atol=1e-10 if a.dtype != np.float32 else 1e-7,
                         equal_nan=True)
    else:
        ok = np.array_equal(a, b)
    return None if ok else f"values differ (max |diff| {np.nanmax(np.abs(a.astype(float) - b.astype(float))):.3g})"


def _first_float(out):
    if isinstance(out, (tuple, list)):
        for o in out:
            if hasattr(o, "dtype") and _dtype_name(o).startswith("float"):
                return o
        return None
    return out if hasattr(out, "dtype") and _dtype_name(out).startswith("float") else None


def _run(lib, entry, requires_grad):
    xs = [lib.tensor(a, requires_grad=requires_grad and np.asarray(a).dtype.kind == "f")
          for a in entry.inputs]
    return xs, entry.fn(lib, *xs)


def check_entry(entry, torch, gc):
    """(eager status, jit status or None, reason)."""
    grad = entry.grad and any(np.asarray(a).dtype.kind == "f" for a in entry.inputs)
    try:
        t_in, t_out = _run(torch, entry, grad)
    except Exception as e:  # noqa: BLE001 - an entry PyTorch itself rejects is a bad entry
        return "bad-entry", None, f"torch raised {type(e).__name__}: {e}"
    try:
        g_in, g_out = _run(gc, entry, grad)
    except AttributeError as e:
        return "missing", None, str(e)[:120]
    except Exception as e:  # noqa: BLE001
        return "error", None, f"{type(e).__name__}: {str(e).splitlines()[0][:160]}"
    why = _same(g_out, t_out, entry.rtol, entry.check)
    if why:
        return "wrong", None, why
    if grad:
        t_f, g_f = _first_float(t_out), _first_float(g_out)
        if t_f is not None and t_f.requires_grad:
            if g_f is None or not getattr(g_f, "requires_grad", False):
                return "wrong", None, "no gradient (output does not require grad)"
            cot = np.random.default_rng(5).standard_normal(tuple(t_f.shape))
            try:
                (t_f * torch.tensor(cot)).sum().backward()
                (g_f * gc.tensor(cot)).sum().backward()
            except Exception as e:  # noqa: BLE001
                return "error", None, f"backward: {type(e).__name__}: {str(e)[:120]}"
            for k, (a, b) in enumerate(zip(g_in, t_in)):
                if not b.requires_grad:
                    continue
                tg = None if b.grad is None else b.grad.numpy(force=True)  # (ZeroTensor)
                gg = None if a.grad is None else a.grad.numpy()
                if (tg is None) != (gg is None) or (tg is not None and not np.allclose(
                        gg, tg, rtol=1e-6, atol=1e-9, equal_nan=True)):
                    return "wrong", None, f"gradient of input {k} differs"
    jit_status = None
    if entry.jit and entry.inputs:
        try:
            jitted = gc.jit(lambda *xs: entry.fn(gc, *xs), target="reference")
            j_out = jitted(*[gc.tensor(a) for a in entry.inputs])
            why = _same(j_out, t_out, entry.rtol, entry.check)
            jit_status = "ok" if why is None else "wrong"
            if why:
                return "ok", jit_status, f"jit: {why}"
        except Exception as e:  # noqa: BLE001
            return "ok", "error", f"jit: {type(e).__name__}: {str(e).splitlines()[0][:140]}"
    return "ok", jit_status, ""


def _ops_reaching(outputs):
    seen, stack, found = set(), list(outputs), set()
    while stack:
        v = stack.pop()
        if id(v) in seen or not hasattr(v, "node"):
            continue
        seen.add(id(v))
        found.add(v.node.op.name)
        stack += list(v.node.inputs)
    return found


def cpu_lowering_needs(entries=ENTRIES):
    """Entries whose traced graph holds an op the cpu target cannot compile yet (graphc.jit
    defaults to cpu, so these raise UnsupportedError there): {entry name: op names}."""
    import graphc as gc
    from graphc.backends import rules_of
    from graphc.ops import REGISTRY
    cpu = rules_of("cpu")  # graphc/lower/rules.py

    def lowers(name):
        coverage = cpu.coverage(REGISTRY[name])
        return coverage is not None and coverage.kind != "unsupported"
    needs = {}
    for e in entries:
        if not (e.jit and e.inputs):
            continue
        try:
            out = e.fn(gc, *[gc.placeholder(np.shape(a), np.asarray(a).dtype) for a in e.inputs])
        except Exception:  # noqa: BLE001 - the sweep itself reports entries that do not trace
            continue
        outs = list(out) if isinstance(out, (tuple, list)) else [out]
        missing = {op for op in _ops_reaching(outs) if not lowers(op)}
        if missing:
            needs[e.name] = sorted(missing)
    return needs


def sweep(entries=ENTRIES):
    import torch

    import graphc as gc
    torch.manual_seed(0)
    rows = []
    for e in entries:
        eager, jit, why = check_entry(e, torch, gc)
        rows.append((e, eager, jit, why))
    return rows


def coverage(rows):
    eager_ok = sum(1 for _, s, _, _ in rows if s == "ok")
    jit_rows = [j for _, s, j, _ in rows if j is not None or False]
    jit_applicable = [r for r in rows if r[0].jit and r[0].inputs]
    jit_ok = sum(1 for r in jit_applicable if r[2] == "ok")
    by_item = {}
    for e, s, j, _ in rows:
        c = by_item.setdefault(e.item, Counter())
        c["total"] += 1
        c["ok"] += s == "ok"
    return {"eager_ok": eager_ok, "total": len(rows), "jit_ok": jit_ok,
            "jit_total": len(jit_applicable), "by_item": by_item, "jit_rows": len(jit_rows)}


def report(rows, verbose=False):
    lines = []
    for e, s, j, why in rows:
        if verbose or s != "ok" or (j not in (None, "ok")):
            lines.append(f"{e.item:<26} {e.name:<32} eager={s:<8} jit={j or '-':<6} {why}")
    c = coverage(rows)
    lines.append("")
    for item, k in sorted(c["by_item"].items()):
        lines.append(f"item {item:<26} {k['ok']:>4}/{k['total']:<4} ({100 * k['ok'] / k['total']:.1f}%)")
    lines.append(f"eager: {c['eager_ok']}/{c['total']} names match PyTorch "
                 f"({100 * c['eager_ok'] / c['total']:.1f}%)")
    lines.append(f"graphc.jit: {c['jit_ok']}/{c['jit_total']} of the names that trace match "
                 f"({100 * c['jit_ok'] / max(c['jit_total'], 1):.1f}%)")
    needs = cpu_lowering_needs([r[0] for r in rows])
    ops = sorted({op for v in needs.values() for op in v})
    lines.append(f"of those, {len(needs)} need ops the cpu target cannot compile yet "
                 f"({', '.join(ops)}): under graphc.jit(target='cpu') they raise UnsupportedError")
    return "\n".join(lines)


if __name__ == "__main__":
    print(report(sweep(), verbose="-v" in sys.argv))
