"""The margin, embedding and likelihood losses and the legacy size_average / reduce pair:
values vs NumPy, gradients vs finite differences, eager == static (layer_check), and the
same numbers as PyTorch when it is installed."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import scipy.special

import graphc as gc
import graphc.nn as nn
import graphc.nn.functional as F
from layer_check import check_layer

rng = np.random.default_rng(7)
REDUCE = {"mean": np.mean, "sum": np.sum, "none": lambda v: v}


def _log_sigmoid(x):
    return -np.logaddexp(0, -x)


def _cases():
    """name -> (module factory(reduction), inputs, NumPy elementwise/per-sample loss)."""
    x1, x2 = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    x3 = rng.standard_normal((4, 3))
    sign = np.array([1, -1, 1, -1])
    multi_t = (rng.random((4, 3)) > 0.5).astype(float)
    cls = np.array([0, 2, 1, 2])
    w = np.array([0.5, 2.0, 1.5])
    p_log = scipy.special.log_softmax(rng.standard_normal((4, 3)), axis=1)
    q = scipy.special.softmax(rng.standard_normal((4, 3)), axis=1)
    q[0, 1] = 0.0  # xlogy(0, 0) = 0
    counts = np.array([[0., 1., 3.], [2., 0., 5.], [1., 1., 0.], [4., 2., 1.]])

    def cos(a, b):
        return (a * b).sum(1) / np.sqrt(((a * a).sum(1) + 1e-12) * ((b * b).sum(1) + 1e-12))

    def dist(a, b, p=2.0, eps=1e-6):
        return (np.abs(a - b + eps) ** p).sum(-1) ** (1 / p)

    def multi_margin(x, t, p=1, margin=1.0, weight=None):
        out = np.zeros(x.shape[0])
        for n in range(x.shape[0]):
            for i in range(x.shape[1]):
                if i != t[n]:
                    z = max(0.0, margin - x[n, t[n]] + x[n, i]) ** p
                    out[n] += z * (1 if weight is None else weight[t[n]])
        return out / x.shape[1]

    yield ("MarginRankingLoss", lambda r: nn.MarginRankingLoss(0.3, reduction=r),
           [x1[:, 0], x2[:, 0], sign.astype(float)],
           np.maximum(0, -sign * (x1[:, 0] - x2[:, 0]) + 0.3), [0, 1])
    yield ("HingeEmbeddingLoss", lambda r: nn.HingeEmbeddingLoss(0.5, reduction=r),
           [x1, np.tile(sign[:, None], (1, 3)).astype(float)],
           np.where(np.tile(sign[:, None], (1, 3)) == 1, x1, np.maximum(0, 0.5 - x1)), [0])
    yield ("SoftMarginLoss", lambda r: nn.SoftMarginLoss(reduction=r),
           [x1, np.tile(sign[:, None], (1, 3)).astype(float)],
           np.log1p(np.exp(-x1 * np.tile(sign[:, None], (1, 3)))), [0])
    yield ("MultiLabelSoftMarginLoss",
           lambda r: nn.MultiLabelSoftMarginLoss(weight=gc.tensor(w), reduction=r),
           [x1, multi_t],
           -(w * (multi_t * _log_sigmoid(x1) + (1 - multi_t) * _log_sigmoid(-x1))).mean(1),
           [0])
    yield ("MultiMarginLoss", lambda r: nn.MultiMarginLoss(reduction=r), [x1 * 0.4, cls],
           multi_margin(x1 * 0.4, cls), [0])
    yield ("MultiMarginLoss_p2_weight",
           lambda r: nn.MultiMarginLoss(p=2, margin=0.7, weight=gc.tensor(w), reduction=r),
           [x1 * 0.4, cls], multi_margin(x1 * 0.4, cls, 2, 0.7, w), [0])
    labels = np.array([[2, 0, -1, 1], [1, -1, 0, 2], [0, 1, 2, 3], [3, 3, -1, 0]])
    x4 = rng.standard_normal((4, 4))

    def multilabel(x, y):
        out = np.zeros(len(x))
        for n in range(len(x)):
            targets = []
            for j in y[n]:
                if j < 0:
                    break
                targets.append(j)
            for j in targets:
                for i in range(x.shape[1]):
                    if i not in targets:
                        out[n] += max(0.0, 1 - (x[n, j] - x[n, i]))
        return out / x.shape[1]
    yield ("MultiLabelMarginLoss", lambda r: nn.MultiLabelMarginLoss(reduction=r),
           [x4, labels], multilabel(x4, labels), [0])
    yield ("CosineEmbeddingLoss", lambda r: nn.CosineEmbeddingLoss(0.1, reduction=r),
           [x1, x2, sign], np.where(sign == 1, 1 - cos(x1, x2),
                                    np.maximum(0, cos(x1, x2) - 0.1)), [0, 1])
    yield ("TripletMarginLoss", lambda r: nn.TripletMarginLoss(margin=2.0, reduction=r),
           [x1, x2, x3], np.maximum(0, 2.0 + dist(x1, x2) - dist(x1, x3)), [0, 1, 2])
    yield ("TripletMarginLoss_p1_swap",
           lambda r: nn.TripletMarginLoss(margin=2.0, p=1.0, swap=True, reduction=r),
           [x1, x2, x3], np.maximum(0, 2.0 + dist(x1, x2, 1) - np.minimum(
               dist(x1, x3, 1), dist(x2, x3, 1))), [0, 1, 2])
    yield ("TripletMarginLoss_p3", lambda r: nn.TripletMarginLoss(margin=2.0, p=3, reduction=r),
           [x1, x2, x3], np.maximum(0, 2.0 + dist(x1, x2, 3) - dist(x1, x3, 3)), [0, 1, 2])
    yield ("KLDivLoss", lambda r: nn.KLDivLoss(reduction=r), [p_log, q],
           scipy.special.xlogy(q, q) - q * p_log, [0])
    yield ("KLDivLoss_log_target", lambda r: nn.KLDivLoss(reduction=r, log_target=True),
           [p_log, np.log(q + 0.1)], (q + 0.1) * (np.log(q + 0.1) - p_log), [0, 1])
    yield ("PoissonNLLLoss", lambda r: nn.PoissonNLLLoss(reduction=r), [x1, counts],
           np.exp(x1) - counts * x1, [0])
    stirling = np.where(counts > 1, counts * np.log(np.maximum(counts, 1)) - counts
                        + 0.5 * np.log(2 * np.pi * np.maximum(counts, 1)), 0)
    yield ("PoissonNLLLoss_rate_full",
           lambda r: nn.PoissonNLLLoss(log_input=False, full=True, reduction=r),
           [np.abs(x1) + 0.5, counts],
           np.abs(x1) + 0.5 - counts * np.log(np.abs(x1) + 0.5 + 1e-8) + stirling, [0])
    var = np.abs(x3) + 0.2
    yield ("GaussianNLLLoss", lambda r: nn.GaussianNLLLoss(full=True, reduction=r),
           [x1, x2, var], 0.5 * (np.log(var) + (x1 - x2) ** 2 / var) + 0.5 * np.log(2 * np.pi),
           [0, 1, 2])
    yield ("GaussianNLLLoss_homoscedastic", lambda r: nn.GaussianNLLLoss(reduction=r),
           [x1, x2, var[:, 0]], 0.5 * (np.log(var[:, :1]) + (x1 - x2) ** 2 / var[:, :1]),
           [0, 1, 2])


CASES = {c[0]: c[1:] for c in _cases()}


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_loss_values_gradients_and_static(name, reduction):
    make, inputs, elementwise, grad_inputs = CASES[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # KLDivLoss(reduction='mean') warns, as PyTorch
        check_layer(make(reduction), inputs, lambda p, *a: REDUCE[reduction](elementwise),
                    grad_inputs=grad_inputs, fd_atol=2e-5)


def test_kl_div_batchmean():
    p_log = scipy.special.log_softmax(rng.standard_normal((4, 3)), axis=1)
    q = scipy.special.softmax(rng.standard_normal((4, 3)), axis=1)
    check_layer(nn.KLDivLoss(reduction="batchmean"), [p_log, q],
                lambda p, x, t: (t * np.log(t) - t * x).sum() / 4)
    with pytest.warns(UserWarning, match="batchmean"):
        F.kl_div(gc.tensor(p_log), gc.tensor(q))


# ---- the legacy pair: PyTorch's mapping, a warning each time, never ignored ---------------------
LEGACY = [  # (size_average, reduce) -> reduction
    ((None, None), None), ((True, None), "mean"), ((False, None), "sum"),
    ((None, True), "mean"), ((None, False), "none"), ((True, False), "none"),
    ((False, False), "none"), ((False, True), "sum"), ((True, True), "mean"),
]


def _legacy_kwargs(pair):
    return {k: v for k, v in zip(("size_average", "reduce"), pair) if v is not None}


@pytest.mark.parametrize("pair,expected", LEGACY)
def test_legacy_size_average_and_reduce_map_to_reduction(pair, expected):
    x, y = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    kwargs = _legacy_kwargs(pair)
    reference = REDUCE[expected or "sum"]((x - y) ** 2)  # reduction='sum' given alongside
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        module = nn.MSELoss(reduction="sum", **kwargs)
        functional = F.mse_loss(gc.tensor(x), gc.tensor(y), reduction="sum", **kwargs)
    assert module.reduction == (expected or "sum")
    np.testing.assert_allclose(module(gc.tensor(x), gc.tensor(y)).numpy(), reference)
    np.testing.assert_allclose(functional.numpy(), reference)
    deprecations = [w for w in caught if "size_average and reduce" in str(w.message)]
    assert len(deprecations) == (2 if kwargs else 0)


def _module_classes_with_legacy_args():
    import inspect
    for name in nn.__all__:
        cls = getattr(nn, name)
        if isinstance(cls, type) and issubclass(cls, nn.Module):
            params = inspect.signature(cls.__init__).parameters
            if "size_average" in params:
                yield name


@pytest.mark.parametrize("name", sorted(_module_classes_with_legacy_args()))
def test_every_loss_module_honours_the_legacy_pair(name):
    cls = getattr(nn, name)
    with pytest.warns(UserWarning, match="reduction='sum'"):
        assert cls(size_average=False).reduction == "sum"
    with pytest.warns(UserWarning, match="reduction='none'"):
        assert cls(reduce=False).reduction == "none"


def test_every_loss_function_honours_the_legacy_pair():
    import inspect
    for name in F.__all__:
        fn = getattr(F, name)
        if callable(fn) and "size_average" in inspect.signature(fn).parameters:
            assert "reduce" in inspect.signature(fn).parameters, name
            src = inspect.getsource(fn)
            assert "_legacy(size_average, reduce" in src, f"{name} ignores size_average"


def test_vae_style_sum_loss_is_a_sum():
    """The silent bug of issue 13: BCE(size_average=False) must be the sum, not the mean."""
    x = scipy.special.expit(rng.standard_normal((5, 6)))
    t = rng.random((5, 6))
    with pytest.warns(UserWarning):
        loss = F.binary_cross_entropy(gc.tensor(x), gc.tensor(t), size_average=False)
    expected = -(t * np.log(x) + (1 - t) * np.log(1 - x)).sum()
    np.testing.assert_allclose(loss.numpy(), expected, rtol=1e-5)


def test_gaussian_nll_checks_var():
    x = gc.tensor(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="negative"):
        F.gaussian_nll_loss(x, x, gc.tensor(-np.ones((2, 3))))
    with pytest.raises(ValueError, match="does not fit"):
        F.gaussian_nll_loss(x, x, gc.tensor(np.ones((3,))))


def test_gaussian_nll_gradient_passes_the_clamp_eagerly():
    var = gc.tensor(np.array([1e-9, 1.0]), requires_grad=True)
    F.gaussian_nll_loss(gc.tensor(np.ones(2)), gc.tensor(np.zeros(2)), var,
                        reduction="sum").backward()
    # d/dv 0.5 (log v + 1/v) at the clamped v = eps, passed straight through
    eps = 1e-6
    np.testing.assert_allclose(var.grad.numpy()[0], 0.5 * (1 / eps - 1 / eps ** 2))


# ---- against PyTorch ------------------------------------------------------------------------------
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_losses_match_pytorch(name, reduction):
    torch = pytest.importorskip("torch")
    make, inputs, _, grad_inputs = CASES[name]
    ours = make(reduction)
    kwargs = {k: v for k, v in vars(ours).items() if not k.startswith("_") and k != "training"}
    cls_name = name.split("_")[0]
    weight = kwargs.pop("weight", None) if "weight" in kwargs else None
    if weight is None and ours._buffers.get("weight") is not None:
        weight = ours._buffers["weight"]
    if weight is not None:
        kwargs["weight"] = torch.from_numpy(weight.numpy())
    kwargs.pop("pos_weight", None)
    theirs = getattr(torch.nn, cls_name)(**kwargs)
    xs = [gc.tensor(a, requires_grad=i in grad_inputs) for i, a in enumerate(inputs)]
    ts = [torch.tensor(a, requires_grad=i in grad_inputs) for i, a in enumerate(inputs)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out, ref = ours(*xs), theirs(*ts)
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-10,
                               atol=1e-12)
    w = rng.standard_normal(tuple(ref.shape))
    (out * gc.tensor(w)).sum().backward()
    (ref * torch.from_numpy(w)).sum().backward()
    for i in grad_inputs:
        np.testing.assert_allclose(xs[i].grad.numpy(), ts[i].grad.numpy(), rtol=1e-8,
                                   atol=1e-12, err_msg=f"input {i}")


def test_distances_match_pytorch():
    torch = pytest.importorskip("torch")
    a, b = rng.standard_normal((4, 5)), rng.standard_normal((4, 5))
    for p in (1.0, 2.0, 3.0, math.inf):
        np.testing.assert_allclose(
            F.pairwise_distance(gc.tensor(a), gc.tensor(b), p).numpy(),
            torch.nn.functional.pairwise_distance(torch.tensor(a), torch.tensor(b), p).numpy(),
            rtol=1e-12)
    np.testing.assert_allclose(
        F.cosine_similarity(gc.tensor(a), gc.tensor(b)).numpy(),
        torch.nn.functional.cosine_similarity(torch.tensor(a), torch.tensor(b)).numpy(),
        rtol=1e-12)


# ---- CTC --------------------------------------------------------------------------------------------
def _np_ctc(logp, target, blank=0):
    """-log sum over alignments, by brute force over all paths (tiny T only)."""
    import itertools
    T, C = logp.shape
    total = -np.inf
    for path in itertools.product(range(C), repeat=T):
        collapsed = [c for i, c in enumerate(path) if (i == 0 or c != path[i - 1])]
        if [c for c in collapsed if c != blank] == list(target):
            total = np.logaddexp(total, sum(logp[t, c] for t, c in enumerate(path)))
    return -total


def test_ctc_loss_brute_force_reference_gradients_and_static():
    T, N, C = 4, 2, 3
    logits = rng.standard_normal((T, N, C))
    targets = np.array([[1, 2], [2, 0]])
    lengths_in, lengths_t = np.array([4, 3]), np.array([2, 1])

    class CTC(nn.Module):
        def forward(self, x):
            return F.ctc_loss(gc.log_softmax(x, 2), targets, lengths_in, lengths_t,
                              reduction="sum")
    logp = scipy.special.log_softmax(logits, 2)
    expected = _np_ctc(logp[:4, 0], [1, 2]) + _np_ctc(logp[:3, 1], [2])
    check_layer(CTC(), [logits], lambda p, x: expected)


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("layout", ["padded", "concatenated"])
def test_ctc_loss_matches_pytorch(reduction, layout):
    torch = pytest.importorskip("torch")
    T, N, C = 7, 3, 5
    logits = rng.standard_normal((T, N, C))
    padded = np.array([[1, 2, 2], [3, 1, 0], [4, 0, 0]])
    lengths_t, lengths_in = np.array([3, 2, 1]), np.array([7, 5, 4])
    targets = padded if layout == "padded" else np.concatenate(
        [padded[n, :lengths_t[n]] for n in range(N)])
    x, tx = gc.tensor(logits, requires_grad=True), torch.tensor(logits, requires_grad=True)
    ours = nn.CTCLoss(blank=0, reduction=reduction)(gc.log_softmax(x, 2), gc.tensor(targets),
                                                    gc.tensor(lengths_in), gc.tensor(lengths_t))
    ref = torch.nn.CTCLoss(blank=0, reduction=reduction)(
        torch.log_softmax(tx, 2), torch.tensor(targets), torch.tensor(lengths_in),
        torch.tensor(lengths_t))
    np.testing.assert_allclose(ours.detach().numpy(), ref.detach().numpy(), rtol=1e-10)
    ours.sum().backward()
    ref.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-8, atol=1e-12)


def test_ctc_impossible_alignment_is_infinite_or_zero():
    logp = scipy.special.log_softmax(rng.standard_normal((2, 1, 3)), 2)
    args = (np.array([[1, 1, 2]]), np.array([2]), np.array([3]))
    loss = F.ctc_loss(gc.tensor(logp), *args, reduction="none")
    assert np.isinf(loss.numpy()).all()
    x = gc.tensor(logp, requires_grad=True)
    F.ctc_loss(x, *args, reduction="sum", zero_infinity=True).backward()
    np.testing.assert_array_equal(x.grad.numpy(), 0)


@pytest.mark.parametrize("mode", ["jit", "compile"])
def test_gaussian_nll_gradient_passes_the_clamp_symbolically(mode):
    """On symbolic values the clamp at eps stops the gradient as PyTorch's no_grad clamp_
    does (the `detach` op), so static and eager gradients agree below eps."""
    x, t = np.ones(2, np.float32), np.zeros(2, np.float32)
    v0 = np.array([1e-9, 1.0], np.float32)
    eager = gc.tensor(v0, requires_grad=True)
    F.gaussian_nll_loss(gc.tensor(x), gc.tensor(t), eager, reduction="sum").backward()
    if mode == "jit":
        v = nn.Parameter(gc.tensor(v0))

        @gc.jit(target="reference")
        def step(x):
            F.gaussian_nll_loss(x, gc.tensor(t), v, reduction="sum").backward()
            return v.grad * 1
        got = step(gc.tensor(x)).numpy()
    else:
        v = gc.placeholder((2,), name="v")
        loss = F.gaussian_nll_loss(gc.tensor(x), gc.tensor(t), v, reduction="sum")
        got = gc.compile(gc.grad(loss, [v]), inputs=[v], target="reference")(v0)[0]
    np.testing.assert_allclose(got, eager.grad.numpy(), rtol=1e-5)
    assert got[0] != 0
