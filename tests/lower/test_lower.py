"""Code generation helpers: typed literals, names, comments, loop collapsing, expressions."""
import numpy as np

import graphc as gc
from graphc.lower.emit import collapse, comment_text, sanitize
from graphc.ops.scalar import _typed, literal


def test_literals_keep_the_compute_dtype():
    assert literal(0.5, "float32") == "f32(0.5)"
    assert literal(float("nan"), "float64") == "f64(np.nan)"
    assert literal(-float("inf"), "float32") == "f32(-np.inf)"
    assert literal(3, "int64") == "i64(3)" and literal(1, "bool") == "np.bool_(True)"
    assert _typed("(1 / (1 + math.exp(-{0})))", ["t1"], {}, "float32") == \
        "(f32(1.0) / (f32(1.0) + math.exp(-t1)))"
    assert _typed("({0} if {0} > 0 else {alpha} * math.expm1({0}))", ["x"], {"alpha": 1.5},
                  "float32") == "(x if x > f32(0.0) else f32(1.5) * math.expm1(x))"


def test_user_text_is_made_safe():
    assert sanitize('x"; import os #\n') == "x___import_os"
    assert sanitize(None) == ""
    text = comment_text("line\nimport os\r\u2028é")
    assert "\n" not in text and "\r" not in text and text.isascii()


def test_dense_dims_collapse_into_one_loop():
    # (4, 8) contiguous + a row vector broadcast over rows: two loops; all dense: one loop
    shape, strides, _ = collapse([4, 8], [[8, 1], [8, 1]])
    assert shape == [32] and strides == [[1], [1]]
    shape, strides, _ = collapse([4, 8], [[8, 1], [0, 1]])
    assert shape == [4, 8]
    shape, _, classes = collapse([2, 3, 4], [[12, 4, 1]], classes=[0, 1, 1])
    assert shape == [2, 12] and classes == [0, 1]


def test_source_of_a_fused_reduction_is_one_loop():
    a, b = gc.placeholder((64,), name="a"), gc.placeholder((64,), name="b")
    exe = gc.compile(((a - b) ** 2).mean(), target="cpu")
    x = np.arange(64, dtype=np.float32)
    np.testing.assert_allclose(exe(x, x / 2).item(), np.mean((x / 2) ** 2), rtol=1e-6)
    body = exe.source.split("def program(")[1]
    assert body.count("for ") == 2  # the step loop and one pass over the data
    assert "fused [sub, pow, mean]" in body
