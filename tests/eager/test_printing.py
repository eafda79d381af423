"""Tensors and modules print as PyTorch prints them (the strings below are PyTorch 2.13's;
with torch installed, many more cases are compared with it directly)."""
import numpy as np
import pytest

import graphc as gc
from graphc import nn

PINNED = [
    (lambda T: T.tensor([1.5, 2.0]), "tensor([1.5000, 2.0000])"),
    (lambda T: T.tensor([[2., 4.], [6., 8.]]), "tensor([[2., 4.],\n        [6., 8.]])"),
    (lambda T: T.tensor([1e-5, 1e5]), "tensor([1.0000e-05, 1.0000e+05])"),
    (lambda T: T.tensor(3.25), "tensor(3.2500)"),
    (lambda T: T.tensor([True, False]), "tensor([ True, False])"),
    (lambda T: T.tensor([float("nan"), 1.0, float("inf")]), "tensor([nan, 1., inf])"),
    (lambda T: T.tensor(np.arange(2000.)),
     "tensor([0.0000e+00, 1.0000e+00, 2.0000e+00,  ..., 1.9970e+03, 1.9980e+03,\n"
     "        1.9990e+03], dtype=graphc.float64)"),
    (lambda T: T.tensor(np.zeros((0, 3))), "tensor([], size=(0, 3), dtype=graphc.float64)"),
    (lambda T: T.tensor([-1.5, 2.25], requires_grad=True) * 2,
     "tensor([-3.0000,  4.5000], grad_fn=<MulBackward0>)"),
]


@pytest.mark.parametrize("make, text", PINNED)
def test_tensors_print_as_pytorch(make, text):
    assert repr(make(gc)) == text


def test_long_rows_wrap_at_80_columns_as_pytorch():
    text = repr(gc.tensor(np.arange(40.) / 3, dtype=gc.float32))
    lines = text.splitlines()
    assert lines[0] == ("tensor([ 0.0000,  0.3333,  0.6667,  1.0000,  1.3333,  1.6667,  2.0000,  "
                        "2.3333,")
    assert all(len(line) <= 80 for line in lines) and lines[1].startswith("         2.6667")


MODULES = [
    (lambda N: N.Dropout(0.5), "Dropout(p=0.5, inplace=False)"),
    (lambda N: N.BatchNorm2d(4), "BatchNorm2d(4, eps=1e-05, momentum=0.1, affine=True, "
                                 "bias=True, track_running_stats=True)"),
    (lambda N: N.LayerNorm(4), "LayerNorm((4,), eps=1e-05, elementwise_affine=True, bias=True)"),
    (lambda N: N.GELU(), "GELU(approximate='none')"),
    (lambda N: N.Hardshrink(), "Hardshrink(0.5)"),
    (lambda N: N.Unflatten(1, (2, 2)), "Unflatten(dim=1, unflattened_size=(2, 2))"),
    (lambda N: N.Bilinear(2, 3, 4), "Bilinear(in1_features=2, in2_features=3, out_features=4, "
                                    "bias=True)"),
    (lambda N: N.Sequential(N.Linear(2, 3), N.Dropout(0.5)),
     "Sequential(\n  (0): Linear(in_features=2, out_features=3, bias=True)\n"
     "  (1): Dropout(p=0.5, inplace=False)\n)"),
]


@pytest.mark.parametrize("make, text", MODULES)
def test_modules_print_as_pytorch(make, text):
    assert repr(make(nn)) == text


def test_batchnorm_without_bias_as_pytorch_2():
    m = nn.BatchNorm2d(3, bias=False)
    assert m.bias is None and "bias=False" in repr(m)
    x = gc.tensor(np.arange(24, dtype=np.float32).reshape(2, 3, 2, 2))
    y = m(x).detach().numpy()
    mean = x.numpy().mean(axis=(0, 2, 3), keepdims=True)
    var = x.numpy().var(axis=(0, 2, 3), keepdims=True)
    np.testing.assert_allclose(y, (x.numpy() - mean) / np.sqrt(var + 1e-5), rtol=1e-5, atol=1e-6)


NORMAL30 = np.random.default_rng(0).standard_normal(30)
NORMAL3X30 = np.random.default_rng(1).standard_normal((3, 30)).astype(np.float32)
AGAINST_TORCH = [
    lambda T, d: T.tensor(np.linspace(-3, 3, 40).reshape(2, 4, 5).astype(np.float32)),
    lambda T, d: T.tensor(np.arange(100.).reshape(10, 10) / 7),
    lambda T, d: T.tensor([0.0, 0.0]),
    lambda T, d: T.tensor([1e10, 1.0]),
    lambda T, d: T.tensor([[]]),
    lambda T, d: T.tensor([1, 2], dtype=d.int32),
    lambda T, d: T.tensor(NORMAL30),
    lambda T, d: T.tensor(np.arange(5000).reshape(50, 100)),
    lambda T, d: T.tensor(np.arange(3000.).reshape(10, 10, 30)),
    lambda T, d: T.tensor([123456789.0, 1.5]),
    lambda T, d: T.tensor(7),
    lambda T, d: T.tensor(-0.0001234),
    lambda T, d: T.tensor(NORMAL3X30),
]


@pytest.mark.parametrize("k", range(len(AGAINST_TORCH)))
def test_more_tensors_against_pytorch_itself(k):
    torch = pytest.importorskip("torch")
    want = repr(AGAINST_TORCH[k](torch, torch)).replace("torch.", "graphc.")
    assert repr(AGAINST_TORCH[k](gc, gc)) == want


def test_set_printoptions_as_pytorch():
    gc.set_printoptions(precision=2)
    try:
        assert repr(gc.tensor([1.23456])) == "tensor([1.23])"
    finally:
        gc.set_printoptions(profile="default")
    assert repr(gc.tensor([1.23456])) == "tensor([1.2346])"
