"""docs/ops.md is generated from the op registry and must stay in sync with it."""
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


def test_target_support_comes_from_the_target(monkeypatch):
    import sys
    import types
    fake = types.ModuleType("graphc.backends.cpu")
    fake.SUPPORTED_OPS = {"add"}
    monkeypatch.setitem(sys.modules, "graphc.backends.cpu", fake)
    rows = {r.split("`")[1]: [c.strip() for c in r.split("|")[1:-1]]
            for r in docs_gen.ops_markdown().splitlines() if r.startswith("| `")}
    assert rows["add"][4] == "✓" and rows["mul"][4] == "—"
