"""Results that were silently wrong (issue 12): each checked against PyTorch 2.13's answer,
and against torch itself when it is installed."""
import numpy as np
import pytest

import graphc as gc
import graphc.nn.functional as F


def _torch():
    return pytest.importorskip("torch")


# ---- clamp with tensor bounds: values and gradients to x and to both bounds -----------------------
X = [-2.0, 0.5, 1.0, 3.0, 0.2]
LO = [-1.0, 0.0, 1.0, 0.0, 0.5]
HI = [1.0, 2.0, 2.0, 2.0, 0.1]   # the last has lo > hi: hi wins, as in PyTorch
CLAMP_VALUES = [-1.0, 0.5, 1.0, 2.0, 0.1]
CLAMP_GRADS = ([0, 1, 1, 0, 0], [1, 0, 0, 0, 0], [0, 0, 0, 1, 1])


def _clamp_case(lib):
    x, lo, hi = (lib.tensor(v, requires_grad=True) for v in (X, LO, HI))
    y = lib.clamp(x, min=lo, max=hi)
    y.sum().backward()
    return y.detach(), (x.grad, lo.grad, hi.grad)


@pytest.mark.parametrize("lib", ["graphc", "torch"])
def test_clamp_tensor_bounds_eager(lib):
    lib = gc if lib == "graphc" else _torch()
    y, grads = _clamp_case(lib)
    np.testing.assert_allclose(np.asarray(y), CLAMP_VALUES)
    for g, want in zip(grads, CLAMP_GRADS):
        np.testing.assert_allclose(np.asarray(g), want)


def test_clamp_tensor_bounds_jit():
    def step(x, lo, hi):
        y = gc.clamp(x, lo, hi)
        return (y, *gc.grad(y.sum(), [x, lo, hi]))
    jitted = gc.jit(step, target="reference")
    y, *grads = jitted(*(np.array(v, np.float32) for v in (X, LO, HI)))
    np.testing.assert_allclose(y, CLAMP_VALUES)
    for g, want in zip(grads, CLAMP_GRADS):
        np.testing.assert_allclose(g, want)


def test_clamp_tensor_bounds_broadcast_and_inplace():
    x = gc.tensor([[0.0, 5.0], [-5.0, 1.0]], requires_grad=True)
    hi = gc.tensor([1.0, 2.0], requires_grad=True)
    y = x * 1
    y.clamp_(max=hi)
    y.sum().backward()
    assert y.tolist() == [[0.0, 2.0], [-5.0, 1.0]]
    np.testing.assert_allclose(hi.grad.numpy(), [0, 1])
    np.testing.assert_allclose(x.grad.numpy(), [[1, 0], [1, 1]])


# ---- randint signatures ----------------------------------------------------------------------------
def test_randint_signatures():
    a = gc.randint(5, (100,))
    assert a.shape == (100,) and a.dtype is gc.int64 and 0 <= a.min().item() and a.max() < 5
    b = gc.randint(3, 6, (2, 50))
    assert b.shape == (2, 50) and 3 <= b.min().item() and b.max().item() < 6
    assert gc.randint(4, size=(3,)).shape == (3,)
    assert gc.randint(0, 2, (4,), dtype=gc.int32).dtype is gc.int32
    with pytest.raises(TypeError, match="size"):
        gc.randint(5)


# ---- binary_cross_entropy_with_logits at logit 0 --------------------------------------------------
@pytest.mark.parametrize("lib", ["graphc", "torch"])
def test_bce_with_logits_gradient_at_zero(lib):
    mod = gc if lib == "graphc" else _torch()
    fn = F.binary_cross_entropy_with_logits if lib == "graphc" else \
        mod.nn.functional.binary_cross_entropy_with_logits
    x = mod.tensor([0.0, 0.0, 2.0, -30.0], requires_grad=True)
    t = mod.tensor([1.0, 0.0, 0.5, 1.0])
    pw = mod.tensor([3.0, 3.0, 3.0, 3.0])
    fn(x, t).backward()
    np.testing.assert_allclose(np.asarray(x.grad), [-0.125, 0.125, 0.0951993, -0.25], rtol=1e-5)
    x.grad = None
    loss = fn(x, t, pos_weight=pw)
    loss.backward()
    np.testing.assert_allclose(loss.item(), 23.506611, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(x.grad), [-0.375, 0.125, 0.0653985, -0.75], rtol=1e-5)


