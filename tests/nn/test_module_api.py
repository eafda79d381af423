"""Module API (hooks, ParameterList/Dict, get_parameter, ModuleList editing, repr layout) and
the torch-namespace idioms (accelerator, backends, set_default_device, device predicates,
DataParallel, torch.nn.modules.* paths)."""
from __future__ import annotations

import numpy as np
import pytest

import graphc as gc
import graphc.nn as nn
from graphc.errors import UnsupportedError


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = nn.ParameterDict({"a": nn.Parameter(gc.ones(3))})
        self.extra = nn.ParameterList([gc.zeros(2), nn.Parameter(gc.ones(1))])
        self.fc = nn.Linear(3, 2)

    def forward(self, x):
        return self.fc(x * self.scale["a"]) + self.extra[1]


def test_parameter_containers_register_like_pytorch():
    net = Net()
    assert list(net.state_dict()) == ["scale.a", "extra.0", "extra.1", "fc.weight", "fc.bias"]
    assert isinstance(net.extra[0], nn.Parameter) and net.extra[0].requires_grad
    assert net.get_parameter("fc.weight") is net.fc.weight
    with pytest.raises(AttributeError):
        net.get_parameter("fc.nothing")
    x = gc.tensor(np.ones((4, 3)), dtype=gc.float32)
    net(x).sum().backward()
    assert net.scale["a"].grad is not None and net.extra[1].grad is not None


def test_forward_hooks_and_pre_hooks():
    net = Net()
    seen = []
    handle = net.fc.register_forward_hook(lambda m, args, out: seen.append(tuple(out.shape)))
    pre = net.register_forward_pre_hook(lambda m, args: (args[0] * 0,))
    replace = net.register_forward_hook(lambda m, args, out: out + 1)
    x = gc.ones(4, 3)
    out = net(x).detach().numpy()
    np.testing.assert_allclose(out, np.broadcast_to(net.fc.bias.detach().numpy() + 2, (4, 2)),
                               rtol=1e-6)
    assert seen == [(4, 2)]
    handle.remove()
    pre.remove()
    replace.remove()
    net(x)
    assert seen == [(4, 2)]
    # hooks also run when the module builds a graph
    ph = gc.placeholder((None, 3), gc.float32, "x")
    net.fc.register_forward_hook(lambda m, args, out: seen.append("symbolic"))
    net(ph)
    assert seen[-1] == "symbolic"
    # (backward hooks: tests/nn/test_backward_hooks.py)


def test_module_list_editing_and_compact_repr():
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    layers.insert(1, nn.ReLU())
    assert [type(m).__name__ for m in layers] == ["Linear", "ReLU", "Linear", "Linear"]
    assert repr(layers).splitlines()[3] == "  (2-3): 2 x Linear(in_features=2, out_features=2, bias=True)"
    del layers[1]
    layers[0] = nn.Tanh()
    assert list(dict(layers.named_children())) == ["0", "1", "2"]
    assert isinstance(layers.pop(0), nn.Tanh) and len(layers) == 2


def test_torch_namespace_idioms():
    torch = gc
    device = torch.accelerator.current_accelerator() if torch.accelerator.is_available() \
        else torch.device("cpu")
    torch.backends.cudnn.benchmark = True
    assert torch.backends.mps.is_available() is False
    torch.set_default_device("cpu")
    assert torch.get_default_device() == torch.device("cpu")
    x = torch.zeros(2)
    assert not (x.is_xpu or x.is_mps or x.is_meta) and device.type in ("cpu", "cuda")
    if not torch.cuda.is_available():  # as PyTorch: setting works, creating raises
        torch.set_default_device("cuda")
        try:
            with pytest.raises(RuntimeError, match="CUDA"):
                torch.zeros(2)
        finally:
            torch.set_default_device(None)


