"""optim.Muon: bfloat16 rounding against a bit-level NumPy reference, trajectories against a
NumPy emulation of PyTorch's bfloat16 arithmetic and against torch.optim.Muon (when installed),
compiled steps (graphc.compile, graphc.jit) equal to eager ones, and the errors."""
from __future__ import annotations

import math

import numpy as np
import pytest

import graphc as gc
import graphc.optim as optim
from graphc.errors import UnsupportedError
from graphc.optim import muon as muon_module

REF = "reference"
STEPS = 5
SHAPES = [(6, 4), (4, 6), (5, 5)]
VARIANTS = [
    dict(lr=0.02),
    dict(lr=0.05, nesterov=False, weight_decay=0.0, momentum=0.9,
         adjust_lr_fn="match_rms_adamw"),
    dict(lr=0.03, weight_decay=0.3, adjust_lr_fn="original", ns_steps=3,
         ns_coefficients=(3.0, -3.2, 1.2)),
]
IDS = ["default", "plain-momentum-match-rms", "original-3-steps"]


def bf16_numpy(x):
    """Round-to-nearest-even on the upper 16 bits of float32, NaN kept (c10::BFloat16)."""
    x = np.asarray(x, np.float32)
    bits = x.view(np.uint32)
    kept = (bits + np.uint32(0x7FFF) + ((bits >> 16) & 1)) & np.uint32(0xFFFF0000)
    return np.where(np.isnan(x), x, kept.view(np.float32))


def muon_numpy(p, g, buf, lr, weight_decay=0.1, momentum=0.95, nesterov=True,
               ns_coefficients=(3.4445, -4.7750, 2.0315), eps=1e-7, ns_steps=5,
               adjust_lr_fn=None):
    """One float32 step of torch.optim.Muon with its bfloat16 roundings and fused
    multiply-adds written out in NumPy."""
    f32, f64 = np.float32, np.float64

    def lerp(start, end, w):
        w = f32(w)
        coeff, base = (w, start) if abs(w) < 0.5 else (f32(w - f32(1)), end)
        return (base.astype(f64) + f64(coeff) * (end - start).astype(f64)).astype(f32)

    buf = lerp(buf, g, 1 - momentum)
    x = lerp(g, buf, momentum) if nesterov else buf
    a, b, c = (f32(v) for v in ns_coefficients)
    tall = x.shape[0] > x.shape[1]
    x = bf16_numpy(x.T if tall else x)
    norm = bf16_numpy(np.maximum(bf16_numpy(np.sqrt(np.sum(x * x))), f32(eps)))
    x = bf16_numpy(x / norm)
    for _ in range(ns_steps):
        gram = bf16_numpy(x @ x.T)
        update = bf16_numpy(b * gram + c * (gram @ gram))
        x = bf16_numpy(a * x + update @ x)
    x = x.T if tall else x
    rows, cols = p.shape
    ratio = (0.2 * math.sqrt(max(rows, cols)) if adjust_lr_fn == "match_rms_adamw"
             else math.sqrt(max(1, rows / cols)))
    p = (p * f32(1 - lr * weight_decay)).astype(f32)
    p = (p.astype(f64) + f64(f32(-lr * ratio)) * x.astype(f64)).astype(f32)
    return p, buf


def target_of(shape):
    return np.random.default_rng(sum(shape)).standard_normal(shape).astype(np.float32)


def start_of(shape):
    return np.random.default_rng(7 * sum(shape)).standard_normal(shape).astype(np.float32)


def graphc_eager(shape, kwargs, steps=STEPS):
    p, t = gc.tensor(start_of(shape), requires_grad=True), gc.tensor(target_of(shape))
    opt = optim.Muon([p], **kwargs)
    out = []
    for _ in range(steps):
        opt.zero_grad()
        gc.sum(0.5 * (p - t) * (p - t)).backward()
        opt.step()
        out.append(p.detach().numpy().copy())
    return out


def tolerance(shape, kwargs):
    """One bfloat16 ulp of the orthogonalized update (entries below 1) times the step size,
    per step: what a float32 sum ordered differently from PyTorch's can flip. Skipping the
    bfloat16 roundings moves these parameters 5 times further (checked below); on this
    machine's BLAS the steps equal PyTorch's exactly."""
    ratio = muon_module.adjusted_lr_ratio(kwargs.get("adjust_lr_fn"), shape)
    return kwargs["lr"] * ratio * 2.0 ** -8


def test_round_to_bfloat16_matches_the_bit_level_reference():
    special = np.array([0.0, -0.0, 1.0, 1.00390625, 1.005859375, 1.0029296875, -1.0029296875,
                        3.4028235e38, -3.4e38, 1e-40, -1e-45, np.inf, -np.inf, np.nan],
                       np.float32)
    x = np.concatenate([special, np.random.default_rng(0).standard_normal(200).astype(
        np.float32) * 10.0 ** np.arange(-20, 20, 0.2).astype(np.float32)])
    got = muon_module.round_to_bfloat16(gc.tensor(x)).numpy()
    np.testing.assert_array_equal(got, bf16_numpy(x))
    assert got[3] == np.float32(1.0)  # a tie between 1 and 1 + 2**-7: to even
    assert got[4] == np.float32(1.0078125) and got[5] == np.float32(1.0)  # above, below it
    assert np.isnan(got[13]) and got[7] == np.inf  # NaN kept; the largest float32 overflows
    torch = pytest.importorskip("torch")
    np.testing.assert_array_equal(got, torch.tensor(x).bfloat16().float().numpy())


