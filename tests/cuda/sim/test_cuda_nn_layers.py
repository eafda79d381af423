"""The composite layers of issue 13 on CUDA eager tensors equal the CPU (the NumPy constants
they use — masks, one-hot tables, interpolation weights — are placed on the input's device)."""
import warnings

import numpy as np
import pytest

import graphc as gc
import graphc.nn as nn
import graphc.nn.functional as F

rng = np.random.default_rng(13)


def _both(make, *arrays, grad=True):
    results = []
    for device in ("cpu", "cuda"):
        gc.manual_seed(0)
        module = make()
        module = module.to(device) if isinstance(module, nn.Module) else module
        xs = [gc.tensor(a).to(device) for a in arrays]
        for x in xs:
            if grad and x.dtype.is_floating_point:
                x.requires_grad_()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = module(*xs)
        out = out[0] if isinstance(out, tuple) else out
        if hasattr(out, "data") and type(out).__name__ == "PackedSequence":
            out = out.data
        assert out.is_cuda == (device == "cuda")
        if grad:
            (out * out).sum().backward()
        results.append((out.detach().cpu().numpy(),
                        [x.grad.cpu().numpy() for x in xs if x.grad is not None]))
    (cpu, cpu_grads), (cuda, cuda_grads) = results
    np.testing.assert_allclose(cuda, cpu, rtol=1e-4, atol=1e-5)
    for a, b in zip(cuda_grads, cpu_grads):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


class SelfAttention(nn.Module):
    def __init__(self):
        super().__init__()
        self.attn = nn.MultiheadAttention(4, 2)

    def forward(self, q):
        return self.attn(q, q, q)[0]


f32 = np.float32
CASES = {
    "lstm_bidirectional": (lambda: nn.LSTM(2, 3, bidirectional=True),
                           [rng.standard_normal((2, 1, 2)).astype(f32)]),
    "multihead_attention": (SelfAttention, [rng.standard_normal((2, 1, 4)).astype(f32)]),
    "causal_sdpa": (lambda: (lambda q: F.scaled_dot_product_attention(q, q, q, is_causal=True)),
                    [rng.standard_normal((1, 3, 2)).astype(f32)]),
    "interpolate_bilinear": (lambda: nn.Upsample(scale_factor=1.5, mode="bilinear"),
                             [rng.standard_normal((1, 1, 2, 2)).astype(f32)]),
    "pad_reflect_conv1d": (lambda: nn.Conv1d(1, 1, 3, padding=1, padding_mode="reflect"),
                           [rng.standard_normal((1, 1, 4)).astype(f32)]),
    "group_norm": (lambda: nn.GroupNorm(2, 4), [rng.standard_normal((1, 4, 3)).astype(f32)]),
    "multi_margin": (lambda: (lambda x: F.multi_margin_loss(
        x, gc.tensor(np.array([0, 2])).to(x.device))),
        [rng.standard_normal((2, 3)).astype(f32)]),
    "one_hot": (lambda: (lambda t: F.one_hot(t, 3)), [np.array([0, 2, 1])]),
    "fractional_max_pool": (lambda: nn.FractionalMaxPool2d(
        2, output_size=2, _random_samples=gc.tensor(np.array([[[0.3, 0.7]]], f32))),
        [rng.standard_normal((1, 1, 4, 4)).astype(f32)]),
    "adaptive_max_pool_indices": (lambda: nn.AdaptiveMaxPool2d((2, 3), return_indices=True),
                                  [rng.standard_normal((1, 2, 3, 4)).astype(f32)]),
    "relu_inplace_after_linear": (lambda: nn.Sequential(nn.Linear(3, 3), nn.ReLU(inplace=True)),
                                  [rng.standard_normal((2, 3)).astype(f32)]),
    "adaptive_log_softmax": (lambda: nn.AdaptiveLogSoftmaxWithLoss(4, 6, [2, 4]),
                             [rng.standard_normal((3, 4)).astype(f32), np.array([0, 3, 5])]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_layer_on_cuda_equals_cpu(name):
    make, arrays = CASES[name]
    _both(make, *arrays, grad=name != "one_hot")


def test_cuda_module_saves_whole_and_runs_backward_hooks():
    import io
    gc.manual_seed(0)
    model = nn.Linear(3, 2).to("cuda")
    seen = []
    model.register_full_backward_hook(lambda m, gi, go: seen.append(gi[0].cpu().numpy()))
    x = gc.tensor(rng.standard_normal((4, 3)).astype(f32)).to("cuda").requires_grad_()
    model(x).sum().backward()
    np.testing.assert_allclose(seen[0], x.grad.cpu().numpy(), rtol=1e-6)
    model._hooks["backward"].clear()  # (a lambda cannot be saved by name)
    buf = io.BytesIO()
    gc.save(model, buf)
    buf.seek(0)
    back = gc.load(buf)  # loaded on the CPU
    np.testing.assert_allclose(back.weight.detach().numpy(),
                               model.weight.detach().cpu().numpy())
