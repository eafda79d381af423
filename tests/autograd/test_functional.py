"""graphc.autograd.functional: jacobian, hessian, vjp, jvp, hvp, vhp against finite
differences always and against torch.autograd.functional when torch is installed."""
import numpy as np
import pytest

import graphc as gc
from graphc.autograd import functional as AF
from graphc.errors import UnsupportedError

A = np.array([0.3, -1.2, 0.8], np.float64)
B = np.array([[0.5, 2.0], [-1.0, 0.25]], np.float64)
V3 = np.array([1.0, -0.5, 2.0], np.float64)
V2 = np.array([0.7, -1.1], np.float64)


def f_vec(a):  # R^3 -> R^2
    return (a[:2] * a[1:]).exp() + a.sum()


def f_pair(a, b):  # (R^3, R^2x2) -> (R^2, R)
    return (b @ a[:2]).tanh() * a[2], (a * a).sum() * b.sum()


def f_scalar(a, b):
    return (a[:2].reshape(1, 2) * b).sin().sum() + (a ** 3).sum()


def _np_vec(a):
    return np.exp(a[:2] * a[1:]) + a.sum()


def _np_scalar(a, b):
    return np.sin(a[:2].reshape(1, 2) * b).sum() + (a ** 3).sum()


def _fd_jacobian(f, x, eps=1e-6):
    x = np.array(x, np.float64)
    cols = []
    for k in range(x.size):
        d = np.zeros_like(x)
        d.reshape(-1)[k] = eps
        cols.append((np.asarray(f(x + d)) - np.asarray(f(x - d))) / (2 * eps))
    out_shape = np.asarray(f(x)).shape
    return np.stack(cols, -1).reshape(out_shape + x.shape)


def _fd_hessian_a(eps=1e-4):
    def grad_a(a):
        return _fd_jacobian(lambda z: _np_scalar(z, B), a, 1e-6)
    return _fd_jacobian(grad_a, A, eps)


def test_jacobian_matches_finite_differences():
    J = AF.jacobian(f_vec, gc.tensor(A))
    np.testing.assert_allclose(J.numpy(), _fd_jacobian(_np_vec, A), rtol=1e-6, atol=1e-8)
    assert not J.requires_grad


def test_jacobian_of_tuples_is_nested():
    J = AF.jacobian(f_pair, (gc.tensor(A), gc.tensor(B)))
    assert len(J) == 2 and len(J[0]) == 2
    assert [tuple(j.shape) for j in J[0]] == [(2, 3), (2, 2, 2)]
    assert [tuple(j.shape) for j in J[1]] == [(3,), (2, 2)]
    fd = _fd_jacobian(lambda a: np.tanh(B @ a[:2]) * a[2], A)
    np.testing.assert_allclose(J[0][0].numpy(), fd, rtol=1e-6, atol=1e-8)


def test_hessian_matches_finite_differences_and_is_symmetric():
    H = AF.hessian(f_scalar, (gc.tensor(A), gc.tensor(B)))
    np.testing.assert_allclose(H[0][0].numpy(), _fd_hessian_a(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(H[0][1].numpy(), np.transpose(H[1][0].numpy(), (2, 0, 1)),
                               rtol=1e-12)


def test_vector_products_agree_with_the_jacobian_and_hessian():
    a = gc.tensor(A)
    J = _fd_jacobian(_np_vec, A)
    out, v_j = AF.vjp(f_vec, a, gc.tensor(V2))
    np.testing.assert_allclose(out.numpy(), _np_vec(A))
    np.testing.assert_allclose(v_j.numpy(), V2 @ J, rtol=1e-6)
    _, j_v = AF.jvp(f_vec, a, gc.tensor(V3))
    np.testing.assert_allclose(j_v.numpy(), J @ V3, rtol=1e-6)
    H = _fd_hessian_a()
    scalar = lambda z: f_scalar(z, gc.tensor(B))  # noqa: E731
    value, h_v = AF.hvp(scalar, a, gc.tensor(V3))
    np.testing.assert_allclose(value.numpy(), _np_scalar(A, B))
    np.testing.assert_allclose(h_v.numpy(), H @ V3, rtol=1e-4, atol=1e-5)
    _, v_h = AF.vhp(scalar, a, gc.tensor(V3))
    np.testing.assert_allclose(v_h.numpy(), V3 @ H, rtol=1e-4, atol=1e-5)


def test_create_graph_keeps_results_differentiable():
    a = gc.tensor(A, requires_grad=True)
    _, v_j = AF.vjp(lambda z: (z ** 3).sum(), a, create_graph=True)
    assert v_j.requires_grad
    v_j.sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), 6 * A)


