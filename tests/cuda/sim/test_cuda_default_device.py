"""set_default_device('cuda') and `with graphc.device('cuda')` on CUDA (the simulator): factory
functions and modules' parameters are created there, and a training step stays there."""
import numpy as np

import graphc as gc
import graphc.nn as nn


def test_default_cuda_device_places_factories_and_modules():
    gc.set_default_device("cuda")
    try:
        assert gc.get_default_device() == gc.device("cuda:0")
        assert all(t.is_cuda for t in (gc.zeros(2), gc.tensor([1.0]), gc.arange(3),
                                       gc.randn(2)))
        assert not gc.zeros_like(gc.zeros(2, device="cpu")).is_cuda
        gc.manual_seed(0)
        model = nn.Linear(3, 2)
        assert model.weight.is_cuda and model.bias.is_cuda
        x = gc.tensor(np.arange(6.0, dtype=np.float32).reshape(2, 3))
        model(x).sum().backward()
        assert model.weight.grad.is_cuda
    finally:
        gc.set_default_device(None)
    gc.manual_seed(0)
    cpu_model = nn.Linear(3, 2)
    np.testing.assert_allclose(model.weight.detach().cpu().numpy(),
                               cpu_model.weight.detach().numpy(), rtol=1e-6)
    assert not gc.zeros(1).is_cuda


def test_device_context_manager():
    with gc.device("cuda"):
        assert gc.ones(2).is_cuda
    assert not gc.ones(2).is_cuda


def test_muon_step_on_cuda_equals_cpu():
    """Muon's bfloat16 rounding (bitcast and integer ops) on CUDA eager tensors."""
    import graphc.optim as optim
    start = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    results = []
    for device in ("cpu", "cuda"):
        p = gc.tensor(start).to(device).requires_grad_()
        opt = optim.Muon([p], lr=0.02, ns_steps=2)
        (p * p).sum().backward()
        opt.step()
        results.append(p.detach().cpu().numpy())
    np.testing.assert_allclose(results[1], results[0], rtol=0, atol=0.02 * 2 ** -8)


def test_bfloat16_rounding_compiles_for_cuda():
    """Muon's compiled steps on the cuda target need bitcast and integer ops there."""
    from graphc.optim.muon import round_to_bfloat16
    x = np.float32([1.00390625, 1.0029296875, 1.005859375, np.nan, -3.1])
    v = gc.placeholder((5,), gc.float32, "x")
    f = gc.compile(round_to_bfloat16(v), inputs=[v], target="cuda")
    out = f(x)
    got = out.cpu().numpy() if hasattr(out, "cpu") else np.asarray(out)
    np.testing.assert_array_equal(got, np.float32([1.0, 1.0, 1.0078125, np.nan, -3.09375]))
