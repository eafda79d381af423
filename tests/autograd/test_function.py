"""graphc.autograd.Function: custom forward/backward with ctx, eagerly and on symbolic values.

Each scenario is written once for a library module `L` (graphc or torch): checked against
NumPy and finite differences always, against PyTorch when it is installed."""
import numpy as np
import pytest

import graphc as gc
from graphc.errors import UnsupportedError
from helpers import numeric_grad

X = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]], np.float64)
W = np.array([0.3, -0.2, 0.7], np.float64)


def _functions(L):
    """The custom Functions of the tests, defined against library L."""

    class Cube(L.autograd.Function):
        @staticmethod
        def forward(ctx, x, scale):
            ctx.save_for_backward(x)
            ctx.scale = scale
            return x * x * x * scale

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * 3 * x * x * ctx.scale, None

    class StraightThrough(L.autograd.Function):
        """round in forward, identity in backward: a gradient the traced ops do not have."""
        @staticmethod
        def forward(ctx, x):
            return L.round(x)

        @staticmethod
        def backward(ctx, g):
            return g

    class SplitMax(L.autograd.Function):
        """Two outputs, one of them integer indices marked non-differentiable."""
        @staticmethod
        def forward(ctx, x):
            values, idx = x.max(dim=1)
            ctx.mark_non_differentiable(idx)
            ctx.save_for_backward(x, idx)
            return values * 2, idx, x.sum(dim=1)

        @staticmethod
        def backward(ctx, g_values, g_idx, g_sum):
            x, idx = ctx.saved_tensors
            one_hot = (L.arange(x.shape[1]).reshape(1, -1) == idx.reshape(-1, 1)).to(x.dtype)
            return one_hot * (2 * g_values).reshape(-1, 1) + g_sum.reshape(-1, 1)

    class Needs(L.autograd.Function):
        seen = []

        @staticmethod
        def forward(ctx, a, b, k):
            Needs.seen.append(ctx.needs_input_grad)
            return a * b * k

        @staticmethod
        def backward(ctx, g):
            Needs.seen.append(ctx.needs_input_grad)
            return None, None, None

    return Cube, StraightThrough, SplitMax, Needs


def _cube_grads(L):
    Cube = _functions(L)[0]
    x = L.tensor(X, requires_grad=True)
    w = L.tensor(W, requires_grad=True)
    y = Cube.apply(x * w, 2.0)
    (y * L.tensor(X)).sum().backward()
    return y.detach().numpy(), x.grad.numpy(), w.grad.numpy(), y.grad_fn.name()


def _split_max(L):
    SplitMax = _functions(L)[2]
    x = L.tensor(X, requires_grad=True)
    values, idx, total = SplitMax.apply(x)
    (values * 3 + total).sum().backward()
    return values.detach().numpy(), idx.numpy(), idx.requires_grad, x.grad.numpy()


def _needs(L):
    Needs = _functions(L)[3]
    a = L.tensor(W, requires_grad=True)
    b = L.tensor(W)
    Needs.apply(a, b, 2.0).sum().backward()
    with L.no_grad():
        Needs.apply(a, b, 2.0)
    return Needs.seen


def test_custom_backward_is_used_and_matches_numpy():
    y, gx, gw, name = _cube_grads(gc)
    np.testing.assert_allclose(y, (X * W) ** 3 * 2, rtol=1e-12)

    def loss(x, w):
        return float((((x * w) ** 3) * 2 * X).sum())
    np.testing.assert_allclose(gx, numeric_grad(loss, [X, W], 0), rtol=1e-6)
    np.testing.assert_allclose(gw, numeric_grad(loss, [X, W], 1), rtol=1e-6)
    assert name == "CubeBackward"


def test_several_outputs_and_non_differentiable_ones():
    values, idx, idx_requires_grad, gx = _split_max(gc)
    np.testing.assert_allclose(values, X.max(1) * 2)
    np.testing.assert_array_equal(idx, X.argmax(1))
    assert not idx_requires_grad
    expected = np.ones_like(X)
    expected[np.arange(2), X.argmax(1)] += 6
    np.testing.assert_allclose(gx, expected)


def test_needs_input_grad():
    assert _needs(gc) == [(True, False, False), (True, False, False), (True, False, False)]


def test_saved_tensor_modified_in_place_raises():
    Cube = _functions(gc)[0]
    x = gc.tensor(W, requires_grad=True)
    h = x * 1
    y = Cube.apply(h, 1.0)
    h.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_saved_tensors_are_freed_by_backward():
    Cube = _functions(gc)[0]
    x = gc.tensor(W, requires_grad=True)
    y = Cube.apply(x, 1.0)
    y.sum().backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.sum().backward()


