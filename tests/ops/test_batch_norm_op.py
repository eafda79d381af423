"""The batch_norm / batch_norm_backward primitives: kernels vs the NumPy references vs an
independent formula, gradients and second derivatives vs finite differences, PyTorch's
values, gradients and running statistics (BatchNorm1d/2d/3d, momentum=None), eager and
static agreeing (reference target; one compiled cpu training step). Tiny shapes."""
import numpy as np
import pytest

import graphc as gc
from graphc import nn
from graphc.errors import GraphcError, UnsupportedError
from graphc.nn import functional as F
from graphc.ops import norm

rng = np.random.default_rng(0)
SHAPES = [(5, 3), (4, 3, 2), (2, 3, 2, 3), (2, 3, 2, 1, 2)]


def _per_channel(x, v):
    return v.reshape((1, -1) + (1,) * (x.ndim - 2))


def _formula(x, w, b, mean, var, eps=1e-5):
    """The definition, in float64: (x - mean) / sqrt(var + eps) * w + b."""
    return (x - _per_channel(x, mean)) / np.sqrt(_per_channel(x, var) + eps) \
        * _per_channel(x, w) + _per_channel(x, b)


def _args(shape, dtype):
    c = shape[1]
    return (rng.standard_normal(shape).astype(dtype) * 2 + 1,
            rng.standard_normal(c).astype(dtype), rng.standard_normal(c).astype(dtype),
            rng.standard_normal(c).astype(dtype), rng.random(c).astype(dtype) + 0.5)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("training", [True, False])
def test_kernel_reference_and_formula_agree(shape, training):
    x, w, b, rm, rv = _args(shape, np.float64)
    attrs = dict(training=training, momentum=0.3, eps=1e-5)
    ref = norm.batch_norm.reference(x, w, b, rm, rv, **attrs)
    fast = norm.batch_norm.eager(x, w, b, rm, rv, **attrs)
    assert norm.batch_norm.eager.__name__ == "eager_batch_norm"
    dims = (0,) + tuple(range(2, x.ndim))
    mean, var = (x.mean(dims), x.var(dims)) if training else (rm, rv)
    n = x.size // x.shape[1]
    new_mean = 0.7 * rm + 0.3 * mean if training else rm
    new_var = 0.7 * rv + 0.3 * var * n / (n - 1) if training else rv
    want = (_formula(x, w, b, mean, var), mean, 1 / np.sqrt(var + 1e-5), new_mean, new_var)
    for got_ref, got_fast, expected in zip(ref, fast, want):
        np.testing.assert_allclose(got_ref, expected, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(got_fast, expected, rtol=1e-12, atol=1e-12)
    # float32: the kernels accumulate in float64 like the reference
    args32 = [a.astype(np.float32) for a in (x, w, b, rm, rv)]
    for got, expected in zip(norm.batch_norm.eager(*args32, **attrs), ref):
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    g = rng.standard_normal(shape)
    back = [norm.batch_norm_backward.reference, norm.batch_norm_backward.eager]
    outs = [f(g, x, w, ref[1], ref[2], training=training) for f in back]
    for a, b_ in zip(*outs):
        np.testing.assert_allclose(a, b_, rtol=1e-10, atol=1e-12)


def test_eval_outputs_are_new_arrays():
    x, w, b, rm, rv = _args((4, 3), np.float32)
    for run in (norm.batch_norm.reference, norm.batch_norm.eager):
        out = run(x, w, b, rm, rv, training=False, momentum=0.1, eps=1e-5)
        assert not any(np.shares_memory(o, a) for o in out for a in (x, rm, rv))


def _loss_fn(training, shape, tracked=True):
    g = gc.tensor(rng.standard_normal(shape))
    rm, rv = gc.tensor(rng.standard_normal(shape[1])), gc.tensor(rng.random(shape[1]) + 0.5)

    def f(x, w, b):
        stats = (rm.clone(), rv.clone()) if tracked else (None, None)
        out = F.batch_norm(x, *stats, w, b, training=training, momentum=0.2)
        return (out * g).sum() + (out * out).sum() * 0.1  # second derivative non-zero
    return f


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("shape", [(4, 2), (2, 2, 3)])
def test_gradients_and_second_derivatives_match_finite_differences(training, shape):
    x = gc.tensor(rng.standard_normal(shape) * 2 + 1, requires_grad=True)
    w = gc.tensor(rng.standard_normal(shape[1]), requires_grad=True)
    b = gc.tensor(rng.standard_normal(shape[1]), requires_grad=True)
    f = _loss_fn(training, shape)
    assert gc.autograd.gradcheck(f, (x, w, b))
    assert gc.autograd.gradgradcheck(f, (x, w, b))


def test_static_gradients_match_eager_on_the_reference_target():
    shape = (4, 3, 2)
    x, w, b = (rng.standard_normal(s) for s in (shape, 3, 3))
    f = _loss_fn(True, shape, tracked=False)  # (F.batch_norm updates statistics eagerly only)
    xs, ws, bs = (gc.tensor(a, requires_grad=True) for a in (x, w, b))
    f(xs, ws, bs).backward()
    ph = [gc.placeholder(a.shape, gc.float64, name=n) for a, n in ((x, "x"), (w, "w"), (b, "b"))]
    grads = gc.grad(f(*ph), ph)
    got = gc.compile(list(grads), inputs=ph, target="reference")(x, w, b)
    for g, t in zip(got, (xs, ws, bs)):
        np.testing.assert_allclose(np.asarray(g), t.grad.numpy(), rtol=1e-10, atol=1e-12)


def _paired(cls, momentum, seed):
    ours, theirs = cls(3, momentum=momentum), getattr(torch_nn(), cls.__name__)(3, momentum=momentum)
    r = np.random.default_rng(seed)
    w, b = r.standard_normal(3).astype(np.float32), r.standard_normal(3).astype(np.float32)
    import torch
    with gc.no_grad():
        ours.weight.copy_(gc.tensor(w))
        ours.bias.copy_(gc.tensor(b))
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(w))
        theirs.bias.copy_(torch.tensor(b))
    return ours, theirs


