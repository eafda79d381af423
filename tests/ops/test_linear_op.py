"""The eager `linear` op (x @ w.T + b as one op and one tape entry): PyTorch's values and
gradients, finite differences (first and second order), the same results as the composite
that symbolic code keeps (reference target), and its errors. Tiny shapes."""
import numpy as np
import pytest

import graphc as gc
from graphc.errors import GraphcError
from graphc.nn import functional as F
from graphc.ops.linalg import linear

rng = np.random.default_rng(1)
CASES = [((4,), True), ((3, 4), True), ((3, 4), False), ((2, 3, 4), True)]


@pytest.mark.parametrize("shape, bias", CASES)
def test_eager_linear_is_one_op_with_pytorchs_values_and_gradients(shape, bias):
    torch = pytest.importorskip("torch")
    x, w, b = rng.standard_normal(shape), rng.standard_normal((5, 4)), rng.standard_normal(5)
    g = rng.standard_normal(shape[:-1] + (5,))
    ours = [gc.tensor(a, requires_grad=True) for a in (x, w, b)]
    theirs = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
    y = F.linear(ours[0], ours[1], ours[2] if bias else None)
    ty = torch.nn.functional.linear(theirs[0], theirs[1], theirs[2] if bias else None)
    assert y.grad_fn.name() == "LinearBackward0"  # one tape entry
    (y * gc.tensor(g)).sum().backward()
    (ty * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-12)
    for a, t in list(zip(ours, theirs))[:3 if bias else 2]:
        np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("shape, bias", CASES)
def test_gradients_and_second_derivatives_match_finite_differences(shape, bias):
    args = [gc.tensor(rng.standard_normal(s), requires_grad=True)
            for s in (shape, (2, 4), (2,))][:3 if bias else 2]

    def f(*a):
        out = linear(*a)
        return (out * out).sum()  # second derivatives non-zero
    assert gc.autograd.gradcheck(f, tuple(args))
    assert gc.autograd.gradgradcheck(f, tuple(args))


def test_symbolic_linear_is_the_composite_and_agrees_with_the_op():
    x, w, b = rng.standard_normal((3, 4)), rng.standard_normal((2, 4)), rng.standard_normal(2)
    ps = [gc.placeholder(a.shape, gc.float64, name=n) for a, n in ((x, "x"), (w, "w"), (b, "b"))]
    composite = F.linear(*ps)
    assert composite.node.op.name == "add"  # (matmul + add: the compilers fuse them)
    fused = linear(*ps)
    exe = gc.compile([composite, fused, *gc.grad((fused * fused).sum(), ps)], inputs=ps,
                     target="reference")
    got = exe(x, w, b)
    np.testing.assert_allclose(got[0].numpy(), got[1].numpy(), rtol=1e-12)
    xs, ws, bs = (gc.tensor(a, requires_grad=True) for a in (x, w, b))
    out = F.linear(xs, ws, bs)
    (out * out).sum().backward()
    for g, t in zip(got[2:], (xs, ws, bs)):
        np.testing.assert_allclose(g.numpy(), t.grad.numpy(), rtol=1e-12)


def test_mixed_dtypes_keep_the_composite_and_errors_name_the_shapes():
    x = gc.tensor(rng.standard_normal((3, 4)).astype(np.float32))
    w = gc.tensor(rng.standard_normal((2, 4)))  # float64: the composite's rules apply
    with pytest.raises(GraphcError):
        F.linear(x, w)
    with pytest.raises(GraphcError, match="expects 4"):
        linear(gc.tensor(np.ones((3, 5))), gc.tensor(np.ones((2, 4))))
    with pytest.raises(GraphcError, match="bias must have shape"):
        linear(gc.tensor(np.ones((3, 4))), gc.tensor(np.ones((2, 4))), gc.tensor(np.ones(3)))
