"""Random graphs: eager mode and the compile targets agree on values and gradients."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from graphc.testing import fuzz

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


def test_thousand_fixed_seed_graphs_agree_on_reference_target():
    counts = {}
    for seed in range(1000):
        result = fuzz.check_program(seed, ("reference",))
        counts[result] = counts.get(result, 0) + 1
    assert counts.get("ok", 0) > 800, counts  # most programs are legal...
    assert set(counts) <= {"ok", "ShapeError", "DTypeError"}  # ...the rest fail cleanly


@settings(max_examples=150, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2 ** 31), n_ops=st.integers(1, 14))
def test_hypothesis_programs(seed, n_ops):
    fuzz.check_program(seed, ("reference",), n_ops=n_ops)


def test_programs_replay_identically():
    a = fuzz.make_program(42)
    b = fuzz.make_program(42)
    assert repr(a[1]) == repr(b[1])
    for x, y in zip(a[0], b[0]):
        np.testing.assert_array_equal(x, y)


def test_a_wrong_gradient_rule_is_caught(monkeypatch):
    """Eager and static share gradient rules, so the fuzzer also checks finite differences."""
    from graphc.ops import elementwise
    monkeypatch.setattr(elementwise.tanh, "vjp", lambda c, g: [g])
    caught = 0
    for seed in range(100):
        if any(i[:2] == ("unary", "tanh") for i in fuzz.make_program(seed)[1]):
            with pytest.raises(AssertionError, match="finite differences"):
                fuzz.check_program(seed, ("reference",), illegal_rate=0.0)
            caught += 1
    assert caught > 3
