"""Module API: registration, traversal, modes, state dicts, repr, both execution models."""
from __future__ import annotations

import math

import numpy as np
import pytest

import graphc as gc
import graphc.nn as nn
import graphc.optim as optim


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(3, 4)
        self.bn = nn.BatchNorm1d(4)
        self.fc2 = nn.Linear(4, 2)
        self.scale = nn.Parameter(gc.ones(1))

    def forward(self, x):
        return self.fc2(gc.relu(self.bn(self.fc1(x)))) * self.scale


def test_registration_and_traversal():
    net = Net()
    names = [n for n, _ in net.named_parameters()]
    assert names == ["scale", "fc1.weight", "fc1.bias", "bn.weight", "bn.bias", "fc2.weight",
                     "fc2.bias"]
    assert [n for n, _ in net.named_buffers()] == ["bn.running_mean", "bn.running_var",
                                                    "bn.num_batches_tracked"]
    assert [n for n, _ in net.named_children()] == ["fc1", "bn", "fc2"]
    assert len(list(net.modules())) == 4
    assert all(p.requires_grad for p in net.parameters())
    assert net.get_submodule("fc1") is net.fc1
    shared = nn.Sequential(net.fc1, net.fc1)
    assert len(list(shared.parameters())) == 2  # shared parameters are listed once


def test_train_eval_and_zero_grad():
    net = Net()
    assert net.training and net.bn.training
    net.eval()
    assert not net.training and not net.bn.training
    net.train()
    net(gc.randn(5, 3)).sum().backward()
    assert net.fc1.weight.grad is not None
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_state_dict_round_trip_and_errors():
    a, b = Net(), Net()
    a(gc.randn(6, 3))  # moves a's running statistics
    keys = list(a.state_dict())
    assert keys == ["scale", "fc1.weight", "fc1.bias", "bn.weight", "bn.bias",
                    "bn.running_mean", "bn.running_var", "bn.num_batches_tracked",
                    "fc2.weight", "fc2.bias"]
    result = b.load_state_dict(a.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    for (k, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items()):
        np.testing.assert_array_equal(x.numpy(), y.numpy(), err_msg=k)
    bad = dict(a.state_dict())
    bad["fc1.weight"] = gc.zeros(2, 2)
    with pytest.raises(RuntimeError, match="size mismatch for fc1.weight"):
        b.load_state_dict(bad)
    del bad["fc1.weight"]
    with pytest.raises(RuntimeError, match="missing key.*fc1.weight"):
        b.load_state_dict(bad)
    assert b.load_state_dict(bad, strict=False).missing_keys == ["fc1.weight"]


def test_repr_reads_like_pytorch():
    text = repr(nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4, 2)))
    assert text == ("Sequential(\n"
                    "  (0): Conv2d(1, 4, kernel_size=(3, 3), stride=(1, 1))\n"
                    "  (1): ReLU()\n"
                    "  (2): Flatten(start_dim=1, end_dim=-1)\n"
                    "  (3): Linear(in_features=4, out_features=2, bias=True)\n"
                    ")")


def test_default_initialization_matches_pytorch_bounds():
    gc.manual_seed(0)
    m = nn.Linear(50, 40)
    bound = 1 / math.sqrt(50)  # kaiming_uniform_(a=sqrt(5)) == U(-1/sqrt(fan_in), ...)
    w = m.weight.detach().numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.95 * bound
    assert np.abs(m.bias.detach().numpy()).max() <= bound
    conv = nn.Conv2d(3, 8, 3)
    assert np.abs(conv.weight.detach().numpy()).max() <= 1 / math.sqrt(27)
    gc.manual_seed(5)
    first = nn.Linear(3, 3).weight.detach().numpy().copy()
    gc.manual_seed(5)
    np.testing.assert_array_equal(nn.Linear(3, 3).weight.detach().numpy(), first)


def test_symbolic_forward_uses_named_parameter_variables():
    net = Net().eval()
    x = gc.placeholder((None, 3), name="x")
    y = net(x)
    variables = {v.name for n in gc.Graph.from_outputs([y]).nodes
                 if n.op.name == "variable" for v in n.outputs}
    assert {"fc1.weight", "fc2.bias", "bn.running_mean", "scale"} <= variables
    data = gc.randn(4, 3)
    np.testing.assert_allclose(gc.compile(y, inputs=[x], target="reference")(data).numpy(), net(data).detach().numpy(),
                               rtol=1e-6, atol=1e-6)


def test_train_eagerly_then_compiled_and_back_gives_identical_numbers():
    gc.manual_seed(0)
    x, y = gc.randn(8, 3), gc.randn(8, 2)

    def run(schedule):
        gc.manual_seed(1)
        net = Net()
        opt = optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
        xs = gc.placeholder((None, 3), name="x")
        ys = gc.placeholder((None, 2), name="y")
        loss = nn.functional.mse_loss(net(xs), ys)
        step = gc.compile(loss, inputs=[xs, ys],
                          updates={**opt.updates(loss), **net.buffer_updates()}, target="reference")
        losses = []
        for mode in schedule:
            if mode == "eager":
                opt.zero_grad()
                value = nn.functional.mse_loss(net(x), y)
                value.backward()
                opt.step()
            else:
                value = step(x, y)
            losses.append(value.item())
        return losses, net.state_dict()

    mixed, mixed_state = run(["eager", "static", "static", "eager", "static"])
    static, static_state = run(["static"] * 5)
    eager, eager_state = run(["eager"] * 5)
    np.testing.assert_allclose(mixed, eager, rtol=1e-5)
    np.testing.assert_allclose(static, eager, rtol=1e-5)
    for k in eager_state:
        np.testing.assert_allclose(mixed_state[k].numpy(), eager_state[k].numpy(), rtol=1e-5,
                                   atol=1e-6, err_msg=k)
        np.testing.assert_allclose(static_state[k].numpy(), eager_state[k].numpy(),
                                   rtol=1e-5, atol=1e-6, err_msg=k)


def test_to_dtype_and_device():
    net = Net().double()
    assert all(p.dtype is gc.float64 for p in net.parameters())
    assert net.bn.num_batches_tracked.dtype is gc.int64
    assert net.to("cpu") is net
    if not gc.cuda.is_available():
        with pytest.raises(Exception, match="CUDA is not available"):
            net.to("cuda")


def test_assigning_wrong_types_is_an_error():
    net = Net()
    with pytest.raises(TypeError, match="parameter 'scale'"):
        net.scale = gc.ones(1)
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        net.nope


def test_deepcopy_gives_independent_storage():
    import copy
    net = Net()
    twin = copy.deepcopy(net)
    assert isinstance(twin.fc1.weight, nn.Parameter) and twin.fc1.weight.requires_grad
    assert [n for n, _ in twin.named_parameters()] == [n for n, _ in net.named_parameters()]
    twin.fc1.weight.data = gc.zeros(4, 3)
    twin(gc.randn(5, 3)).sum().backward()
    assert net.fc1.weight.grad is None and np.abs(net.fc1.weight.detach().numpy()).sum() > 0
    best = copy.deepcopy(net.state_dict())
    net.fc2.bias.data = gc.ones(2)
    assert best["fc2.bias"].tolist() != [1.0, 1.0]
