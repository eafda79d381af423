"""The `inplace=True` argument of activation and dropout functions and modules: the input is
overwritten (same object, version bumped), as PyTorch's; gradients flow through the write;
common model patterns (conv -> BatchNorm -> ReLU(inplace), Linear -> ReLU(inplace), a ResNet
BasicBlock, Dropout(inplace) after Linear, and the layers that usually come before an
activation) give PyTorch's values and gradients and raise only where PyTorch raises; under
graphc.jit the write is traced; in a hand-built graph the result is a new value."""
from __future__ import annotations

import numpy as np
import pytest

import graphc as gc
import graphc.nn as nn
import graphc.nn.functional as F

rng = np.random.default_rng(5)
X = np.array([[-4.0, -2.0, -0.75, -0.1], [0.2, 0.4, 1.5, 7.0]])  # no kinks: FD-safe
SELU_A, SELU_S = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946


def _elu(x, a=1.0):
    return np.where(x > 0, x, a * np.expm1(x))


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _hardsigmoid(x):
    return np.clip(x / 6 + 0.5, 0, 1)


# function name, extra positional arguments, NumPy reference
FUNCTIONS = [
    ("relu", (), lambda x: np.maximum(x, 0)),
    ("relu6", (), lambda x: np.clip(x, 0, 6)),
    ("elu", (0.7,), lambda x: _elu(x, 0.7)),
    ("selu", (), lambda x: SELU_S * _elu(x, SELU_A)),
    ("celu", (1.5,), lambda x: np.where(x > 0, x, 1.5 * np.expm1(x / 1.5))),
    ("leaky_relu", (0.2,), lambda x: np.where(x > 0, x, 0.2 * x)),
    ("hardtanh", (-0.5, 1.0), lambda x: np.clip(x, -0.5, 1.0)),
    ("threshold", (0.3, -7.0), lambda x: np.where(x > 0.3, x, -7.0)),
    ("rrelu", (0.1, 0.3, False), lambda x: np.where(x >= 0, x, 0.2 * x)),
    ("silu", (), lambda x: x * _sigmoid(x)),
    ("mish", (), lambda x: x * np.tanh(np.log1p(np.exp(x)))),
    ("hardsigmoid", (), _hardsigmoid),
    ("hardswish", (), lambda x: x * _hardsigmoid(x)),
]
IDS = [f[0] for f in FUNCTIONS]


def _numeric_grad(f, x, eps=1e-6):
    g = np.zeros_like(x)
    for k in range(x.size):
        hi, lo = x.copy(), x.copy()
        hi.flat[k] += eps
        lo.flat[k] -= eps
        g.flat[k] = (f(hi) - f(lo)) / (2 * eps)
    return g


@pytest.mark.parametrize("name,args,ref", FUNCTIONS, ids=IDS)
def test_function_overwrites_its_input(name, args, ref):
    x = gc.tensor(X)
    before = x._version
    out = getattr(F, name)(x, *args, inplace=True)
    assert out is x and x._version > before
    np.testing.assert_allclose(x.numpy(), ref(X), rtol=1e-12, atol=1e-15)
    untouched = gc.tensor(X)
    getattr(F, name)(untouched, *args)  # the default leaves it alone
    np.testing.assert_array_equal(untouched.numpy(), X)


@pytest.mark.parametrize("name,args,ref", FUNCTIONS, ids=IDS)
def test_gradient_through_the_write_matches_finite_differences(name, args, ref):
    w = rng.standard_normal(X.shape)
    leaf = gc.tensor(X, requires_grad=True)
    y = leaf * 1.0  # (a leaf that requires grad refuses in-place writes, as in PyTorch)
    getattr(F, name)(y, *args, inplace=True)
    (y * gc.tensor(w)).sum().backward()
    expected = _numeric_grad(lambda a: float((ref(a) * w).sum()), X.copy())
    np.testing.assert_allclose(leaf.grad.numpy(), expected, rtol=1e-6, atol=1e-8)


