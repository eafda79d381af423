"""nn kernels and training steps on CUDA against the CPU."""
import numpy as np
import pytest

import graphc as gc
import graphc.nn.functional as F

rng = np.random.default_rng(3)


def _both(fn, *arrays):
    cpu = fn(*[gc.tensor(a) for a in arrays])
    cuda = fn(*[gc.tensor(a).to("cuda") for a in arrays])
    cpu, cuda = (cpu if isinstance(cpu, tuple) else (cpu,)), (cuda if isinstance(cuda, tuple) else (cuda,))
    for c, g in zip(cpu, cuda):
        assert g.is_cuda
        np.testing.assert_allclose(g.detach().cpu().numpy(), c.detach().numpy(), rtol=1e-5,
                                   atol=1e-4)  # float32 sums in another order


X = rng.standard_normal((2, 2, 6, 5)).astype(np.float32)


@pytest.mark.parametrize("kw", [dict(), dict(stride=2, padding=1), dict(padding=(1, 0), dilation=2),
                                dict(groups=2, padding="same")])
def test_conv2d_and_its_gradients(kw):
    w = rng.standard_normal((4, 2 // kw.get("groups", 1), 3, 3)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)

    def step(x, w, b):
        x.requires_grad_(), w.requires_grad_(), b.requires_grad_()
        y = F.conv2d(x, w, b, **kw)
        (y * y).sum().backward()
        return y, x.grad, w.grad, b.grad
    _both(step, X, w, b)


def test_pooling_and_gradients():
    def step(x):
        x.requires_grad_()
        y = F.max_pool2d(x, 2, ceil_mode=True) .sum() + F.avg_pool2d(x, 3, 2, padding=1).sum() \
            + (F.adaptive_avg_pool2d(x, (2, 3)) ** 2).sum()
        y.backward()
        return y, x.grad
    _both(step, X)


def test_dropout_mask_equals_cpu():
    def fn(x):
        gc.manual_seed(5)
        return F.dropout(x, 0.3, training=True)
    _both(fn, X)


def _mlp_step(model, opt, x, y):
    opt.zero_grad()
    loss = ((model(x).softmax(-1) - y) ** 2).mean()
    loss.backward()
    opt.step()
    return loss


def _mlp():
    gc.manual_seed(0)
    return gc.nn.Sequential(gc.nn.Linear(6, 8), gc.nn.ReLU(), gc.nn.Linear(8, 3))


OPTIMIZERS = {
    "sgd_momentum": lambda params: gc.optim.SGD(params, lr=0.1, momentum=0.9, nesterov=True),
    "adam": lambda params: gc.optim.Adam(params, lr=0.01, weight_decay=0.01),
}


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_eager_training_with_optimizer_state_on_cuda_equals_cpu(name):
    x = rng.standard_normal((5, 6)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 5)]
    results = []
    for device in ("cpu", "cuda"):
        model = _mlp().to(device)
        opt = OPTIMIZERS[name](model.parameters())
        losses = [_mlp_step(model, opt, gc.tensor(x).to(device), gc.tensor(y).to(device)).item()
                  for _ in range(3)]
        state = [t for s in opt.state.values() for t in s.values()]
        assert state and all(t.is_cuda == (device == "cuda") for t in state)  # step counters too
        results.append((losses, [p.detach().cpu().numpy() for p in model.parameters()]))
    np.testing.assert_allclose(results[1][0], results[0][0], rtol=1e-5)
    for a, b in zip(results[1][1], results[0][1]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_compiled_adam_step_on_cuda_model_equals_eager_cpu():
    x = rng.standard_normal((5, 6)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 5)]
    results = []
    for device in ("cpu", "cuda"):
        model = _mlp().to(device)
        opt = gc.optim.Adam(model.parameters(), lr=0.01)
        if device == "cpu":
            losses = [_mlp_step(model, opt, gc.tensor(x), gc.tensor(y)).item() for _ in range(2)]
        else:
            xs, ys = gc.placeholder((5, 6), gc.float32), gc.placeholder((5, 3), gc.float32)
            loss = ((model(xs).softmax(-1) - ys) ** 2).mean()
            step = gc.compile(loss, inputs=[xs, ys], target="cuda", updates=opt.updates(loss))
            losses = [step(x, y).item() for _ in range(2)]
            assert all(t.is_cuda for s in opt.state.values() for t in s.values())
        results.append((losses, [p.detach().cpu().numpy() for p in model.parameters()]))
    np.testing.assert_allclose(results[1][0], results[0][0], rtol=1e-5)
    for a, b in zip(results[1][1], results[0][1]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_zero_grad_keeping_cuda_gradients():
    model = _mlp().cuda()
    (model(gc.ones(2, 6, device="cuda")).sum()).backward()
    gc.optim.SGD(model.parameters(), lr=0.1).zero_grad(set_to_none=False)
    assert all(p.grad.is_cuda and not p.grad.cpu().numpy().any() for p in model.parameters())


LOGITS = rng.standard_normal((4, 3)).astype(np.float32)
LABELS = np.array([0, 2, 1, 2])
PROBS = rng.uniform(0.1, 0.9, (4, 3)).astype(np.float32)
LOSSES = {
    "cross_entropy": lambda x, t, p: F.cross_entropy(x, t),
    "cross_entropy_options": lambda x, t, p: F.cross_entropy(
        x, t, weight=(p[0] + 1).detach(), ignore_index=1, label_smoothing=0.1),
    "cross_entropy_probabilities": lambda x, t, p: F.cross_entropy(x, p.softmax(-1)),
    "nll_loss": lambda x, t, p: F.nll_loss(x.log_softmax(-1), t, reduction="sum"),
    "binary_cross_entropy": lambda x, t, p: F.binary_cross_entropy(x.sigmoid(), p),
    "bce_with_logits": lambda x, t, p: F.binary_cross_entropy_with_logits(
        x, p, pos_weight=(p[1] * 2).detach()),
    "mse_smooth_l1_huber": lambda x, t, p: F.mse_loss(x, p) + F.smooth_l1_loss(x, p)
    + F.huber_loss(x, p, delta=0.5) + F.l1_loss(x, p),
}


@pytest.mark.parametrize("name", LOSSES)
def test_losses_and_their_gradients_on_cuda(name):
    def fn(x, t, p):
        x.requires_grad_()
        loss = LOSSES[name](x, t, p)
        loss.backward()
        return loss, x.grad
    _both(fn, LOGITS, LABELS, PROBS)


@pytest.mark.parametrize("model_device", ["cpu", "cuda"])
def test_compiled_training_step_on_cuda_equals_reference(model_device):
    x = rng.standard_normal((5, 6)).astype(np.float32)
    results = []
    for target in ("reference", "cuda"):
        model = _mlp().to(model_device if target == "cuda" else "cpu")
        xs = gc.placeholder((None, 6), gc.float32, name="x")
        loss = (model(xs).tanh() ** 2).mean()
        params = list(model.parameters())
        grads = gc.grad(loss, params)
        step = gc.compile(loss, inputs=[xs], target=target,
                          updates={p: p - 0.5 * g for p, g in zip(params, grads)})
        losses = [float(step(x).cpu().item()) for _ in range(3)]
        results.append((losses, [p.detach().cpu().numpy() for p in params]))
    np.testing.assert_allclose(results[1][0], results[0][0], rtol=1e-5)
    for a, b in zip(results[1][1], results[0][1]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_compiled_outputs_stay_on_device_for_device_feeds():
    xs = gc.placeholder((4,), gc.float32, name="x")
    exe = gc.compile((xs * 2).exp(), inputs=[xs], target="cuda")
    a = np.arange(4, dtype=np.float32)
    on_host, on_device = exe(a), exe(gc.tensor(a).cuda())
    assert not on_host.is_cuda and on_device.is_cuda
    np.testing.assert_allclose(on_device.cpu().numpy(), np.exp(2 * a), rtol=1e-6)
    again = exe(gc.tensor(-a).cuda())  # a new buffer: the first result is not overwritten
    np.testing.assert_allclose(on_device.cpu().numpy(), np.exp(2 * a), rtol=1e-6)
    np.testing.assert_allclose(again.cpu().numpy(), np.exp(-2 * a), rtol=1e-6)


def test_compiled_updates_swap_device_variables():
    """Updates read all new values before writing any storage: a swap must not alias."""
    tensors = [gc.tensor([1.0, 2.0]).cuda(), gc.tensor([3.0, 4.0]).cuda()]
    for t in tensors:
        t._persistent = True
    a, b = (gc.dispatch.variable_of(t) for t in tensors)
    xs = gc.placeholder((2,), gc.float32, name="x")
    step = gc.compile(xs + a, inputs=[xs], target="cuda", updates={a: b, b: a})
    step(np.zeros(2, np.float32))
    assert tensors[0].cpu().tolist() == [3.0, 4.0] and tensors[1].cpu().tolist() == [1.0, 2.0]


def test_optimizer_state_dict_moves_between_devices():
    x = gc.tensor(rng.standard_normal((5, 6)).astype(np.float32))
    y = gc.tensor(np.eye(3, dtype=np.float32)[rng.integers(0, 3, 5)])
    cpu_model = _mlp()
    cpu_opt = gc.optim.Adam(cpu_model.parameters(), lr=0.01)
    _mlp_step(cpu_model, cpu_opt, x, y)  # (on the CPU: no kernels)
    cuda_opt = gc.optim.Adam(_mlp().cuda().parameters(), lr=0.01)
    cuda_opt.load_state_dict(cpu_opt.state_dict())
    back = gc.optim.Adam(_mlp().parameters(), lr=0.01)
    back.load_state_dict(cuda_opt.state_dict())
    for opt in (cuda_opt, back):
        for state, want in zip(opt.state.values(), cpu_opt.state.values()):
            for key, t in state.items():
                assert t.is_cuda == (opt is cuda_opt)
                np.testing.assert_array_equal(t.cpu().numpy(), want[key].numpy())


def test_batchnorm_state_loading_and_init_on_cuda():
    """Running statistics, load_state_dict and nn.init write into CUDA storage."""
    gc.manual_seed(0)
    cpu = gc.nn.BatchNorm1d(3)
    dev = gc.nn.BatchNorm1d(3).to("cuda")
    dev.load_state_dict(cpu.state_dict())
    x = gc.randn(5, 3)
    cpu(x)
    dev(x.cuda())
    np.testing.assert_allclose(dev.running_mean.cpu().numpy(), cpu.running_mean.numpy(), rtol=1e-6)
    np.testing.assert_allclose(dev.running_var.cpu().numpy(), cpu.running_var.numpy(), rtol=1e-6)
    w = gc.zeros(4, 2).cuda()
    gc.nn.init.constant_(w, 0.5)
    assert w.cpu().numpy().tolist() == [[0.5, 0.5]] * 4


def test_batch_norm_runs_on_the_device_eagerly_and_compiled():
    """batch_norm and its backward run as device kernels (storage/cuda_decompositions.py), not on the
    host, and give the CPU's outputs, gradients and running statistics in both modes."""
    from graphc.ops import norm
    from graphc.storage import cuda_ops
    for op in (norm.batch_norm, norm.batch_norm_backward):
        assert cuda_ops.implementation(op) is not cuda_ops._on_host
    x = rng.standard_normal((3, 2, 2)).astype(np.float32)
    g = rng.standard_normal(x.shape).astype(np.float32)
    results = []
    for device in ("cpu", "cuda"):
        bn = gc.nn.BatchNorm1d(2, momentum=0.3).to(device)
        xt = gc.tensor(x).to(device).requires_grad_()
        (bn(xt) * gc.tensor(g).to(device)).sum().backward()
        bn.eval()
        with gc.no_grad():
            evaluated = bn(xt)
        results.append([t.cpu().numpy() for t in (xt.grad, bn.weight.grad, bn.bias.grad,
                                                   bn.running_mean, bn.running_var, evaluated)])
        if device == "cuda":  # the cuda target: a training step with the buffers' updates
            bn.train()
            ph = gc.placeholder(x.shape, gc.float32, name="x")
            out = bn(ph)
            step = gc.compile([out, *gc.grad((out * g).sum(), [ph])], inputs=[ph],
                              updates=bn.buffer_updates(), target="cuda")
            out, gx = step(gc.tensor(x).cuda())
            np.testing.assert_allclose(gx.cpu().numpy(), results[0][0], rtol=1e-4, atol=1e-5)
    for a, b in zip(*results):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-5)


def test_linear_op_runs_on_the_device():
    """The eager `linear` op (CPU F.linear uses it) as matmul + add kernels on CUDA."""
    from graphc.ops.linalg import linear
    from graphc.storage import cuda_ops
    assert cuda_ops.implementation(linear) is not cuda_ops._on_host
    x, w, b = (rng.standard_normal(s).astype(np.float32) for s in ((3, 4), (2, 4), (2,)))
    _both(linear, x, w, b)
    _both(linear, x, w)


def test_compiled_dropout_on_cuda_draws_the_eager_masks():
    """One random stream: the same seed and calls give the eager masks on the cuda target."""
    x = np.ones((4, 6), np.float32)
    gc.manual_seed(11)
    eager = [F.dropout(gc.tensor(x), 0.5).numpy() for _ in range(2)]
    gc.manual_seed(11)
    xs = gc.placeholder((4, 6), name="x")
    step = gc.compile(F.dropout(xs, 0.5), inputs=[xs], target="cuda")
    for want in eager:
        np.testing.assert_array_equal(step(x).numpy(), want)