def torch_nn():
    return pytest.importorskip("torch").nn


@pytest.mark.parametrize("cls, shape", [(nn.BatchNorm1d, (5, 3)), (nn.BatchNorm1d, (4, 3, 2)),
                                        (nn.BatchNorm2d, (2, 3, 2, 2)),
                                        (nn.BatchNorm3d, (2, 3, 2, 1, 2))])
@pytest.mark.parametrize("momentum", [0.1, None])
def test_layers_match_pytorch(cls, shape, momentum):
    import torch
    ours, theirs = _paired(cls, momentum, seed=len(shape))
    for step in range(2):
        x = rng.standard_normal(shape).astype(np.float32) * 3 + 2
        g = rng.standard_normal(shape).astype(np.float32)
        xo, xt = gc.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        yo, yt = ours(xo), theirs(xt)
        (yo * gc.tensor(g)).sum().backward()
        (yt * torch.tensor(g)).sum().backward()
        np.testing.assert_allclose(yo.detach().numpy(), yt.detach().numpy(), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(xo.grad.numpy(), xt.grad.numpy(), rtol=1e-4, atol=1e-5)
    for name in ("weight", "bias"):
        np.testing.assert_allclose(getattr(ours, name).grad.numpy(),
                                   getattr(theirs, name).grad.numpy(), rtol=1e-4, atol=1e-5)
    for name in ("running_mean", "running_var"):
        np.testing.assert_allclose(getattr(ours, name).numpy(), getattr(theirs, name).numpy(),
                                   rtol=1e-5, atol=1e-6)
    assert ours.num_batches_tracked.item() == theirs.num_batches_tracked.item() == 2
    ours.eval()
    theirs.eval()
    x = rng.standard_normal(shape).astype(np.float32)
    with gc.no_grad():
        np.testing.assert_allclose(ours(gc.tensor(x)).numpy(),
                                   theirs(torch.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-5)


def test_functional_forms_without_weight_or_statistics():
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((4, 3, 2)).astype(np.float32)
    want = torch.nn.functional.batch_norm(torch.tensor(x), None, None, training=True)
    got = F.batch_norm(gc.tensor(x), None, None, training=True)
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-5, atol=1e-6)
    m = nn.BatchNorm2d(3, affine=False, track_running_stats=False)
    x4 = x.reshape(2, 3, 2, 2)
    np.testing.assert_allclose(m(gc.tensor(x4)).numpy(),
                               torch.nn.BatchNorm2d(3, affine=False, track_running_stats=False)(
                                   torch.tensor(x4)).numpy(), rtol=1e-5, atol=1e-6)


def test_errors():
    with pytest.raises(GraphcError, match="Expected more than 1 value per channel"):
        nn.BatchNorm1d(3)(gc.tensor(np.ones((1, 3), np.float32)))
    stats = gc.zeros(3, requires_grad=True)
    x = gc.tensor(rng.standard_normal((4, 3)))
    with pytest.raises(UnsupportedError, match="running statistics are not differentiable"):
        F.batch_norm(x, stats, gc.ones(3), training=False).sum().backward()
    with pytest.raises(GraphcError, match="weight must have shape"):
        F.batch_norm(x, None, None, gc.ones(4), training=True)


def test_compiled_cpu_training_step_matches_eager():
    pytest.importorskip("numba")
    shape = (4, 3, 2, 2)
    eager, static = nn.BatchNorm2d(3, momentum=0.3), nn.BatchNorm2d(3, momentum=0.3)
    with gc.no_grad():
        for m in (eager, static):
            m.weight.copy_(gc.tensor(np.array([0.5, -1.0, 2.0], np.float32)))
    cot = rng.standard_normal(shape).astype(np.float32)  # (sum(out ** 2) has x-gradient 0)
    ph = gc.placeholder((None, 3, 2, 2), gc.float32, name="x")
    out = static(ph)
    grads = gc.grad((out * gc.constant(cot)).sum(), [ph, static.weight, static.bias])
    step = gc.compile([out, *grads], inputs=[ph], updates=static.buffer_updates(), target="cpu")
    for _ in range(2):
        x = rng.standard_normal(shape).astype(np.float32)
        xe = gc.tensor(x, requires_grad=True)
        ye = eager(xe)
        (ye * gc.tensor(cot)).sum().backward()
        got = step(x)
        for g, want in zip(got, (ye.detach(), xe.grad, eager.weight.grad, eager.bias.grad)):
            np.testing.assert_allclose(g.numpy(), want.numpy(), rtol=1e-4, atol=1e-5)
        eager.weight.grad = eager.bias.grad = None
    assert "rk_batch_norm(" in step.source and "rk_batch_norm_backward(" in step.source
    for name in ("running_mean", "running_var", "num_batches_tracked"):
        np.testing.assert_allclose(getattr(static, name).numpy(), getattr(eager, name).numpy(),
                                   rtol=1e-6)