def test_data_parallel_is_a_pass_through_with_pytorch_keys():
    inner = nn.Linear(3, 2)
    model = nn.DataParallel(inner)
    assert list(model.state_dict()) == ["module.weight", "module.bias"]
    x = gc.randn(4, 3)
    np.testing.assert_array_equal(model(x).detach().numpy(), inner(x).detach().numpy())
    assert model.module is inner
    with pytest.raises(gc.distributed.DistributedError, match="init_process_group"):
        nn.parallel.DistributedDataParallel(inner)  # tests/distributed trains with it


def test_torch_nn_modules_import_paths():
    from graphc.nn.modules.activation import MultiheadAttention, ReLU
    from graphc.nn.modules.batchnorm import BatchNorm2d, _BatchNorm
    from graphc.nn.modules.loss import _Loss, _WeightedLoss
    from graphc.nn.modules.module import Module
    from graphc.nn.modules.pooling import MaxPool2d
    import graphc.nn.modules.rnn as rnn_mod
    assert MultiheadAttention is nn.MultiheadAttention and ReLU is nn.ReLU
    assert issubclass(BatchNorm2d, _BatchNorm) and Module is nn.Module
    assert MaxPool2d is nn.MaxPool2d and rnn_mod.LSTM is nn.LSTM
    assert issubclass(nn.CrossEntropyLoss, _WeightedLoss) and issubclass(nn.MSELoss, _Loss)

    class MyLoss(_Loss):  # a third-party loss written against torch's base class
        def forward(self, a, b):
            return ((a - b) ** 2).sum() if self.reduction == "sum" else ((a - b) ** 2).mean()
    with pytest.warns(UserWarning):
        assert MyLoss(size_average=False).reduction == "sum"


def test_constructor_device_argument_is_honoured():
    m = nn.Linear(2, 3, device="cpu")
    assert m.weight.device == gc.device("cpu")
    if not gc.cuda.is_available():
        with pytest.raises(Exception):
            nn.Linear(2, 3, device="cuda")


def test_weight_norm_matches_pytorch_and_compiles():
    torch = pytest.importorskip("torch")
    import warnings
    ours = nn.utils.weight_norm(nn.Linear(3, 2).double())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyTorch deprecates the function form
        theirs = torch.nn.utils.weight_norm(torch.nn.Linear(3, 2).double())
    assert list(ours.state_dict()) == list(theirs.state_dict())
    theirs.load_state_dict({k: torch.from_numpy(np.array(v.numpy()))
                            for k, v in ours.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((4, 3))
    out, ref = ours(gc.tensor(x)), theirs(torch.tensor(x))
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-12)
    out.sum().backward()
    ref.sum().backward()
    for name in ("weight_g", "weight_v", "bias"):
        np.testing.assert_allclose(getattr(ours, name).grad.numpy(),
                                   getattr(theirs, name).grad.numpy(), rtol=1e-10)
    ph = gc.placeholder((None, 3), gc.float64, "x")  # the pre-hook runs on graph variables
    run = gc.compile(ours(ph), inputs=[ph], target="reference")
    np.testing.assert_allclose(run(x).numpy(), out.detach().numpy(), rtol=1e-12)
    nn.utils.remove_weight_norm(ours)
    assert list(ours.state_dict()) == ["bias", "weight"]
    np.testing.assert_allclose(ours(gc.tensor(x)).detach().numpy(), out.detach().numpy(),
                               rtol=1e-12)


def test_parametrizations_weight_norm_matches_pytorch_and_compiles():
    torch = pytest.importorskip("torch")
    from graphc.nn.utils import parametrizations, parametrize
    ours = parametrizations.weight_norm(nn.Conv1d(2, 3, 2).double())
    theirs = torch.nn.utils.parametrizations.weight_norm(torch.nn.Conv1d(2, 3, 2).double())
    assert list(ours.state_dict()) == list(theirs.state_dict())
    theirs.load_state_dict({k: torch.from_numpy(np.array(v.numpy()))
                            for k, v in ours.state_dict().items()})
    x = np.random.default_rng(1).standard_normal((2, 2, 5))
    out, ref = ours(gc.tensor(x)), theirs(torch.tensor(x))
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-12)
    out.sum().backward()
    ref.sum().backward()
    for k in ("original0", "original1"):
        np.testing.assert_allclose(getattr(ours.parametrizations.weight, k).grad.numpy(),
                                   getattr(theirs.parametrizations.weight, k).grad.numpy(),
                                   rtol=1e-10)
    ph = gc.placeholder((None, 2, 5), gc.float64, "x")
    run = gc.compile(ours(ph), inputs=[ph], target="reference")
    np.testing.assert_allclose(run(x).numpy(), out.detach().numpy(), rtol=1e-12)
    assert parametrize.is_parametrized(ours, "weight")
    ours.weight = gc.tensor(np.ones((3, 2, 2)))  # assignment goes through right_inverse
    np.testing.assert_allclose(ours.weight.detach().numpy(), 1, rtol=1e-12)
    parametrize.remove_parametrizations(ours, "weight")
    assert list(ours.state_dict()) == ["bias", "weight"]


