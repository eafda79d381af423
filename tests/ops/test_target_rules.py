"""Every op has, on every target, a rule or a declared fallback (graphc/ops/rules.py), and the
passes and lowerings find ops by Op object and traits, never by name."""
import pathlib
import re

import numpy as np
import pytest

import graphc as gc
from graphc.backends import rules_of
from graphc.ops import REGISTRY, Op, elementwise as E, reduce as R, shape as S
from graphc.ops.registry import Reduction, View, same_type
from graphc.ops.rules import FALLBACKS, TargetRules

TARGETS = ("reference", "cpu", "cuda")


def _rules(target):
    rules = rules_of(target)
    if rules is None:
        pytest.skip(f"the {target} target's module does not load here")
    return rules


@pytest.mark.parametrize("target", TARGETS)
def test_every_op_has_a_rule_or_a_declared_fallback(target):
    rules = _rules(target)
    missing = [name for name, op in REGISTRY.items() if rules.coverage(op) is None]
    assert not missing, f"target {target!r} declares nothing for {missing}: register a rule " \
                        f"or a fallback in its rule table"
    for op in REGISTRY.values():
        coverage = rules.coverage(op)
        assert coverage.kind in ("rule",) + FALLBACKS and coverage.detail, (op.name, coverage)


def test_tables_are_keyed_by_op_objects():
    for target in TARGETS:
        rules = _rules(target)
        for key in list(rules._rules) + list(rules._fallbacks):
            assert not isinstance(key, str), (target, key)
            assert key.name in REGISTRY or key.name == "fused", (target, key)


def test_a_rule_is_given_once_and_fallbacks_are_known_kinds():
    rules = TargetRules("test")
    rules.rule(E.add)(lambda *a: None)
    with pytest.raises(ValueError, match="has a rule already"):
        rules.fallback("host", "twice", E.add)
    with pytest.raises(ValueError, match="unknown fallback"):
        rules.fallback("somewhere", "?", E.mul)
    assert rules.coverage(E.mul) is None and rules.lookup(E.mul) is None


def test_cpu_unsupported_fallback_raises_with_its_reason():
    from graphc.ops.scans import scatter_extreme
    fallback = _rules("cpu").fallback_of(scatter_extreme)
    assert fallback.how == "unsupported"
    x = gc.placeholder((3,), gc.float32, name="x")
    y = scatter_extreme(x, gc.constant(np.array([0, 1, 0])), x)
    with pytest.raises(gc.UnsupportedError, match=re.escape(fallback.reason)):
        _cpu_source(y, x)


def _cpu_source(y, x):
    """The cpu target's generated program for y(x) (code generation only, no Numba compile)."""
    from graphc.lower import Options, lower_program
    from graphc.passes import run_pipeline
    graph = gc.Graph.from_outputs([y], [x])
    return lower_program(run_pipeline(graph, input_types={x: x.type}), Options()).source


@pytest.fixture
def new_elementwise_op():
    op = Op("_scaled_by_three", infer=same_type, reference=lambda x: x * 3,
            vjp=lambda c, g: [g * 3], scalar="({0} * 3)", family="elementwise")
    yield op
    del REGISTRY[op.name]


def test_a_new_op_with_a_scalar_function_needs_no_entry_of_its_own(new_elementwise_op):
    op = new_elementwise_op
    for target in ("reference", "cpu"):
        assert _rules(target).coverage(op).kind == "rule"
    x = gc.placeholder((4,), gc.float32, name="x")
    exe = gc.compile(gc.exp(op(x)), inputs=[x], target="reference")
    np.testing.assert_allclose(exe(np.arange(4, dtype=np.float32)),
                               np.exp(3 * np.arange(4, dtype=np.float32)), rtol=1e-6)
    source = _cpu_source(gc.exp(op(x)), x)
    assert "* F32_3_0)" in source and "fused [_scaled_by_three, exp]" in source


def test_traits_are_consistent_with_the_ops_meaning():
    for op in REGISTRY.values():
        assert op.scalar is None or isinstance(op.scalar, str), op.name
        assert op.view is None or isinstance(op.view, View), op.name
        assert op.reduction is None or isinstance(op.reduction, Reduction), op.name
        n = op.num_inputs
        assert all(0 <= i < (n if n is not None else 99) for i in op.shape_only_inputs), op.name
    assert {op.name for op in REGISTRY.values() if op.reduction} == {"sum", "mean", "amax",
                                                                     "amin"}
    assert R.mean.reduction.mean and R.amax.reduction.combine == "max"
    assert S.slice.view.writable and not S.broadcast_to.view.writable
    assert S.cat.view is None  # a new array, never a view of its first input
    assert REGISTRY["shape_prod"].reads_only_shapes and not S.expand_like.reads_only_shapes
    assert {op.name for op in REGISTRY.values() if op.effects.collective} == {
        "all_reduce", "broadcast"}


# Passes and lowerings name ops by object (`node.op is shape.permute`) or by trait: an op
# renamed or added keeps working, and what an op does is found from the op.
_NAME_TEST = re.compile(r"\bop\.name\s*(==|!=|in\b|not in\b)|\bop_name\s*(==|in\b)")


def test_passes_and_lowerings_do_not_dispatch_on_op_names():
    root = pathlib.Path(gc.__file__).parent
    files = [*(root / "passes").glob("*.py"), *(root / "lower").glob("*.py"),
             *(root / "backends").glob("*.py"), root / "storage" / "cuda_ops.py",
             root / "docs_gen.py"]
    found = [f"{f.relative_to(root)}:{i}: {line.strip()}" for f in files
             for i, line in enumerate(f.read_text().splitlines(), 1) if _NAME_TEST.search(line)]
    assert not found, "dispatch on the Op object or a trait instead:\n" + "\n".join(found)