@pytest.mark.parametrize("target", [REF, "cpu"])
def test_round_to_bfloat16_on_symbolic_values(target):
    if target == "cpu":
        pytest.importorskip("numba")  # the bitcast and integer ops in a compiled kernel
    x = np.float32([1.00390625, 1.0029296875, -2.5e-3, 7.77e7, np.nan, -np.inf])
    v = gc.placeholder((6,), gc.float32, "x")
    f = gc.compile(muon_module.round_to_bfloat16(v), inputs=[v], target=target)
    np.testing.assert_array_equal(np.asarray(f(x)), bf16_numpy(x))


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("kwargs", VARIANTS, ids=IDS)
def test_eager_steps_follow_the_numpy_emulation(shape, kwargs):
    p, buf, t = start_of(shape), np.zeros(shape, np.float32), target_of(shape)
    for k, got in enumerate(graphc_eager(shape, kwargs)):
        p, buf = muon_numpy(p, p - t, buf, **kwargs)
        np.testing.assert_allclose(got, p, rtol=0, atol=(k + 1) * tolerance(shape, kwargs),
                                   err_msg=f"step {k}")


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("kwargs", VARIANTS, ids=IDS)
def test_eager_steps_match_torch_muon(shape, kwargs):
    torch = pytest.importorskip("torch")
    if not hasattr(torch.optim, "Muon"):
        pytest.skip("this torch has no optim.Muon")
    p, t = torch.tensor(start_of(shape), requires_grad=True), torch.tensor(target_of(shape))
    opt = torch.optim.Muon([p], **kwargs)
    for k, got in enumerate(graphc_eager(shape, kwargs)):
        opt.zero_grad()
        (0.5 * (p - t) ** 2).sum().backward()
        opt.step()
        np.testing.assert_allclose(got, p.detach().numpy(), rtol=0,
                                   atol=(k + 1) * tolerance(shape, kwargs), err_msg=f"step {k}")


def test_without_the_bfloat16_roundings_the_steps_leave_the_tolerance(monkeypatch):
    """The tolerance above is tight enough to see the bfloat16 arithmetic."""
    shape, kwargs = (6, 4), VARIANTS[0]
    p, buf, t = start_of(shape), np.zeros(shape, np.float32), target_of(shape)
    expected = []
    for _ in range(STEPS):
        p, buf = muon_numpy(p, p - t, buf, **kwargs)
        expected.append(p)
    monkeypatch.setattr(muon_module, "round_to_bfloat16", lambda x: gc.functional.cast(
        x, gc.float32))
    worst = max(np.abs(got - want).max() / (k + 1) for k, (got, want) in
                enumerate(zip(graphc_eager(shape, kwargs), expected)))
    assert worst > 3 * tolerance(shape, kwargs)


def test_float64_parameters_follow_the_emulation():
    shape, kwargs = (4, 6), VARIANTS[0]
    p = gc.tensor(start_of(shape).astype(np.float64), requires_grad=True)
    t = target_of(shape).astype(np.float64)
    opt = optim.Muon([p], **kwargs)
    ref, buf = start_of(shape), np.zeros(shape, np.float32)
    for k in range(3):
        opt.zero_grad()
        gc.sum(0.5 * (p - gc.tensor(t)) ** 2).backward()
        opt.step()
        ref, buf = muon_numpy(ref, ref - t.astype(np.float32), buf, **kwargs)
        assert p.dtype is gc.float64
        np.testing.assert_allclose(p.detach().numpy(), ref, rtol=0, atol=1e-6 + (k + 1) *
                                   tolerance(shape, kwargs))


@pytest.mark.parametrize("kwargs", VARIANTS[:2], ids=IDS[:2])
def test_compiled_steps_equal_eager_steps(kwargs):
    shape = (6, 4)
    p = gc.tensor(start_of(shape), requires_grad=True)
    opt = optim.Muon([p], **kwargs)
    t = gc.placeholder(shape, gc.float32, "t")
    loss = gc.sum(0.5 * (p - t) * (p - t))
    step = gc.compile(loss, inputs=[t], updates=opt.updates(loss), target=REF)
    for k, want in enumerate(graphc_eager(shape, kwargs)):
        step(target_of(shape))
        np.testing.assert_array_equal(p.detach().numpy(), want, err_msg=f"step {k}")
    assert set(opt.state_dict()["state"][0]) == {"momentum_buffer"}


def test_jit_training_loop_equals_eager():
    shape, kwargs = (4, 6), VARIANTS[0]
    p = gc.tensor(start_of(shape), requires_grad=True)
    opt = optim.Muon([p], **kwargs)

    def train_step(t):
        opt.zero_grad()
        loss = gc.sum(0.5 * (p - t) * (p - t))
        loss.backward()
        opt.step()
        return loss

    step = gc.jit(train_step, target=REF)
    for k, want in enumerate(graphc_eager(shape, kwargs, steps=3)):
        step(target_of(shape))
        np.testing.assert_array_equal(p.detach().numpy(), want, err_msg=f"step {k}")


def test_bad_arguments_raise_as_torch():
    w = gc.tensor(np.ones((2, 3), np.float32), requires_grad=True)
    with pytest.raises(ValueError, match="2D parameters"):
        optim.Muon([gc.tensor(np.ones(3, np.float32), requires_grad=True)])
    with pytest.raises(ValueError, match="not supported"):
        optim.Muon([w], adjust_lr_fn="sqrt")
    with pytest.raises(ValueError, match="Learning rate"):
        optim.Muon([w], lr=-1.0)
    with pytest.raises(ValueError, match="momentum"):
        optim.Muon([w], momentum=-0.5)
    opt = optim.Muon([w], ns_steps=100)
    w.grad = gc.tensor(np.ones((2, 3), np.float32))
    with pytest.raises(ValueError, match="less than 100"):
        opt.step()
    half = gc.tensor(np.ones((2, 3), np.float16), requires_grad=True)
    with pytest.raises(UnsupportedError, match="float16"):
        optim.Muon([half])