# ---- embedding with padding_idx ---------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["eager", "jit"])
def test_embedding_padding_row_is_returned_but_gets_no_gradient(mode):
    weight = np.arange(8, dtype=np.float32).reshape(4, 2)
    idx = np.array([[0, 2], [1, 0]])
    want = weight[idx]
    want_grad = np.array([[0, 0], [1, 1], [1, 1], [0, 0]], np.float32)
    if mode == "eager":
        w = gc.tensor(weight, requires_grad=True)
        out = F.embedding(gc.tensor(idx), w, padding_idx=0)
        out.sum().backward()
        np.testing.assert_allclose(out.detach().numpy(), want)
        np.testing.assert_allclose(w.grad.numpy(), want_grad)
    else:
        def step(w, i):
            out = F.embedding(i, w, padding_idx=-4)
            return out, gc.grad(out.sum(), w)
        out, g = gc.jit(step, target="reference")(weight, idx)
        np.testing.assert_allclose(out, want)
        np.testing.assert_allclose(g, want_grad)


def test_embedding_padding_against_torch():
    torch = _torch()
    weight = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)
    idx = np.array([[0, 3, 3], [4, 0, 1]])
    wt = torch.tensor(weight, requires_grad=True)
    torch.nn.functional.embedding(torch.tensor(idx), wt, padding_idx=3).pow(2).sum().backward()
    wg = gc.tensor(weight, requires_grad=True)
    F.embedding(gc.tensor(idx), wg, padding_idx=3).pow(2).sum().backward()
    np.testing.assert_allclose(wg.grad.numpy(), wt.grad.numpy(), rtol=1e-6)


# ---- nn.Bilinear on a batch ---------------------------------------------------------------------------
def _bilinear_reference(x1, x2, w, b):
    return np.einsum("ni,oij,nj->no", x1, w, x2) + b


@pytest.mark.parametrize("lead", [(2,), (3,), (2, 3), ()])
def test_bilinear_batch_values_and_gradients(lead):
    rng = np.random.default_rng(1)
    x1 = rng.normal(size=lead + (4,)).astype(np.float32)
    x2 = rng.normal(size=lead + (5,)).astype(np.float32)
    layer = gc.nn.Bilinear(4, 5, 3)
    a, b = gc.tensor(x1, requires_grad=True), gc.tensor(x2, requires_grad=True)
    out = layer(a, b)
    assert out.shape == lead + (3,)
    w, bias = layer.weight.detach().numpy(), layer.bias.detach().numpy()
    want = _bilinear_reference(x1.reshape(-1, 4), x2.reshape(-1, 5), w, bias)
    np.testing.assert_allclose(out.detach().numpy().reshape(-1, 3), want, rtol=1e-5, atol=1e-5)
    out.sum().backward()
    np.testing.assert_allclose(a.grad.numpy().reshape(-1, 4),
                               np.einsum("oij,nj->ni", w, x2.reshape(-1, 5)), rtol=1e-5,
                               atol=1e-5)
    np.testing.assert_allclose(layer.weight.grad.numpy(),
                               np.einsum("ni,nj->ij", x1.reshape(-1, 4), x2.reshape(-1, 5))
                               [None].repeat(3, 0), rtol=1e-5, atol=1e-5)


def test_bilinear_against_torch():
    torch = _torch()
    rng = np.random.default_rng(2)
    x1, x2 = rng.normal(size=(2, 4)).astype(np.float32), rng.normal(size=(2, 5)).astype(np.float32)
    tl = torch.nn.Bilinear(4, 5, 3)
    gl = gc.nn.Bilinear(4, 5, 3)
    with gc.no_grad():
        gl.weight.copy_(tl.weight.detach().numpy())
        gl.bias.copy_(tl.bias.detach().numpy())
    np.testing.assert_allclose(gl(gc.tensor(x1), gc.tensor(x2)).detach().numpy(),
                               tl(torch.tensor(x1), torch.tensor(x2)).detach().numpy(),
                               rtol=1e-5, atol=1e-5)


# ---- detach on symbolic values ----------------------------------------------------------------------
def test_detach_under_jit_stops_the_gradient():
    def step(x):
        y = x * x.detach()
        return gc.grad(y.sum(), x)
    np.testing.assert_allclose(gc.jit(step, target="reference")(np.array([1, 2], np.float32)),
                               [1, 2])