def test_spectral_norm_matches_pytorch_in_training_and_compiles_in_eval():
    torch = pytest.importorskip("torch")
    ours = nn.utils.spectral_norm(nn.Linear(4, 3).double(), n_power_iterations=2)
    theirs = torch.nn.utils.spectral_norm(torch.nn.Linear(4, 3).double(),
                                          n_power_iterations=2)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    theirs.load_state_dict({k: torch.from_numpy(np.array(v.numpy()))
                            for k, v in ours.state_dict().items()})
    x = np.random.default_rng(2).standard_normal((5, 4))
    for _ in range(3):  # u and v advance each training forward
        out, ref = ours(gc.tensor(x)), theirs(torch.tensor(x))
        np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-10)
    out.sum().backward()
    ref.sum().backward()
    np.testing.assert_allclose(ours.weight_orig.grad.numpy(), theirs.weight_orig.grad.numpy(),
                               rtol=1e-8)
    np.testing.assert_allclose(ours.weight_u.numpy(), theirs.weight_u.numpy(), rtol=1e-10)
    ph = gc.placeholder((None, 4), gc.float64, "x")
    with pytest.raises(UnsupportedError, match="eval"):
        ours(ph)
    ours.eval()
    theirs.eval()
    run = gc.compile(ours(ph), inputs=[ph], target="reference")
    np.testing.assert_allclose(run(x).numpy(), theirs(torch.tensor(x)).detach().numpy(),
                               rtol=1e-10)


def test_buffer_assignment_and_base_class_names():
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.kept = nn.Buffer(gc.ones(2))
            self.scratch = nn.Buffer(gc.zeros(1), persistent=False)
    m = M()
    assert [n for n, _ in m.named_buffers()] == ["kept", "scratch"]
    assert list(m.state_dict()) == ["kept"] and not list(m.parameters())
    assert isinstance(nn.LSTM(2, 3), nn.RNNBase) and isinstance(nn.GRUCell(2, 3), nn.RNNCellBase)
    assert nn.NLLLoss2d is nn.NLLLoss


