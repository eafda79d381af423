"""User strings that reach generated source (names, symbolic dims, source lines) are
sanitized: compiling works or fails cleanly, nothing user-supplied runs, no string appears raw.
"""
import re

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import graphc as gc
from graphc import nn
from graphc.testing import fuzz

MARKER = "/tmp/graphc_pwned_by_a_name"
HOSTILE = [
    f"\"); open('{MARKER}','w')#",
    f"'''\nopen('{MARKER}', 'w')\n'''",
    f"x\nimport os; os.system('touch {MARKER}')",
    "__import__('os').system('id')",
    "def", "lambda", "None", "return", "in0", "w_float32", "program", "steps",
    "x\r\ny", "tab\tname", "nul\x00byte", "back\\slash", "{0}{1}{}", "#", "%s%d",
    "\u2028line separator", "ünïcödé 名前 🚀", "\ufeffbom", "x" * 5000, "", " ", "0digits",
]


def _build(name):
    """A small training-like graph where `name` reaches every place a user string can:
    a placeholder, a symbolic dim, a variable and a module parameter."""
    x = gc.placeholder((None, 3), name=name)
    model = nn.Linear(3, 2)
    setattr(model, "extra", nn.Parameter(gc.ones(2)))
    model.weight.name = name
    v = gc.variable(np.full(2, 0.5, np.float32), name=name)
    out = gc.tanh(model(x)) * model.extra + v
    loss = out.sum()
    grads = gc.grad(loss, [model.weight])
    return x, [loss, out, *grads], {v: v * 0.9}


def _check_source(source, name):
    assert source.isascii() and all(c == "\n" or 32 <= ord(c) < 127 for c in source)
    if not re.fullmatch(r"[A-Za-z0-9_]*", name) and len(name.strip()) > 3:
        assert name not in source
    compile(source, "<generated>", "exec")  # valid Python


@pytest.fixture(autouse=True)
def _no_marker():
    import os
    if os.path.exists(MARKER):
        os.remove(MARKER)
    yield
    assert not os.path.exists(MARKER), "a user string was executed"


@pytest.mark.parametrize("name", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_names_are_sanitized(name):
    x, outputs, updates = _build(name)
    exe = gc.compile(outputs, [x], updates=updates, target="cpu")
    feed = np.arange(12, dtype=np.float32).reshape(4, 3) / 10
    want = [r.numpy() for r in gc.compile(outputs, [x], target="reference")(feed)]
    got = fuzz.run_interpreted(exe, [feed])  # loads the generated module, runs it as Python
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)
    _check_source(exe.source, name)


@pytest.mark.parametrize("name", HOSTILE[:3])
def test_hostile_names_compile_with_numba(name):
    x, outputs, updates = _build(name)
    exe = gc.compile(outputs, [x], updates=updates, target="cpu")
    feed = np.ones((2, 3), np.float32)
    exe(feed)
    _check_source(exe.source, name)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(name=st.text(min_size=0, max_size=60))
def test_any_text_as_a_name(name):
    x = gc.placeholder((2,), name=name)
    v = gc.variable(np.zeros(2, np.float32), name=name)
    exe = gc.compile([gc.exp(x) + v], [x], updates={v: v + x}, target="cpu")
    [got] = fuzz.run_interpreted(exe, [np.ones(2, np.float32)])
    np.testing.assert_allclose(got, np.full(2, np.e), rtol=1e-6)
    _check_source(exe.source, name)


def test_hostile_source_lines_stay_in_comments(tmp_path):
    # a user's line (shown in comments of the annotated source) with a newline and code
    script = tmp_path / "user.py"
    script.write_text(f"import graphc as gc\nx = gc.placeholder((2,), name='x')\n"
                      f"y = gc.exp(x) + 1  # \"\"\" \\\\ \\u2028 open('{MARKER}', 'w')\n")
    namespace = {}
    exec(compile(script.read_text(), str(script), "exec"), namespace)
    exe = gc.compile(namespace["y"], [namespace["x"]], target="cpu")
    fuzz.run_interpreted(exe, [np.ones(2, np.float32)])
    assert "user.py" in exe.source  # the location is shown...
    for line in exe.source.splitlines():
        if "open(" in line:
            assert line.lstrip().startswith("#")  # ...only as a comment


@pytest.mark.parametrize("name", HOSTILE[:4] + ["ünïcödé 名前", "x" * 500])
def test_hostile_module_attribute_and_symbolic_dim_names(name):
    model = nn.Sequential()
    setattr(model, name or "empty", nn.Linear(3, 2))  # parameter names: "<name>.weight"
    x = gc.placeholder((name or "n", 3), name="x")     # a symbolic dim named by the user
    loss = model(x).sum()
    outputs = [loss, *gc.grad(loss, list(model.parameters()))]
    exe = gc.compile(outputs, [x], target="cpu")
    feed = np.ones((4, 3), np.float32)
    want = [r.numpy() for r in gc.compile(outputs, [x], target="reference")(feed)]
    for g, w in zip(fuzz.run_interpreted(exe, [feed]), want):
        np.testing.assert_allclose(g, w, rtol=1e-6)
    _check_source(exe.source, name)