def test_wrong_number_and_shape_of_gradients_raise():
    class TooFew(gc.autograd.Function):
        @staticmethod
        def forward(ctx, x, y):
            return x + y

        @staticmethod
        def backward(ctx, g):
            return g

    class BadShape(gc.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return gc.ones(5)

    x = gc.tensor(W, requires_grad=True)
    with pytest.raises(RuntimeError, match="incorrect number of gradients"):
        TooFew.apply(x, x).sum().backward()
    with pytest.raises(RuntimeError, match="invalid gradient at index 0"):
        BadShape.apply(x).sum().backward()


def test_returned_input_and_broadcast_gradient():
    """forward may return an input as is; a gradient of a broadcast shape is summed back."""
    class Identity(gc.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x

        @staticmethod
        def backward(ctx, g):
            return g * 2

    class Broadcasting(gc.autograd.Function):
        @staticmethod
        def forward(ctx, b):
            return b.sum()

        @staticmethod
        def backward(ctx, g):
            return g * gc.ones((3, 1, 2))

    x = gc.tensor(W, requires_grad=True)
    y = Identity.apply(x)
    assert y is not x and y.grad_fn is not None and x.grad_fn is None
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.ones(3))
    b = gc.tensor(np.ones((1, 2)), requires_grad=True)
    Broadcasting.apply(b).backward()
    np.testing.assert_allclose(b.grad.numpy(), [[3.0, 3.0]])


def test_double_backward_through_a_differentiable_backward():
    Cube = _functions(gc)[0]
    x = gc.tensor(W, requires_grad=True)
    (g,) = gc.autograd.grad(Cube.apply(x, 1.0).sum(), x, create_graph=True)
    (gg,) = gc.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(gg.numpy(), 6 * W)


def test_once_differentiable_refuses_a_second_derivative():
    class Square(gc.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        @gc.autograd.function.once_differentiable
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 2 * x * g

    x = gc.tensor(W, requires_grad=True)
    (g,) = gc.autograd.grad((Square.apply(x) * x).sum(), x, create_graph=True)
    np.testing.assert_allclose(g.detach().numpy(), 3 * W * W)
    with pytest.raises(RuntimeError, match="once_differentiable"):
        g.sum().backward()


def test_set_materialize_grads_false_passes_none():
    seen = []

    class TwoOut(gc.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.set_materialize_grads(False)
            return x * 2, x * 3

        @staticmethod
        def backward(ctx, ga, gb):
            seen.append((ga is None, gb is None))
            return ga * 2

    x = gc.tensor(W, requires_grad=True)
    a, _ = TwoOut.apply(x)
    a.sum().backward()
    assert seen == [(False, True)]


def test_setup_context_style():
    class Mul(gc.autograd.Function):
        @staticmethod
        def forward(x, k):
            return x * k

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.k = inputs[1]

        @staticmethod
        def backward(ctx, g):
            return g * ctx.k, None

    x = gc.tensor(W, requires_grad=True)
    Mul.apply(x, 4.0).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 4 * np.ones(3))


# ---- symbolic values: the forward traced, the user's backward in graphc.grad ----------------

def test_static_graph_uses_the_custom_backward():
    _, StraightThrough, _, _ = _functions(gc)
    Cube = _functions(gc)[0]
    p = gc.placeholder((2, 3), gc.float64, name="x")
    w = gc.placeholder((3,), gc.float64, name="w")
    loss = (Cube.apply(StraightThrough.apply(p) * w, 2.0) * gc.constant(X)).sum()
    gp, gw = gc.grad(loss, [p, w])
    exe = gc.compile([loss, gp, gw], [p, w], target="reference")
    value, gx, gww = exe(X, W)
    r = np.round(X)
    np.testing.assert_allclose(value, (((r * W) ** 3) * 2 * X).sum())
    # straight-through: d round(x)/dx taken as 1 (the traced round's own gradient is 0)
    np.testing.assert_allclose(gx, 6 * (r * W) ** 2 * X * W)
    np.testing.assert_allclose(gww, (6 * (r * W) ** 2 * X * r).sum(0))


def test_jit_training_step_matches_eager():
    Cube, StraightThrough, SplitMax, _ = _functions(gc)

    w = gc.tensor(W, requires_grad=True)  # a parameter the step reads

    def step(x):
        values, _, total = SplitMax.apply(Cube.apply(StraightThrough.apply(x) * w, 0.5))
        loss = (values + total * total).sum()
        loss.backward()
        return loss

    results = []
    for fn in (step, gc.jit(step, target="reference", keep_grads=True)):
        w.grad = None
        loss = fn(gc.tensor(X))
        results.append((loss.item(), w.grad.numpy().copy()))
    np.testing.assert_allclose(results[1][0], results[0][0], rtol=1e-12)
    np.testing.assert_allclose(results[1][1], results[0][1], rtol=1e-12)


def test_symbolic_forward_returning_an_eager_tensor_is_refused():
    class Leaky(gc.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return gc.ones(3)

        @staticmethod
        def backward(ctx, g):
            return g

    with pytest.raises(UnsupportedError, match="Leaky.forward returned an eager tensor"):
        Leaky.apply(gc.placeholder((3,), gc.float32))


# ---- against PyTorch ------------------------------------------------------------------------

@pytest.mark.parametrize("scenario", [_cube_grads, _split_max, _needs])
def test_matches_pytorch(scenario):
    torch = pytest.importorskip("torch")
    ours, theirs = scenario(gc), scenario(torch)
    if scenario is _needs:
        assert ours == theirs
        return
    for a, b in zip(ours, theirs):
        if isinstance(b, np.ndarray):
            np.testing.assert_allclose(a, b, rtol=1e-12)
        else:
            assert a == b


def test_keyword_arguments_go_to_forward():
    class Scale(gc.autograd.Function):
        @staticmethod
        def forward(ctx, x, k=2.0):
            ctx.k = k
            return x * k

        @staticmethod
        def backward(ctx, g):
            return g * ctx.k, None  # (an extra None beyond the positional arguments is fine)

    x = gc.tensor(W, requires_grad=True)
    Scale.apply(x, k=3.0).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 3 * np.ones(3))
    with pytest.warns(DeprecationWarning, match="should not be instantiated"):
        Scale()
