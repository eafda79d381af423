"""Tensor.register_hook, retain_grad, autograd.grad / backward(inputs=) and detect_anomaly:
checked against hand-computed gradients always and against PyTorch when installed."""
import warnings

import numpy as np
import pytest

import graphc as gc
from graphc.errors import GraphcError, UnsupportedError

X = np.array([1.0, -2.0, 3.0])


def _hooks(L):
    """Hooks on a leaf and on a computed tensor; one replaces the gradient, one is removed."""
    seen = []
    x = L.tensor(X, requires_grad=True)
    y = x * 2
    y.register_hook(lambda g: g * 10)
    removed = y.register_hook(lambda g: g * 1000)
    removed.remove()
    x.register_hook(lambda g: seen.append(g.numpy().copy()))
    x.register_hook(lambda g: g + 1)
    y.retain_grad()
    (y * y).sum().backward(retain_graph=True)
    first = (x.grad.numpy().copy(), y.grad.numpy().copy())
    (gx,) = L.autograd.grad((y * y).sum(), x)
    return first + (gx.numpy(), np.stack(seen))


def _grad_api(L):
    x = L.tensor(X, requires_grad=True)
    w = L.tensor(X * 0.5, requires_grad=True)
    unused = L.tensor(X, requires_grad=True)
    y = (x * x * w).sum()
    gx, gw, gu = L.autograd.grad(y, (x, w, unused), create_graph=True, allow_unused=True)
    (gxx,) = L.autograd.grad(gx.sum(), x, retain_graph=True)
    loss = (x * w).sum()
    L.autograd.backward(loss, inputs=[w])
    return gx.detach().numpy(), gw.detach().numpy(), gu, gxx.numpy(), w.grad.numpy(), x.grad


def _retained_through_grad(L):
    """A tensor that retains its gradient gets it from autograd.grad and backward(inputs=)
    too, accumulated (PyTorch's retains_grad hook runs in every backward that reaches it)."""
    x = L.tensor(X, requires_grad=True)
    w = L.tensor(X * 0.5, requires_grad=True)
    y = x * 2 * w
    y.retain_grad()
    (y * y).sum().backward(inputs=[x], retain_graph=True)
    after_backward = y.grad.numpy().copy()
    L.autograd.grad((y * 3).sum(), [x])
    after_grad = y.grad.numpy().copy()
    (gy,) = L.autograd.grad(y.sum(), [y], create_graph=True)
    return after_backward, after_grad, gy.detach().numpy(), y.grad.detach().numpy(), w.grad


def test_retained_gradients_through_grad():
    after_backward, after_grad, gy, y_grad, w_grad = _retained_through_grad(gc)
    y = 2 * X * X * 0.5
    np.testing.assert_allclose(after_backward, 2 * y)
    np.testing.assert_allclose(after_grad, 2 * y + 3)
    np.testing.assert_allclose(gy, np.ones(3))
    np.testing.assert_allclose(y_grad, 2 * y + 4)
    assert w_grad is None  # backward(inputs=[x]) leaves w alone


def test_hooks_replace_gradients_in_order():
    x_grad, y_grad, gx, seen = _hooks(gc)
    y = 2 * X
    np.testing.assert_allclose(y_grad, 2 * y * 10)           # retain_grad sees the hooked value
    np.testing.assert_allclose(x_grad, 2 * y * 10 * 2 + 1)   # the leaf hook's +1 accumulated
    np.testing.assert_allclose(gx, x_grad)                   # autograd.grad runs leaf hooks
    np.testing.assert_allclose(seen, [2 * y * 10 * 2] * 2)


def test_hook_errors():
    x = gc.tensor(X)
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        x.register_hook(lambda g: g)
    x.requires_grad_()
    (x * 2).register_hook(lambda g: g.sum())  # on a temporary: never reached, no error
    y = x * 2
    y.register_hook(lambda g: g.sum())
    with pytest.raises(RuntimeError, match="has changed the size of value"):
        y.sum().backward()
    with pytest.raises(UnsupportedError, match="register_hook"):
        gc.placeholder((3,), gc.float32).register_hook(lambda g: g)


