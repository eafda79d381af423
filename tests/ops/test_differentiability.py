"""Autodiff cannot forget (issue 12 item 10): every op has a gradient rule or is declared
non-differentiable, and a differentiable op without a rule raises instead of giving zeros."""
import numpy as np
import pytest

import graphc as gc
from graphc.errors import GraphcError
from graphc.ops import REGISTRY
from graphc.ops.registry import Op, same_type


def test_every_op_has_a_rule_or_is_declared_non_differentiable():
    forgotten = sorted(name for name, op in REGISTRY.items()
                       if op.vjp is None and op.differentiable)
    assert forgotten == [], f"ops without a gradient rule, not declared non-differentiable: " \
                            f"{forgotten}"


def test_declared_non_differentiable_ops():
    for name in ("eq", "lt", "logical_and", "logical_not", "argmax", "argmin", "shape_prod"):
        assert not REGISTRY[name].differentiable, name
    with pytest.raises(ValueError, match="declared non-differentiable"):
        Op("_rule_and_no_gradient", infer=same_type, reference=np.negative,
           vjp=lambda c, g: [g], differentiable=False)


@pytest.fixture
def ruleless_op():
    op = Op("_forgot_its_rule", infer=same_type, reference=lambda x: x * 2,
            family="elementwise")
    yield op
    del REGISTRY[op.name]


def test_missing_rule_raises_in_eager_backward(ruleless_op):
    x = gc.tensor([1.0, 2.0], requires_grad=True)
    y = ruleless_op(x)
    assert y.requires_grad  # recorded, so that backward can say what is missing
    with pytest.raises(GraphcError, match="_forgot_its_rule has no gradient rule"):
        (y * x).sum().backward()


def test_missing_rule_raises_in_static_grad(ruleless_op):
    x = gc.placeholder((2,), gc.float32, name="x")
    with pytest.raises(GraphcError, match="_forgot_its_rule has no gradient rule"):
        gc.grad(ruleless_op(x).sum(), x)


def test_missing_rule_is_fine_where_no_gradient_flows(ruleless_op):
    x = gc.tensor([1.0, 2.0], requires_grad=True)
    w = gc.tensor([3.0, 4.0], requires_grad=True)
    y = ruleless_op(x.detach())
    (y * w).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), [2.0, 4.0])


def test_non_differentiable_outputs_are_constants():
    x = gc.tensor([1.0, 3.0, 2.0], requires_grad=True)
    assert not (x > 1).requires_grad and not x.argmax().requires_grad
    mask = (x > 1.5).float()
    (x * mask).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [0, 1, 1])


@pytest.mark.parametrize("mode", ["eager", "static"])
def test_sign_has_a_zero_gradient(mode):
    # PyTorch: torch.sign(x) requires grad and its gradient is zero
    if mode == "eager":
        x = gc.tensor([-2.0, 0.0, 3.0], requires_grad=True)
        y = gc.sign(x)
        assert y.requires_grad
        (y * 5 + x).sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), [1, 1, 1])
    else:
        x = gc.placeholder((3,), gc.float32, name="x")
        g = gc.grad((gc.sign(x) * 5 + x).sum(), x)
        exe = gc.compile([g], [x], target="reference")
        np.testing.assert_allclose(exe(np.array([-2, 0, 3], np.float32))[0], [1, 1, 1])