MODULES = [("ReLU", ()), ("ReLU6", ()), ("ELU", (0.5,)), ("SELU", ()), ("CELU", (2.0,)),
           ("LeakyReLU", (0.05,)), ("Hardtanh", (-2.0, 2.0)), ("Threshold", (0.1, 3.0)),
           ("RReLU", (0.1, 0.3)), ("SiLU", ()), ("Mish", ()), ("Hardsigmoid", ()),
           ("Hardswish", ())]


@pytest.mark.parametrize("name,args", MODULES, ids=[m[0] for m in MODULES])
def test_modules_overwrite_and_print_as_pytorch(name, args):
    m = getattr(nn, name)(*args, inplace=True).eval()
    expected = getattr(nn, name)(*args).eval()(gc.tensor(X)).numpy()
    x = gc.tensor(X)
    assert m(x) is x
    np.testing.assert_allclose(x.numpy(), expected, rtol=1e-12)
    torch = pytest.importorskip("torch")
    for inplace in (False, True):
        assert repr(getattr(nn, name)(*args, inplace=inplace)) == \
            repr(getattr(torch.nn, name)(*args, inplace=inplace))


def test_leaf_refusal_no_grad_and_symbolic_values():
    leaf = gc.tensor(X, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        F.relu(leaf, inplace=True)
    with gc.no_grad():
        assert F.relu(leaf, inplace=True) is leaf
    np.testing.assert_array_equal(leaf.detach().numpy(), np.maximum(X, 0))
    # a hand-built graph never overwrites a value: the result is a new one (as `y += x`)
    ph = gc.placeholder(X.shape, gc.float64, "x")
    out = nn.ReLU(inplace=True)(ph)
    assert out is not ph
    np.testing.assert_array_equal(gc.compile(out, inputs=[ph], target="reference")(X).numpy(),
                                  np.maximum(X, 0))


def test_dropout_inplace_overwrites_with_the_same_mask_and_gradients():
    x = rng.standard_normal((6, 5))
    results = []
    for inplace in (False, True):
        gc.manual_seed(4)
        lin = nn.Linear(5, 8).double()
        if results:
            lin.load_state_dict(results[0][3])
        leaf = gc.tensor(x, requires_grad=True)
        hidden = lin(leaf)
        out = nn.Dropout(0.5, inplace=inplace)(hidden)
        assert (out is hidden) == inplace
        out.sum().backward()
        results.append((out.detach().numpy(), leaf.grad.numpy(), lin.weight.grad.numpy(),
                        lin.state_dict()))
    for a, b in zip(results[0][:3], results[1][:3]):
        np.testing.assert_array_equal(a, b)
    kept = results[1][0] != 0
    assert 0 < kept.mean() < 1
    t = gc.tensor(x)
    assert F.dropout(t, 0.5, training=False, inplace=True) is t
    for fn, shape in ((F.dropout2d, (2, 6, 2, 2)), (F.alpha_dropout, (4, 6)),
                      (F.feature_alpha_dropout, (2, 6, 3)), (F.dropout1d, (2, 6, 3))):
        a = rng.standard_normal(shape)
        gc.manual_seed(1)
        expected = fn(gc.tensor(a), 0.5, True).numpy()
        t = gc.tensor(a)
        gc.manual_seed(1)
        assert fn(t, 0.5, True, True) is t
        np.testing.assert_array_equal(t.numpy(), expected)


def _block(L, inplace=True):
    """torchvision's ResNet BasicBlock, in front of a 1x1 conv."""
    nn_ = L.nn

    class BasicBlock(nn_.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn_.Conv2d(3, 3, 3, padding=1, bias=False)
            self.bn1 = nn_.BatchNorm2d(3)
            self.relu = nn_.ReLU(inplace=inplace)
            self.conv2 = nn_.Conv2d(3, 3, 3, padding=1, bias=False)
            self.bn2 = nn_.BatchNorm2d(3)

        def forward(self, x):
            identity = x
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            out += identity
            out = self.relu(out)
            return out
    return nn_.Sequential(nn_.Conv2d(2, 3, 1), BasicBlock(), BasicBlock())


PATTERNS = [
    ("conv-bn-relu", lambda L: L.nn.Sequential(L.nn.Conv2d(2, 3, 3, padding=1),
                                               L.nn.BatchNorm2d(3), L.nn.ReLU(inplace=True),
                                               L.nn.MaxPool2d(2), L.nn.ReLU(inplace=True)),
     (2, 2, 4, 4)),
    ("linear-relu", lambda L: L.nn.Sequential(L.nn.Linear(4, 5), L.nn.ReLU(inplace=True),
                                              L.nn.Linear(5, 3, bias=False),
                                              L.nn.LeakyReLU(0.1, inplace=True)), (3, 4)),
    ("basic-block", _block, (2, 2, 4, 4)),
    ("linear-dropout", lambda L: L.nn.Sequential(L.nn.Linear(4, 5), L.nn.ELU(),
                                                 L.nn.Dropout(0.0, inplace=True),
                                                 L.nn.SiLU(inplace=True)), (3, 4)),
    ("layers-before-activations", lambda L: L.nn.Sequential(
        L.nn.ConvTranspose2d(2, 2, 2, stride=2), L.nn.ReLU(inplace=True),
        L.nn.GroupNorm(1, 2), L.nn.Hardtanh(inplace=True),
        L.nn.AdaptiveMaxPool2d(3), L.nn.ReLU6(inplace=True),
        L.nn.Upsample(scale_factor=2, mode="bilinear"), L.nn.Mish(inplace=True),
        L.nn.LayerNorm(6), L.nn.SELU(inplace=True)), (2, 2, 3, 3)),
]


@pytest.mark.parametrize("name,build,shape", PATTERNS, ids=[p[0] for p in PATTERNS])
def test_model_patterns_match_pytorch(name, build, shape):
    torch = pytest.importorskip("torch")
    theirs = build(torch).double()
    ours = build(gc).double()
    ours.load_state_dict({k: gc.tensor(v.detach().numpy())
                          for k, v in theirs.state_dict().items()})
    x = rng.standard_normal(shape)
    tx, gx = torch.tensor(x, requires_grad=True), gc.tensor(x, requires_grad=True)
    t_out, g_out = theirs(tx), ours(gx)
    np.testing.assert_allclose(g_out.detach().numpy(), t_out.detach().numpy(), rtol=1e-10,
                               atol=1e-12)
    w = rng.standard_normal(tuple(t_out.shape))
    (t_out * torch.tensor(w)).sum().backward()
    (g_out * gc.tensor(w)).sum().backward()
    np.testing.assert_allclose(gx.grad.numpy(), tx.grad.numpy(), rtol=1e-9, atol=1e-11)
    their_params = dict(theirs.named_parameters())
    for n, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), their_params[n].grad.numpy(), rtol=1e-9,
                                   atol=1e-11, err_msg=n)
    for k, v in theirs.state_dict().items():  # BatchNorm's running statistics
        np.testing.assert_allclose(ours.state_dict()[k].numpy(), v.numpy(), rtol=1e-12)