def test_strict_and_argument_errors():
    a = gc.tensor(A)
    with pytest.raises(RuntimeError, match="independent of input 1"):
        AF.jacobian(lambda x, y: x * 2, (a, gc.tensor(B)), strict=True)
    J = AF.jacobian(lambda x, y: x * 2, (a, gc.tensor(B)))
    assert not J[1].numpy().any()  # non-strict: zeros
    with pytest.raises(RuntimeError, match="does not require gradients"):
        AF.vjp(lambda x: gc.ones(3), a, gc.ones(3), strict=True)
    with pytest.raises(RuntimeError, match="v can only be None"):
        AF.vjp(f_vec, a)
    with pytest.raises(RuntimeError, match="v has invalid size"):
        AF.jvp(f_vec, a, gc.ones(2))
    with pytest.raises(RuntimeError, match="single element"):
        AF.hessian(f_vec, a)
    with pytest.raises(TypeError, match="must be either a Tensor or a tuple of Tensors"):
        AF.jacobian(f_vec, A)
    with pytest.raises(UnsupportedError, match="forward-mode"):
        AF.jacobian(f_vec, a, vectorize=True, strategy="forward-mode")
    np.testing.assert_allclose(AF.jacobian(f_vec, a, vectorize=True).numpy(),
                               AF.jacobian(f_vec, a).numpy())


# ---- against PyTorch ------------------------------------------------------------------------

def _calls(L):
    """Each API on the same functions, written for library L (graphc or torch)."""
    F = L.autograd.functional
    a, b = L.tensor(A), L.tensor(B)
    vec = lambda z: (z[:2] * z[1:]).exp() + z.sum()  # noqa: E731
    pair = lambda x, y: ((y @ x[:2]).tanh() * x[2], (x * x).sum() * y.sum())  # noqa: E731
    scal = lambda x, y: (x[:2].reshape(1, 2) * y).sin().sum() + (x ** 3).sum()  # noqa: E731
    single = lambda x: scal(x, b)  # noqa: E731
    return {
        "jacobian": F.jacobian(vec, a),
        "jacobian tuples": F.jacobian(pair, (a, b)),
        "hessian": F.hessian(scal, (a, b)),
        "vjp": F.vjp(pair, (a, b), (L.tensor(V2), L.tensor(1.5, dtype=L.float64))),
        "jvp": F.jvp(vec, a, L.tensor(V3)),
        "hvp": F.hvp(single, a, L.tensor(V3)),
        "vhp": F.vhp(scal, (a, b), (L.tensor(V3), L.tensor(B))),
    }


def _flatten(x):
    if isinstance(x, (tuple, list)):
        return [leaf for el in x for leaf in _flatten(el)]
    return [x.detach().numpy()]


def test_matches_pytorch():
    torch = pytest.importorskip("torch")
    ours, theirs = _calls(gc), _calls(torch)
    for name in theirs:
        a, b = _flatten(ours[name]), _flatten(theirs[name])
        assert len(a) == len(b), name
        for x, y in zip(a, b):
            assert x.shape == y.shape, name
            np.testing.assert_allclose(x, y, rtol=1e-10, atol=1e-12, err_msg=name)


def test_symbolic_values_give_the_eager_results():
    """Under graphc.jit (and in static graphs) the same functions build graphc.grad graphs."""
    a, b, v3 = gc.tensor(A), gc.tensor(B), gc.tensor(V3)
    calls = {
        "jacobian": lambda x, y: AF.jacobian(f_pair, (x, y)),
        "hessian": lambda x, y: AF.hessian(f_scalar, (x, y)),
        "vjp": lambda x, y: AF.vjp(f_pair, (x, y), (gc.tensor(V2), gc.tensor(1.5, dtype=gc.float64))),
        "jvp": lambda x, y: AF.jvp(f_vec, x, v3),
        "hvp": lambda x, y: AF.hvp(lambda z: f_scalar(z, y), x, v3),
        "vhp": lambda x, y: AF.vhp(f_scalar, (x, y), (v3, gc.tensor(B))),
    }
    for name, call in calls.items():
        eager = _flatten(call(a, b))
        traced = _flatten(gc.jit(call, target="reference")(a, b))
        assert len(eager) == len(traced), name
        for e, t in zip(eager, traced):
            np.testing.assert_allclose(t, e, rtol=1e-12, atol=1e-14, err_msg=name)
    p = gc.placeholder((3,), gc.float64)
    with pytest.raises(RuntimeError, match="independent of input 1"):
        AF.vjp(lambda x, y: x * 2, (p, gc.placeholder((2,), gc.float64)), gc.tensor(V3),
               strict=True)