def test_sync_batch_norm_is_local_batch_norm_on_one_process():
    x = gc.tensor(np.random.default_rng(3).standard_normal((4, 3, 2)))
    sync, plain = nn.SyncBatchNorm(3).double(), nn.BatchNorm1d(3).double()
    np.testing.assert_allclose(sync(x).detach().numpy(), plain(x).detach().numpy())
    converted = nn.SyncBatchNorm.convert_sync_batchnorm(nn.Sequential(plain))
    assert isinstance(converted[0], nn.SyncBatchNorm)  # PyTorch swaps the layer
    assert converted[0].weight is plain.weight and converted[0].running_mean is plain.running_mean
    no_bias = nn.SyncBatchNorm.convert_sync_batchnorm(nn.BatchNorm1d(3, bias=False))
    assert no_bias.bias is None and [n for n, _ in no_bias.named_parameters()] == ["weight"]
    with pytest.raises(UnsupportedError):
        nn.SyncBatchNorm(3, process_group=object())
    # without a process group a compiled step compiles it as BatchNorm (running stats too)
    compiled, eager = nn.SyncBatchNorm(3).double(), nn.BatchNorm1d(3).double()
    sym = gc.placeholder((4, 3, 2), gc.float64, name="x")
    step = gc.compile(compiled(sym), [sym], updates=compiled.buffer_updates())
    np.testing.assert_allclose(step(x.numpy()), eager(x).detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(compiled.running_var.numpy(), eager.running_var.numpy())


def test_lazy_modules_infer_sizes_and_keep_optimizer_references():
    model = nn.Sequential(nn.LazyConv1d(4, 3), nn.LazyBatchNorm1d(), nn.Flatten(),
                          nn.LazyLinear(2))
    params = list(model.parameters())
    assert all(isinstance(p, nn.UninitializedParameter) for p in params)
    opt = gc.optim.SGD(model.parameters(), lr=0.5)  # before the first call, as PyTorch allows
    x = gc.randn(3, 2, 6)
    model(x).sum().backward()
    assert [type(m).__name__ for m in model] == ["Conv1d", "BatchNorm1d", "Flatten", "Linear"]
    assert model[0].in_channels == 2 and model[3].in_features == 16
    assert [tuple(p.shape) for p in model.parameters()] == [(4, 2, 3), (4,), (4,), (4,),
                                                            (2, 16), (2,)]
    assert all(a is b for a, b in zip(params, model.parameters()))  # the same objects
    bound = 1 / np.sqrt(2 * 3)  # PyTorch's default init of the materialized conv
    assert np.abs(model[0].weight.detach().numpy()).max() <= bound + 1e-7
    before = model[3].weight.detach().numpy().copy()
    grad = model[3].weight.grad.numpy()
    opt.step()
    np.testing.assert_allclose(model[3].weight.detach().numpy(), before - 0.5 * grad,
                               rtol=1e-6)
    lazy = nn.LazyLinear(3)
    lazy(gc.placeholder((None, 5), gc.float32, "x"))  # a symbolic first call knows dim -1
    assert isinstance(lazy, nn.Linear) and lazy.weight.shape == (3, 5)


def test_init_dirac_sparse_pdist_and_gradient_norm_utilities():
    torch = pytest.importorskip("torch")
    w, tw = gc.zeros(6, 3, 3, 3), torch.zeros(6, 3, 3, 3)
    nn.init.dirac_(w, groups=2)
    torch.nn.init.dirac_(tw, groups=2)
    np.testing.assert_array_equal(w.numpy(), tw.numpy())
    s = gc.zeros(10, 4)
    nn.init.sparse_(s, 0.3)
    assert ((s.numpy() == 0).sum(0) >= 3).all()
    x = np.random.default_rng(4).standard_normal((5, 3))
    xs, ts = gc.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    a, b = gc.nn.functional.pdist(xs, 3.0), torch.nn.functional.pdist(ts, 3.0)
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-12)
    a.sum().backward()
    b.sum().backward()
    np.testing.assert_allclose(xs.grad.numpy(), ts.grad.numpy(), rtol=1e-10)
    ours, theirs = nn.Linear(3, 2).double(), torch.nn.Linear(3, 2).double()
    theirs.load_state_dict({k: torch.from_numpy(np.array(v.numpy()))
                            for k, v in ours.state_dict().items()})
    ours(gc.tensor(x)).sum().backward()
    theirs(torch.tensor(x)).sum().backward()
    for norm_type in (2.0, 1.0, float("inf")):
        np.testing.assert_allclose(
            float(nn.utils.get_total_norm([p.grad for p in ours.parameters()], norm_type)),
            float(torch.nn.utils.get_total_norm([p.grad for p in theirs.parameters()],
                                                norm_type)), rtol=1e-12)
    total = nn.utils.clip_grad_norm_(ours.parameters(), 0.5)
    ttotal = torch.nn.utils.clip_grad_norm_(theirs.parameters(), 0.5)
    np.testing.assert_allclose(float(total), float(ttotal), rtol=1e-12)
    for p, q in zip(ours.parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-12)
