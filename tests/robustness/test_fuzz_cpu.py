"""Random graphs on target "cpu": the compiler agrees with eager mode (values and gradients).

A Numba compile costs ~3 s a program (and one big program of many random subgraphs costs
more than its parts: Numba's analyses are superlinear in function size), so the 1,000-graph
run executes the generated programs as plain Python (fuzz.INTERPRETED: every graphc pass,
the fusion, the memory plan and the lowering, without Numba's code generation), 25 programs
per graph, in float64 (and 250 more in float32); a few programs also go through Numba
itself. Longer runs:
    python -m graphc.testing.fuzz --graphs 20000 --targets cpu-interpreted --batch 25
"""
import pytest
from hypothesis import given, settings, strategies as st

from graphc.ops import elementwise
from graphc.testing import fuzz

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

BATCH = 25


def test_thousand_fixed_seed_graphs_agree_on_cpu_passes_and_lowering():
    counts = {}
    for first in range(0, 1000, BATCH):
        for result, n in fuzz.check_batch(range(first, first + BATCH),
                                          (fuzz.INTERPRETED,)).items():
            counts[result] = counts.get(result, 0) + n
    assert sum(counts.values()) == 1000
    assert counts["ok"] > 800, counts
    assert set(counts) <= {"ok", "ShapeError", "DTypeError"}, counts


def test_float32_graphs_agree_on_cpu_passes_and_lowering():
    # float32 takes the target's own exp/tanh (not libm): within 1e-4 of eager's NumPy
    counts = {}
    for first in range(5000, 5250, BATCH):
        for result, n in fuzz.check_batch(range(first, first + BATCH), (fuzz.INTERPRETED,),
                                          dtype="float32").items():
            counts[result] = counts.get(result, 0) + n
    # programs comparing values equal to within rounding are left out ("near tie")
    assert counts["ok"] > 150 and sum(counts.values()) == 250, counts


@settings(max_examples=150, deadline=None, derandomize=True)
@given(seeds=st.lists(st.integers(0, 2 ** 31), min_size=1, max_size=6),
       n_ops=st.integers(1, 16), dtype=st.sampled_from(["float32", "float64"]))
def test_hypothesis_batches(seeds, n_ops, dtype):
    # longer programs and mixed batch sizes stress fusion and the arena packing
    fuzz.check_batch(seeds, (fuzz.INTERPRETED,), n_ops=n_ops, dtype=dtype)


@pytest.mark.parametrize("seed,dtype", [(3, "float64"), (11, "float64"), (42, "float64"),
                                        (1234, "float32"), (7, "float32")])
def test_programs_compiled_by_numba_agree(seed, dtype):
    # one program per compile: cheaper than a batch under Numba (see module doc)
    assert fuzz.check_batch([seed], ("cpu",), illegal_rate=0.0, dtype=dtype)["ok"] == 1


def test_interpreted_run_catches_a_wrong_lowering(monkeypatch):
    monkeypatch.setattr(elementwise.tanh, "scalar", "math.sin({0})")
    seeds = [s for s in range(200)
             if any(i[:2] == ("unary", "tanh") for i in fuzz.make_program(s, 8, 0.0)[1])][:3]
    assert seeds
    with pytest.raises(AssertionError, match="target cpu-interpreted"):
        fuzz.check_batch(seeds, (fuzz.INTERPRETED,), illegal_rate=0.0)


def test_the_same_program_twice_in_one_batch():
    # same placeholder names, shared constants (CSE across subgraphs): still checked apart
    assert fuzz.check_batch([7, 7, 8], (fuzz.INTERPRETED,), illegal_rate=0.0) == {"ok": 3}