def test_hooks_with_post_accumulate_hooks():
    order = []
    x = gc.tensor(X, requires_grad=True)
    x.register_hook(lambda g: order.append("tensor hook") or g * 3)
    x.register_post_accumulate_grad_hook(lambda t: order.append(("post", t.grad.numpy().sum())))
    (x * 2).sum().backward()
    assert order == ["tensor hook", ("post", 18.0)]


def test_grad_and_backward_with_inputs():
    gx, gw, gu, gxx, w_grad, x_grad = _grad_api(gc)
    np.testing.assert_allclose(gx, 2 * X * X * 0.5)
    np.testing.assert_allclose(gw, X * X)
    assert gu is None
    np.testing.assert_allclose(gxx, 2 * X * 0.5)
    np.testing.assert_allclose(w_grad, X)
    assert x_grad is None  # backward(inputs=[w]) leaves x alone
    x = gc.tensor(X, requires_grad=True)
    with pytest.raises(GraphcError, match="allow_unused=True"):
        gc.autograd.grad((x * 2).sum(), [x, gc.tensor(X, requires_grad=True)])


def _nan_backward():
    x = gc.tensor([0.0, 1.0], requires_grad=True)
    y = (x * 0).sqrt()  # sqrt'(0) is inf; times the 0 of the mul: NaN in MulBackward0
    y.sum().backward()
    return x


def test_detect_anomaly_names_the_rule_and_the_forward_line():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with gc.autograd.detect_anomaly():
            assert gc.autograd.is_anomaly_enabled()
            with pytest.raises(RuntimeError, match=r"Function 'MulBackward0' returned nan "
                                                   r"values in its 0th output(.|\n)*"
                                                   r"y = \(x \* 0\)\.sqrt\(\)"):
                _nan_backward()
        assert not gc.autograd.is_anomaly_enabled()
        x = _nan_backward()  # off: NaN gradients pass, as in PyTorch
        assert np.isnan(x.grad.numpy()).all()
        gc.autograd.set_detect_anomaly(True)
        try:
            with pytest.raises(RuntimeError, match="returned nan values"):
                _nan_backward()
            with gc.autograd.set_detect_anomaly(True, check_nan=False):
                _nan_backward()  # recorded, not checked
        finally:
            gc.autograd.set_detect_anomaly(False)


# ---- against PyTorch ------------------------------------------------------------------------

@pytest.mark.parametrize("scenario", [_hooks, _grad_api, _retained_through_grad])
def test_matches_pytorch(scenario):
    torch = pytest.importorskip("torch")
    for ours, theirs in zip(scenario(gc), scenario(torch)):
        if theirs is None:
            assert ours is None
        else:
            np.testing.assert_allclose(ours, theirs, rtol=1e-12)


def test_anomaly_message_matches_pytorch():
    torch = pytest.importorskip("torch")
    x = torch.tensor([0.0, 1.0], requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with torch.autograd.detect_anomaly(), pytest.raises(RuntimeError) as theirs:
            (x * 0).sqrt().sum().backward()
        with gc.autograd.detect_anomaly(), pytest.raises(RuntimeError) as ours:
            _nan_backward()
    assert str(ours.value).splitlines()[0] == str(theirs.value).splitlines()[0]


def test_autograd_grad_runs_hooks_of_its_inputs_only():
    calls = []
    x = gc.tensor(X, requires_grad=True)
    w = gc.tensor(X, requires_grad=True)
    x.register_hook(lambda g: calls.append("x"))
    w.register_hook(lambda g: calls.append("w"))
    gc.autograd.grad((x * w).sum(), x)
    assert calls == ["x"]  # as PyTorch: w's gradient is neither computed for nor given to w
