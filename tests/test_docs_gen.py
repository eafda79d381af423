"""docs/ops.md is generated from the op registry and must stay in sync with it."""
import numpy as np

from graphc import docs_gen
from graphc.ops import REGISTRY


def test_ops_md_is_in_sync_with_the_registry():
    with open(docs_gen.ops_md_path(), encoding="utf-8") as f:
        current = f.read()
    assert current == docs_gen.ops_markdown(), \
        "docs/ops.md is out of date: run `python -m graphc.docs_gen` and commit the result"


def test_every_op_has_one_row_with_its_facts():
    text = docs_gen.ops_markdown()
    rows = [line for line in text.splitlines() if line.startswith("| `")]
    assert sorted(r.split("`")[1] for r in rows) == sorted(REGISTRY)
    row = {r.split("`")[1]: [c.strip() for c in r.split("|")[1:-1]] for r in rows}
    assert row["tanh"][1:4] == ["1 → 1", "NumPy", "✓"] and row["tanh"][6] == "✓"
    assert row["eq"][3] == "—" and row["matmul"][6] == ""   # no gradient; not fusible
    assert row["placeholder"][2] == "—"
    assert text.rstrip().endswith(f"{len(REGISTRY)} ops.")


def test_target_support_comes_from_the_targets_rule_tables():
    from graphc.ops import elementwise as E
    from graphc.ops.rules import TargetRules
    fake = TargetRules("cpu")
    fake.rule(E.add)(lambda *args: None)
    fake.fallback("host", "runs elsewhere", E.sub)
    rules = {**docs_gen.target_rules(), "cpu": fake}
    text = docs_gen.ops_markdown(rules=rules)
    rows = {r.split("`")[1]: [c.strip() for c in r.split("|")[1:-1]]
            for r in text.splitlines() if r.startswith("| `")}
    assert rows["add"][4] == "✓" and rows["sub"][4] == "host" and rows["mul"][4] == "—"
    assert "| cpu | host | `sub` | runs elsewhere |" in text


# ---- the target columns against what the targets really do ------------------------------------------
def _nn_cases():
    """Graphs with the ops the op table does not reach (nn kernels, variables, index_put,
    batch_norm)."""
    import numpy as np
    import graphc as gc
    import graphc.nn.functional as F
    from graphc.ops import shape
    from graphc.ops.pool import max_pool2d_gather
    x = gc.placeholder((2, 2, 6, 6), gc.float64, name="x")
    w = gc.variable(np.ones((3, 2, 3, 3)), name="w")
    wt = gc.variable(np.ones((2, 3, 2, 2)), name="wt")
    out = [F.conv2d(x, w, padding=1), F.conv_transpose2d(x, wt, stride=2),
           F.max_pool2d(x, 2), F.avg_pool2d(x, 3, stride=2, padding=1),
           F.adaptive_avg_pool2d(x, 2), F.dropout(x, 0.5),
           shape.index_put(x, gc.constant(np.zeros(6)), index=x[0, 1, 2].node.attrs["index"]),
           F.batch_norm(x, None, None, training=True)]
    pooled = out[2].node.outputs  # (values, indices)
    out.append(max_pool2d_gather(x, pooled[1]))  # (second-order gradients of max_pool2d use it)
    loss = sum((o * o).sum() for o in out)
    return [x], out + gc.grad(loss, [x, w, wt])


def _linear_case():
    """The eager-only `linear` op (symbolic code uses matmul + add): the cpu target refuses it."""
    import graphc as gc
    from graphc.ops.linalg import linear
    x = gc.placeholder((2, 3), gc.float64, name="x")
    w = gc.variable(np.ones((4, 3)), name="w")
    out = linear(x, w)
    return [x], [out] + gc.grad((out * out).sum(), [x, w])


def _lowered_ops():
    """Ops in graphs that the cpu target lowered to source (code generation only: the suite's
    cpu tests run that code), and ops whose lowering raised UnsupportedError."""
    import graphc as gc
    from graphc.lower import Options, lower_program
    from graphc.passes import run_pipeline
    from helpers import cotangent_like, float_inputs, placeholders
    from op_table import CASES
    from op_table_more import MORE_CASES
    graphs = []
    for case in (c for c in CASES + MORE_CASES if c.static):
        ps = placeholders(case.inputs)
        outs = [case.fn(*ps)]
        if case.grad:
            loss = (outs[0] * gc.constant(cotangent_like(outs[0].shape))).sum()
            outs += list(gc.grad(loss, [ps[i] for i in float_inputs(case)]))
        graphs.append((ps, outs))
    graphs.append(_nn_cases())
    graphs.append(_linear_case())
    lowered, refused = set(), {}
    for ps, outs in graphs:
        graph = gc.Graph.from_outputs(outs, ps)
        names = {n.op.name for n in graph.nodes}
        try:
            lower_program(run_pipeline(graph, input_types={p: p.type for p in ps}), Options())
            lowered |= names
        except gc.UnsupportedError as e:
            refused.update((name, str(e)) for name in names)
    return lowered, refused


def test_the_cpu_column_is_what_the_cpu_target_lowers():
    columns = docs_gen.target_columns()
    lowered, refused = _lowered_ops()
    collectives = {n for n, op in REGISTRY.items() if op.effects.collective}
    assert lowered | set(refused) == set(REGISTRY) - collectives  # every op is exercised
    # all_reduce is lowered (gradient buckets, exercised by tests/distributed); a broadcast
    # of variables runs before the program
    assert columns["all_reduce"][0] == "✓" and columns["broadcast"][0] == "split"
    assert collectives == {"all_reduce", "broadcast"}
    for name in lowered:
        assert columns[name][0] == "✓", f"{name} compiles for cpu but ops.md says otherwise"
    for name, why in refused.items():
        assert name in lowered or columns[name][0] == "—", why


def test_the_cuda_column_is_the_cuda_dispatch():
    from graphc.storage import cuda_ops
    columns = docs_gen.target_columns()
    for name, op in REGISTRY.items():
        if op.is_leaf:
            continue
        on_host = cuda_ops.implementation(op) is cuda_ops._on_host
        assert columns[name][1] == ("host" if on_host else "✓"), name
    assert sum(c[1] == "✓" for c in columns.values()) > 70  # (docs/cuda.md: almost all)


def test_help_does_not_rewrite_the_table(capsys, monkeypatch):
    import pytest
    written = []
    monkeypatch.setattr(docs_gen, "ops_md_path", lambda: written.append(1) or "/nonexistent")
    with pytest.raises(SystemExit) as stop:
        docs_gen.main(["--help"])
    assert stop.value.code == 0 and "--check" in capsys.readouterr().out and not written
