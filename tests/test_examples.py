"""Each example runs in both modes with tiny step counts; eager and static agree."""
from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys

import numpy as np
import pytest

try:
    import matplotlib  # noqa: F401  (optional: examples skip their plots without it)
    HAS_MATPLOTLIB = True
except ImportError:
    HAS_MATPLOTLIB = False

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")


@pytest.fixture(scope="module")
def example():
    sys.path.insert(0, EXAMPLES)
    try:
        yield lambda name: importlib.import_module(name)
    finally:
        sys.path.remove(EXAMPLES)


def both_modes(module, *args):
    eager = module.main(["--mode", "eager", "--no-plot", *args])
    static = module.main(["--mode", "static", "--target", "reference", "--no-plot", *args])
    return eager, static


def test_xor_same_numbers_in_both_modes(example):
    eager, static = both_modes(example("xor"), "--steps", "40")
    np.testing.assert_allclose(static["outputs"], eager["outputs"], rtol=1e-5)
    assert static["loss"] == pytest.approx(eager["loss"], rel=1e-5)


def test_regression_same_numbers_in_both_modes(example):
    eager, static = both_modes(example("regression"), "--steps", "5")
    assert static["loss"] == pytest.approx(eager["loss"], rel=1e-4)


def test_linear_regression_learns_the_line(example):
    eager, static = both_modes(example("linear_regression"), "--epochs", "8")
    for result in (eager, static):
        assert result["weight"] == pytest.approx(3, abs=0.1)
        assert result["bias"] == pytest.approx(2, abs=0.1)
    assert static["weight"] == pytest.approx(eager["weight"], rel=1e-5)


def test_gradients_are_exact(example, tmp_path):
    module = example("gradients")
    assert module.main(["--mode", "eager", "--plot", str(tmp_path / "g.png")])["max_error"] == 0
    assert (tmp_path / "g.png").exists() == HAS_MATPLOTLIB
    assert module.main(["--mode", "static", "--target", "reference", "--no-plot"])[
        "max_error"] == 0


def test_digits_cnn_runs(example):
    pytest.importorskip("sklearn")
    eager, static = both_modes(example("digits_cnn"), "--epochs", "1", "--limit", "96")
    for result in (eager, static):
        assert np.isfinite(result["loss"]) and 0 <= result["accuracy"] <= 1


def test_an_example_runs_as_a_script_with_the_default_target(tmp_path):
    out = subprocess.run([sys.executable, os.path.join(EXAMPLES, "xor.py"), "--mode", "static",
                          "--steps", "20", "--plot", str(tmp_path / "xor.png")],
                         capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "final loss" in out.stdout
    assert "compiling the training step" in out.stdout  # says that it compiles, and how long
    assert re.search(r"compiled the training step in \d+\.\d s", out.stdout), out.stdout
    assert (tmp_path / "xor.png").exists() == HAS_MATPLOTLIB


def test_the_demo_shows_the_compiler_working(tmp_path):
    out = subprocess.run([sys.executable, os.path.join(EXAMPLES, "demo.py")],
                         capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "target='cpu'" in out.stdout  # graphc.compile's default: the compiler, not NumPy
    assert re.search(r"compiled in \d+\.\d s", out.stdout)
    assert "eager and compiled agree: True" in out.stdout
    assert "def program" in out.stdout  # the generated code is shown


@pytest.mark.parametrize("name", ["xor", "regression", "linear_regression", "gradients",
                                  "digits_cnn"])
def test_help_describes_the_example_in_whole_sentences(example, capsys, name):
    with pytest.raises(SystemExit):
        example(name).main(["--help"])
    text = capsys.readouterr().out
    about = example(name).__doc__.strip().split("\n\n")[0]
    assert about in text and about.endswith(".")
    assert "python examples/" in text  # how to run it


def test_an_unavailable_target_falls_back_with_a_note(example, capsys, monkeypatch):
    import graphc.backends as backends
    real = backends.unavailable_reason
    monkeypatch.setattr(backends, "unavailable_reason",
                        lambda name: "no usable CUDA GPU or driver" if name == "cuda"
                        else real(name))
    result = example("gradients").main(["--mode", "static", "--target", "cuda", "--no-plot",
                                        "--points", "5"])
    assert result["max_error"] == 0
    err = capsys.readouterr().err
    assert "compile target 'cuda' is not available here (no usable CUDA GPU or driver)" in err
    assert f"using {backends.default_target()!r}" in err


def test_tiny_transformer_same_numbers_in_both_modes(example):
    eager, static = both_modes(example("tiny_transformer"), "--steps", "30")
    np.testing.assert_allclose(static["losses"], eager["losses"], rtol=1e-4)
    assert eager["losses"][-1] < eager["losses"][0]


def test_lbfgs_sequence_same_numbers_in_both_modes_and_learns(example):
    eager, static = both_modes(example("lbfgs_sequence"), "--steps", "2")
    np.testing.assert_allclose(static["losses"], eager["losses"], rtol=1e-8)
    learned = example("lbfgs_sequence").main(["--mode", "eager", "--no-plot", "--steps", "6"])
    assert learned["test_mse"] < 1e-3


def test_vae_with_the_legacy_sum_loss_same_numbers_in_both_modes(example):
    eager, static = both_modes(example("vae"), "--steps", "60")
    np.testing.assert_allclose(static["losses"], eager["losses"], rtol=1e-4)
    assert np.mean(eager["losses"][-10:]) < np.mean(eager["losses"][:10])


def test_lstm_classifier_trains_in_both_modes(example):
    # eager packs the variable-length sentences, static runs them padded: not the same
    # numbers by design, both must learn
    eager, static = both_modes(example("lstm_classifier"), "--steps", "40")
    for result in (eager, static):
        assert np.mean(result["losses"][-8:]) < np.mean(result["losses"][:8])


def test_resnet_blocks_same_numbers_and_running_stats_in_both_modes(example):
    eager, static = both_modes(example("resnet_blocks"), "--steps", "12")
    np.testing.assert_allclose(static["losses"], eager["losses"], rtol=1e-4)
    np.testing.assert_allclose(static["running_mean"], eager["running_mean"], rtol=1e-4,
                               atol=1e-6)
