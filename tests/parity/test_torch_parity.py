"""The PyTorch-parity sweep (tests/parity/torch_names.py through tests/parity/sweep.py), when
torch is installed: prints the coverage, and fails on any name that does not match PyTorch
unless it is listed below with the reason (docs/torch_parity.md carries the same list)."""
import pytest

from parity_gaps import KNOWN_EAGER_GAPS, KNOWN_JIT_GAPS

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def rows():
    from sweep import sweep
    return sweep()


def test_print_coverage(rows, capsys):
    from sweep import report
    with capsys.disabled():
        print("\n" + report(rows))


def test_every_name_matches_pytorch_eagerly(rows):
    bad = {e.name: f"{s}: {why}" for e, s, _, why in rows
           if s != "ok" and e.name not in KNOWN_EAGER_GAPS}
    assert not bad, f"names that do not match PyTorch: {bad}"


def test_every_name_matches_under_jit(rows):
    bad = {e.name: why for e, s, j, why in rows
           if s == "ok" and j not in (None, "ok") and e.name not in KNOWN_JIT_GAPS}
    assert not bad, f"names that do not match PyTorch under graphc.jit: {bad}"


def test_known_gaps_are_still_gaps(rows):
    """A fixed gap must leave the list (so the docs stay true)."""
    status = {e.name: (s, j) for e, s, j, _ in rows}
    fixed = [n for n in KNOWN_EAGER_GAPS if status.get(n, ("ok",))[0] == "ok"]
    fixed += [n for n in KNOWN_JIT_GAPS if status.get(n, ("ok", "ok"))[1] == "ok"]
    assert not fixed, f"listed as gaps but now matching PyTorch: {fixed}"


def test_coverage_goals(rows):
    from sweep import coverage
    c = coverage(rows)
    assert c["eager_ok"] / c["total"] >= 0.95
    assert c["jit_ok"] / c["jit_total"] >= 0.90
