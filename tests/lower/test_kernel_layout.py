"""The kernel layout (docs/compiler.md): one cached kernel per plan step, shared by identical
layers, other signatures and other graphs; the program calls them in order."""
import numpy as np
import pytest

import graphc as gc
from graphc import nn, optim
import graphc.nn.functional as F


def _mlp_step(depth, batch=None, width=24):
    gc.manual_seed(0)
    layers = []
    for _ in range(depth):
        layers += [nn.Linear(width, width), nn.ReLU()]
    model = nn.Sequential(*layers, nn.Linear(width, 5))
    x = gc.placeholder((batch, width), gc.float32, name="x")
    y = gc.placeholder((batch,), gc.int64, name="y")
    loss = F.cross_entropy(model(x), y)
    opt = optim.Adam(model.parameters(), lr=1e-3)
    return gc.compile(loss, [x, y], updates=opt.updates(loss), target="cpu", layout="kernels")


def _feeds(batch, width=24):
    rng = np.random.default_rng(0)
    return rng.standard_normal((batch, width)).astype(np.float32), np.arange(batch) % 5


@pytest.fixture(scope="module")
def shallow():
    exe = _mlp_step(2)
    exe(*_feeds(8))
    return exe


def test_identical_layers_share_their_kernels(shallow):
    deep = _mlp_step(5)
    deep(*_feeds(8))
    a, b = shallow.compile_report(), deep.compile_report()
    assert a.layout == b.layout == "kernels"
    assert b.functions == a.functions and b.calls > a.calls  # more calls, no new kernel
    assert b.compiled == 0 and b.reused + b.from_cache == len(
        next(iter(deep._runner.programs.values())).dispatchers) >= b.functions - 0


def test_a_new_batch_size_reuses_the_size_independent_kernels(shallow):
    exe = _mlp_step(2, batch=None)
    exe(*_feeds(8))
    exe(*_feeds(5))  # a DataLoader's last partial batch
    report = exe.compile_report()
    assert report.reused > 0  # dense 1-D loops and GEMMs take their sizes as arguments


def test_kernel_and_whole_layouts_agree():
    x = gc.placeholder((6, 24), name="x")
    w = gc.placeholder((24, 24), name="w")
    y = gc.tanh(x @ w)[1:].sum(0) * 2  # a slice: an operand view that starts mid-buffer
    feeds = [np.linspace(-1, 1, 144, dtype=np.float32).reshape(6, 24),
             np.linspace(1, -1, 576, dtype=np.float32).reshape(24, 24)]
    got = {layout: gc.compile(y, [x, w], target="cpu", layout=layout)(*feeds).numpy()
           for layout in ("kernels", "whole")}
    want = (np.tanh(feeds[0].astype(np.float64) @ feeds[1])[1:].sum(0) * 2)
    np.testing.assert_allclose(got["kernels"], want, rtol=1e-5)
    np.testing.assert_allclose(got["kernels"], got["whole"], rtol=1e-6)


def test_the_program_reads_as_calls_and_lists_each_kernel_once(shallow):
    source = shallow.source
    assert "def program(" in source and "# ---- k0: kernel" in source
    assert source.count("@njit(") >= shallow.compile_report().functions
    with pytest.raises(ValueError, match="layout must be"):
        gc.compile(gc.placeholder((2,)) * 2, target="cpu", layout="fast")


def test_blas_products_are_numpy_calls_in_the_program(shallow):
    program = shallow.source.split("# ---- k0:")[0]
    # three Linear layers: 3 products forward, 3 weight gradients, 2 input gradients
    assert sum(line.lstrip().startswith("dot(") for line in program.splitlines()) == 8
    assert "gemm(" not in shallow.source  # no kernel wraps Numba's np.dot


def test_every_parameter_update_is_one_shared_kernel(shallow):
    """Adam's one-element steps (count, bias corrections) join the update's kernel, and the
    weight gradient comes out dense, so weights and biases of every layer share it; the lr
    is read in the parameters' dtype (ParamGroup.lr_in), so no cast joins the first one."""
    program = shallow.source.split("# ---- k0:")[0]
    updates = {line.split("(")[0].strip() for line in program.splitlines()
               if line.lstrip().startswith("k") and "_exp_avg," in line}
    assert len(updates) == 1
    report = shallow.compile_report()
    assert report.calls < program.count("# [")  # fewer kernel calls than plan steps


