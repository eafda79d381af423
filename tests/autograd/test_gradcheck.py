"""graphc.autograd.gradcheck / gradgradcheck and Variable, with PyTorch's outcomes."""
import numpy as np
import pytest

import graphc as gc
from graphc.errors import UnsupportedError

X = np.array([0.5, -1.5, 2.0])


def _functions(L):
    class WrongScale(L.autograd.Function):  # the gradient of 2x claimed to be 3
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 3

    class FirstOrderOnly(L.autograd.Function):  # right gradient, wrong second derivative
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * x.detach() * 2

    return WrongScale, FirstOrderOnly


def _outcomes(L):
    wrong, first_only = _functions(L)
    x = L.tensor(X, dtype=L.float64, requires_grad=True)
    y = L.tensor(X[:2] + 1, dtype=L.float64, requires_grad=True)
    smooth = lambda a, b: ((a[:2] * b).sin() * a[2], (a ** 2).sum())  # noqa: E731
    return [
        L.autograd.gradcheck(smooth, (x, y)),
        L.autograd.gradgradcheck(smooth, (x, y)),
        L.autograd.gradcheck(wrong.apply, (x,), raise_exception=False),
        L.autograd.gradcheck(first_only.apply, (x,)),
        L.autograd.gradgradcheck(first_only.apply, (x,), raise_exception=False),
    ]


def test_gradcheck_outcomes():
    assert _outcomes(gc) == [True, True, False, True, False]


def test_gradcheck_errors():
    wrong, _ = _functions(gc)
    x = gc.tensor(X, dtype=gc.float64, requires_grad=True)
    with pytest.raises(gc.autograd.GradcheckError,
                       match="Jacobian mismatch for output 0 with respect to input 0"):
        gc.autograd.gradcheck(wrong.apply, (x,))
    with pytest.raises(ValueError, match="at least one input tensor to require gradient"):
        gc.autograd.gradcheck(lambda a: a * 2, (gc.tensor(X),))
    with pytest.raises(UnsupportedError, match="check_forward_ad"):
        gc.autograd.gradcheck(lambda a: a * 2, (x,), check_forward_ad=True)
    with pytest.warns(UserWarning, match="not a double precision"):
        gc.autograd.gradcheck(lambda a: a * 2, (gc.tensor([1.0], requires_grad=True),),
                              atol=1e-2, rtol=1e-2, eps=1e-2)


def test_variable_is_the_tensor():
    t = gc.tensor(X)
    v = gc.autograd.Variable(t, requires_grad=True)
    assert v is t and t.requires_grad


def test_matches_pytorch():
    torch = pytest.importorskip("torch")
    assert _outcomes(gc) == _outcomes(torch)