def test_raises_where_pytorch_raises():
    """sigmoid's gradient reads its output: overwriting it breaks backward in both."""
    torch = pytest.importorskip("torch")
    for L in (torch, gc):
        x = L.tensor(X, requires_grad=True)
        y = L.nn.functional.relu(L.sigmoid(x), inplace=True)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.sum().backward()


def test_jit_step_equals_eager_step():
    x, y = rng.standard_normal((2, 2, 4, 4)), rng.standard_normal((2, 4))
    losses = []
    for jit in (False, True):
        gc.manual_seed(0)
        model = gc.nn.Sequential(_block(gc), nn.Flatten(), nn.Linear(48, 4),
                                 nn.Dropout(0.3, inplace=True),
                                 nn.LeakyReLU(0.1, inplace=True)).double()
        opt = gc.optim.SGD(model.parameters(), lr=0.1)

        def step(x, y):
            opt.zero_grad()
            loss = F.mse_loss(model(x), y)
            loss.backward()
            opt.step()
            return loss
        run = gc.jit(step, target="reference") if jit else \
            (lambda a, b: step(gc.tensor(a), gc.tensor(b)).item())
        gc.manual_seed(5)
        losses.append([float(np.asarray(run(x, y))) for _ in range(3)])
    np.testing.assert_allclose(losses[1], losses[0], rtol=1e-12)