def test_tiny_steps_join_the_next_kernel_and_keep_their_meaning():
    x = gc.placeholder((8,), name="x")
    t = x.sum() * 2 + 1  # one-element steps, read twice: not fused into either reader
    y1, y2 = x * t, x - t
    exe = gc.compile([y1, y2], [x], target="cpu", layout="kernels")
    xv = np.linspace(-1, 1, 8, dtype=np.float32)
    got = [r.numpy() for r in exe(xv)]
    tv = xv.sum() * 2 + 1
    np.testing.assert_allclose(got[0], xv * tv, rtol=1e-6)
    np.testing.assert_allclose(got[1], xv - tv, rtol=1e-6)
    assert exe.compile_report().calls < exe.source.split("# ---- k0:")[0].count("# [")


def test_library_kernels_are_called_by_the_program_without_a_wrapper():
    x = gc.placeholder((2, 3, 6, 6), name="x")
    w = gc.placeholder((4, 3, 3, 3), name="w")
    y = F.conv2d(x, w, padding=1)
    exe = gc.compile(y, [x, w], target="cpu", layout="kernels")
    xv = np.linspace(-1, 1, 216, dtype=np.float32).reshape(2, 3, 6, 6)
    wv = np.linspace(1, -1, 108, dtype=np.float32).reshape(4, 3, 3, 3)
    want = gc.compile(y, [x, w], target="reference")(xv, wv).numpy()
    np.testing.assert_allclose(exe(xv, wv).numpy(), want, rtol=1e-5, atol=1e-6)
    program = exe.source.split("# ---- k0:")[0]
    assert "rk_conv2d(in0_x[0:216].reshape((2, 3, 6, 6,))" in program
    assert exe.compile_report().functions == 0  # no kernel of its own


def test_a_dense_batch_times_a_matrix_is_one_blas_call():
    x = gc.placeholder((3, 4, 24), name="x")  # a Linear layer on a (batch, time, feature) input
    w = gc.placeholder((5, 24), name="w")
    v = gc.placeholder((24,), name="v")
    exe = gc.compile([x @ w.permute(1, 0), x @ v], [x, w, v], target="cpu", layout="kernels")
    xv = np.linspace(-1, 1, 288, dtype=np.float32).reshape(3, 4, 24)
    wv = np.linspace(1, -1, 120, dtype=np.float32).reshape(5, 24)
    vv = np.linspace(0, 1, 24, dtype=np.float32)
    got = [r.numpy() for r in exe(xv, wv, vv)]
    np.testing.assert_allclose(got[0], xv @ wv.T, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got[1], xv @ vv, rtol=1e-5, atol=1e-6)
    assert exe.source.split("# ---- k0:")[0].count("dot(in0_x[0:288].reshape((12, 24))") == 2


def test_skinny_products_and_narrow_rows_are_loops_with_literal_widths():
    """(N, 2) @ (2, 3) is a loop kernel, not a BLAS call (7x faster on W2's 40,401 rows),
    and a row of width 3 keeps its width as a literal, which LLVM unrolls."""
    x = gc.placeholder((64, 2), name="x")
    w = gc.placeholder((2, 3), name="w")
    b = gc.placeholder((3,), name="b")
    exe = gc.compile(gc.tanh(x @ w + b), [x, w, b], target="cpu", layout="kernels")
    xv = np.linspace(-1, 1, 128, dtype=np.float32).reshape(64, 2)
    wv = np.array([[0.5, -1, 2], [1.5, 0.25, -0.5]], np.float32)
    bv = np.array([0.1, -0.2, 0.3], np.float32)
    np.testing.assert_allclose(exe(xv, wv, bv).numpy(), np.tanh(xv @ wv + bv), rtol=1e-5,
                               atol=1e-6)
    program, kernels = exe.source.split("# ---- k0:", 1)
    assert "dot(" not in program
    assert "range(3)" in kernels and "range(n1)" not in kernels
