"""1-D convolutions and pools, padding modes, normalization layers, resampling, activations,
channel dropout, distances and Embedding(max_norm): NumPy references, finite-difference
gradients, eager == static (layer_check), and one parity table against PyTorch (values,
gradients, parameter names, state_dict keys, repr) when it is installed."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.special

import graphc as gc
import graphc.nn as nn
import graphc.nn.functional as F
from layer_check import check_layer

rng = np.random.default_rng(11)


# ---- NumPy references ----------------------------------------------------------------------------
def test_group_norm_numpy_reference():
    x = rng.standard_normal((2, 4, 3))

    def reference(p, x):
        g = x.reshape(2, 2, -1)
        out = ((g - g.mean(-1, keepdims=True)) / np.sqrt(g.var(-1, keepdims=True) + 1e-5))
        return out.reshape(x.shape) * p["weight"][:, None] + p["bias"][:, None]
    m = nn.GroupNorm(2, 4)
    m.weight._data[:] = rng.standard_normal(4)
    check_layer(m, [x], reference)


def test_instance_rms_and_local_response_norm_numpy_references():
    x = rng.standard_normal((2, 3, 5))
    check_layer(nn.InstanceNorm1d(3), [x], lambda p, x: (x - x.mean(-1, keepdims=True))
                / np.sqrt(x.var(-1, keepdims=True) + 1e-5))
    check_layer(nn.RMSNorm(5, eps=1e-6), [x], lambda p, x: x / np.sqrt(
        (x ** 2).mean(-1, keepdims=True) + 1e-6) * p["weight"])
    sq = np.pad(x ** 2, ((0, 0), (1, 1), (0, 0)))
    window = sq[:, :-2] + sq[:, 1:-1] + sq[:, 2:]
    check_layer(nn.LocalResponseNorm(3, alpha=0.1, beta=0.75, k=2.0), [x],
                lambda p, x: x / (2.0 + 0.1 * window / 3) ** 0.75)


def test_conv1d_numpy_reference_and_padding_modes():
    x = rng.standard_normal((2, 2, 6))

    def reference(p, x, mode):
        xp = np.pad(x, ((0, 0), (0, 0), (1, 1)), mode={"zeros": "constant", "reflect": "reflect",
                                                          "replicate": "edge",
                                                          "circular": "wrap"}[mode])
        w, b = p["weight"], p["bias"]
        out = np.stack([np.einsum("nck,ock->no", xp[:, :, t:t + 3], w) for t in range(6)], -1)
        return out + b[:, None]
    for mode in ("zeros", "reflect", "replicate", "circular"):
        check_layer(nn.Conv1d(2, 3, 3, padding=1, padding_mode=mode), [x],
                    lambda p, x, mode=mode: reference(p, x, mode))


def test_pad_modes_numpy_reference():
    x = rng.standard_normal((1, 2, 4, 5))
    np_modes = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}
    for mode, np_mode in np_modes.items():
        check_layer(_Fn(lambda t, m=mode: F.pad(t, (2, 1, 0, 3), mode=m)), [x],
                    lambda p, x, m=np_mode: np.pad(x, ((0, 0), (0, 0), (0, 3), (2, 1)), mode=m))
    with pytest.raises(ValueError, match="reflect padding"):
        F.pad(gc.tensor(x), (5, 0), mode="reflect")


def test_interpolate_numpy_reference():
    x = rng.standard_normal((1, 2, 3, 4))
    check_layer(_Fn(lambda t: F.interpolate(t, scale_factor=2)), [x],
                lambda p, x: x.repeat(2, axis=2).repeat(2, axis=3))

    def bilinear_align_corners(x, size):
        out = x
        for axis, n_out in ((2, size[0]), (3, size[1])):
            n_in = x.shape[axis]
            src = np.arange(n_out) * (n_in - 1) / (n_out - 1)
            i0 = np.minimum(np.floor(src).astype(int), n_in - 1)
            i1 = np.minimum(i0 + 1, n_in - 1)
            lam = (src - i0).reshape([-1 if a == axis else 1 for a in range(4)])
            out = np.take(out, i0, axis) * (1 - lam) + np.take(out, i1, axis) * lam
        return out
    check_layer(_Fn(lambda t: F.interpolate(t, size=(5, 7), mode="bilinear",
                                            align_corners=True)), [x],
                lambda p, x: bilinear_align_corners(x, (5, 7)))


def test_pixel_and_channel_shuffle_numpy_reference():
    x = rng.standard_normal((1, 8, 2, 3))
    ref = x.reshape(1, 2, 2, 2, 2, 3).transpose(0, 1, 4, 2, 5, 3).reshape(1, 2, 4, 6)
    check_layer(nn.PixelShuffle(2), [x], lambda p, x: ref)
    check_layer(nn.PixelUnshuffle(2), [ref], lambda p, x: x.reshape(1, 2, 2, 2, 3, 2)
                .transpose(0, 1, 3, 5, 2, 4).reshape(1, 8, 2, 3))
    check_layer(nn.ChannelShuffle(2), [x], lambda p, x: x.reshape(1, 2, 4, 2, 3)
                .transpose(0, 2, 1, 3, 4).reshape(x.shape))


def test_activations_and_distances_numpy_reference():
    x = rng.standard_normal((3, 4)) * 3
    check_layer(nn.Hardswish(), [x], lambda p, x: x * np.clip(x + 3, 0, 6) / 6)
    check_layer(nn.Hardsigmoid(), [x], lambda p, x: np.clip(x + 3, 0, 6) / 6)
    check_layer(nn.GLU(), [x], lambda p, x: x[:, :2] / (1 + np.exp(-x[:, 2:])))
    y = rng.standard_normal((3, 4))
    check_layer(nn.PairwiseDistance(p=3), [x, y], lambda p, x, y: (np.abs(
        x - y + 1e-6) ** 3).sum(-1) ** (1 / 3))
    check_layer(nn.CosineSimilarity(dim=1), [x, y], lambda p, x, y: (x * y).sum(1) / (
        np.linalg.norm(x, axis=1) * np.linalg.norm(y, axis=1)))
    check_layer(_Fn(lambda t: F.normalize(t, p=1.5, dim=0)), [x],
                lambda p, x: x / (np.abs(x) ** 1.5).sum(0) ** (1 / 1.5))


class _Fn(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, *xs):
        return self.fn(*xs)


# ---- dropout variants -------------------------------------------------------------------------------
def test_channel_dropout_zeroes_whole_channels():
    x = gc.tensor(np.ones((4, 6, 3, 3)))
    out = nn.Dropout2d(0.5)(x).numpy()
    per_channel = out.reshape(4, 6, -1)
    assert np.all((per_channel == 0).all(-1) | (per_channel == 2).all(-1))
    assert 0 < (per_channel == 0).all(-1).sum() < 24
    m = nn.Dropout1d(0.5)
    m.eval()
    np.testing.assert_array_equal(m(gc.tensor(np.ones((2, 3, 4)))).numpy(), 1)


def test_alpha_dropout_keeps_selu_statistics():
    x = gc.tensor(rng.standard_normal(200_000))
    out = nn.AlphaDropout(0.2)(x).numpy()
    assert abs(out.mean()) < 0.02 and abs(out.std() - 1) < 0.02
    m = nn.AlphaDropout(0.2)
    m.eval()
    np.testing.assert_array_equal(m(x).numpy(), x.numpy())


def test_feature_alpha_dropout_drops_whole_channels_to_one_value():
    x = gc.tensor(rng.standard_normal((400, 4, 3)))
    out = nn.FeatureAlphaDropout(0.5)(x).numpy()
    a = 1 / np.sqrt((1.7580993408473766 ** 2 * 0.5 + 1) * 0.5)
    dropped_value = -1.7580993408473766 * a + 1.7580993408473766 * a * 0.5
    dropped = np.isclose(out, dropped_value).all(-1)
    assert 0.4 < dropped.mean() < 0.6  # whole channels, about half of them
    kept = ~dropped
    b = 1.7580993408473766 * a * 0.5
    np.testing.assert_allclose(out[kept], x.numpy()[kept] * a + b, rtol=1e-12)


def test_channel_dropout_compiles_with_fresh_masks():
    m = nn.Dropout2d(0.5)
    x = gc.placeholder((2, 8, 2, 2), gc.float64, "x")
    out = m(x)
    step = gc.compile(out, inputs=[x], updates=m.buffer_updates(), target="reference")
    a, b = step(np.ones((2, 8, 2, 2))).numpy(), step(np.ones((2, 8, 2, 2))).numpy()
    assert set(np.unique(a)) <= {0.0, 2.0} and not np.array_equal(a, b)


def test_embedding_max_norm_is_eager_only():
    m = nn.Embedding(5, 3, max_norm=0.5)
    m(gc.tensor(np.array([1, 2])))
    norms = np.linalg.norm(m.weight.detach().numpy()[[1, 2]], axis=1)
    assert np.all(norms <= 0.5 + 1e-6)
    with pytest.raises(gc.errors.UnsupportedError, match="max_norm"):
        m(gc.placeholder((2,), gc.int64))


# ---- parity with PyTorch ------------------------------------------------------------------------------
PARITY = [
    ("Conv1d", (4, 6, 3), dict(stride=2, padding=1, groups=2), [(2, 4, 9)]),
    ("Conv1d", (4, 6, 3), dict(padding="same", dilation=2, padding_mode="reflect"), [(2, 4, 9)]),
    ("Conv2d", (3, 2, 3), dict(padding=(1, 2), padding_mode="circular"), [(2, 3, 5, 6)]),
    ("Conv2d", (3, 2, 3), dict(padding=1, padding_mode="replicate", bias=False), [(1, 3, 4, 4)]),
    ("ConvTranspose1d", (4, 3, 3), dict(stride=2, padding=1, output_padding=1), [(2, 4, 5)]),
    ("MaxPool1d", (3, 2, 1), {}, [(2, 3, 9)]),
    ("AvgPool1d", (3, 2, 1), dict(count_include_pad=False), [(2, 3, 9)]),
    ("AdaptiveAvgPool1d", (4,), {}, [(2, 3, 9)]),
    ("GroupNorm", (2, 4), {}, [(2, 4, 3, 3)]),
    ("GroupNorm", (2, 4), dict(affine=False), [(2, 4, 5)]),
    ("InstanceNorm1d", (3,), dict(affine=True), [(2, 3, 5)]),
    ("InstanceNorm2d", (3,), dict(track_running_stats=True), [(2, 3, 4, 4)]),
    ("RMSNorm", ((3, 4),), {}, [(2, 3, 4)]),
    ("LocalResponseNorm", (2,), dict(k=2.0), [(2, 5, 3)]),
    ("BatchNorm3d", (3,), {}, [(2, 3, 2, 2, 2)]),
    ("BatchNorm1d", (3,), dict(bias=False), [(4, 3)]),
    ("Hardswish", (), {}, [(3, 4)]),
    ("Hardsigmoid", (), {}, [(3, 4)]),
    ("GLU", (1,), {}, [(3, 4)]),
    ("Softmax2d", (), {}, [(2, 3, 2, 2)]),
    ("Upsample", (), dict(scale_factor=1.7, mode="bilinear"), [(1, 2, 3, 4)]),
    ("Upsample", (), dict(size=(5, 3), mode="nearest"), [(1, 2, 3, 4)]),
    ("UpsamplingBilinear2d", (), dict(scale_factor=2), [(1, 2, 3, 4)]),
    ("Upsample", (), dict(scale_factor=2.5, mode="linear", align_corners=True), [(1, 2, 3)]),
    ("PixelShuffle", (2,), {}, [(1, 8, 2, 3)]),
    ("PixelUnshuffle", (2,), {}, [(1, 2, 4, 6)]),
    ("ChannelShuffle", (3,), {}, [(2, 6, 2)]),
    ("ReflectionPad2d", ((1, 2, 0, 1),), {}, [(1, 2, 3, 4)]),
    ("ReplicationPad1d", (2,), {}, [(1, 2, 3)]),
    ("CircularPad2d", (1,), {}, [(1, 2, 3, 4)]),
    ("ZeroPad2d", ((1, 0, 2, 1),), {}, [(1, 2, 3, 4)]),
    ("ConstantPad1d", (2, 3.5), {}, [(1, 2, 3)]),
    ("CosineSimilarity", (), dict(dim=1), [(3, 4), (3, 4)]),
    ("PairwiseDistance", (), dict(p=1.0), [(3, 4), (3, 4)]),
    ("Embedding", (6, 3), dict(max_norm=1.0, padding_idx=0), ["int"]),
    ("GRUCell", (3, 4), dict(bias=False), [(2, 3)]),
    ("AdaptiveMaxPool2d", ((3, 2),), {}, [(2, 3, 7, 5)]),
    ("AdaptiveMaxPool1d", (4,), {}, [(2, 3, 9)]),
    ("LPPool2d", (2, 3, 2), {}, [(2, 3, 7, 7)]),
    ("LPPool1d", (2, 3), {}, [(2, 3, 8)]),
    ("Unfold", (2,), dict(dilation=2, padding=1, stride=2), [(2, 3, 6, 7)]),
    ("Fold", ((5, 6), 2), dict(padding=1, stride=2), [(2, 12, 12)]),
    ("Upsample", (), dict(scale_factor=1.6, mode="bicubic"), [(1, 2, 3, 4)]),
    ("Upsample", (), dict(size=(5, 7), mode="bicubic", align_corners=True), [(1, 2, 3, 4)]),
    ("EmbeddingBag", (6, 3), dict(mode="sum"), ["int"]),
    ("Conv3d", (2, 4, 3), dict(stride=(2, 1, 1), padding=1), [(2, 2, 5, 4, 3)]),
    ("Conv3d", (2, 4, (2, 3, 1)), dict(padding="same", dilation=(2, 1, 1), groups=2,
                                       padding_mode="replicate"), [(1, 2, 4, 3, 3)]),
    ("MaxPool3d", (3, 2, 1), {}, [(2, 2, 5, 4, 3)]),
    ("MaxPool3d", (2, 2), dict(ceil_mode=True), [(1, 2, 5, 4, 3)]),
    ("AvgPool3d", (3, 2, 1), dict(count_include_pad=False, ceil_mode=True), [(1, 2, 5, 4, 3)]),
    ("AvgPool3d", (2,), dict(divisor_override=3), [(1, 2, 4, 4, 3)]),
    ("ConvTranspose3d", (2, 4, 3), dict(stride=2, padding=1, output_padding=1),
     [(1, 2, 3, 2, 3)]),
    ("ConvTranspose3d", (2, 4, (2, 3, 1)), dict(stride=(3, 1, 2), groups=2, dilation=(1, 2, 1)),
     [(1, 2, 2, 3, 2)]),
    ("AdaptiveAvgPool3d", ((2, 3, 2),), {}, [(1, 2, 5, 4, 3)]),
    ("AdaptiveMaxPool3d", ((2, None, 2),), {}, [(1, 2, 5, 4, 3)]),
    ("LPPool3d", (2, (2, 1, 2)), dict(stride=1), [(1, 2, 3, 3, 4)]),
    ("LPPool2d", (float("inf"), 2), {}, [(1, 2, 4, 5)]),
]


@pytest.mark.parametrize("name,args,kwargs,shapes", PARITY,
                         ids=[f"{p[0]}-{i}" for i, p in enumerate(PARITY)])
def test_layers_match_pytorch(name, args, kwargs, shapes):
    torch = pytest.importorskip("torch")
    ours = getattr(nn, name)(*args, **kwargs).double()
    theirs = getattr(torch.nn, name)(*args, **kwargs).double()
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for (k, a), (_, b) in zip(ours.state_dict().items(), theirs.state_dict().items()):
        assert tuple(a.shape) == tuple(b.shape), k
    theirs.load_state_dict({k: torch.from_numpy(np.array(v.numpy()))
                            for k, v in ours.state_dict().items()})
    inputs = [rng.integers(0, 6, (2, 4)) if s == "int" else rng.standard_normal(s) * 2
              for s in shapes]
    xs = [gc.tensor(a, requires_grad=a.dtype.kind == "f") for a in inputs]
    ts = [torch.tensor(a, requires_grad=a.dtype.kind == "f") for a in inputs]
    for mode in ("train", "eval"):
        getattr(ours, mode)()
        getattr(theirs, mode)()
        out, ref = ours(*xs), theirs(*ts)
        np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-10,
                                   atol=1e-12)
    for (k, a), (_, b) in zip(ours.state_dict().items(), theirs.state_dict().items()):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12, err_msg=k)  # running stats
    w = rng.standard_normal(tuple(ref.shape))
    (out * gc.tensor(w)).sum().backward()
    (ref * torch.from_numpy(w)).sum().backward()
    tp = dict(theirs.named_parameters())
    for n, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), tp[n].grad.numpy(), rtol=1e-9, atol=1e-11,
                                   err_msg=n)
    # PyTorch's CPU hardsigmoid/hardswish backward uses the float literal 1.0f / 6 even for
    # float64 (relative error ~3e-8); graphc's is exact
    rtol = 1e-7 if name in ("Hardsigmoid", "Hardswish") else 1e-9
    for x, t in zip(xs, ts):
        if t.grad is not None:
            np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=rtol, atol=1e-11)


@pytest.mark.parametrize("name,args,kwargs,shapes",
                         [p for p in PARITY if "int" not in p[3]],
                         ids=[f"{p[0]}-{i}" for i, p in enumerate(PARITY) if "int" not in p[3]])
def test_layers_static_equals_eager_with_fd_gradients(name, args, kwargs, shapes):
    m = getattr(nn, name)(*args, **kwargs)
    m.eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_layer(m, [rng.standard_normal(s) for s in shapes], fd_atol=2e-5)


def test_default_init_matches_pytorch_distribution():
    torch = pytest.importorskip("torch")
    ours, theirs = nn.Conv1d(8, 16, 5), torch.nn.Conv1d(8, 16, 5)
    bound = 1 / np.sqrt(8 * 5)
    for a, b in ((ours.weight, theirs.weight), (ours.bias, theirs.bias)):
        a = a.detach().numpy()
        assert np.abs(a).max() <= bound + 1e-7
        assert np.abs(b.detach().numpy()).max() <= bound + 1e-7
        assert a.std() > bound / 3


def test_functional_instance_norm_updates_running_stats_as_pytorch():
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((3, 2, 5))
    rm, rv = gc.zeros(2, dtype=gc.float64), gc.ones(2, dtype=gc.float64)
    trm, trv = torch.zeros(2, dtype=torch.float64), torch.ones(2, dtype=torch.float64)
    out = F.instance_norm(gc.tensor(x), rm, rv, momentum=0.3)
    ref = torch.nn.functional.instance_norm(torch.tensor(x), trm, trv, momentum=0.3)
    np.testing.assert_allclose(out.numpy(), ref.numpy(), rtol=1e-10)
    np.testing.assert_allclose(rm.numpy(), trm.numpy(), rtol=1e-12)
    np.testing.assert_allclose(rv.numpy(), trv.numpy(), rtol=1e-12)


def test_rrelu_gumbel_softmax_and_embedding_bag_offsets():
    x = gc.tensor(rng.standard_normal((50, 40)))
    m = nn.RReLU(0.1, 0.3)
    out = m(x).numpy()
    neg = x.numpy() < 0
    slopes = out[neg] / x.numpy()[neg]
    assert slopes.min() >= 0.1 and slopes.max() < 0.3 and slopes.std() > 0.03
    m.eval()
    np.testing.assert_allclose(m(x).numpy(), np.where(neg, 0.2 * x.numpy(), x.numpy()))
    with pytest.raises(gc.errors.UnsupportedError, match="rrelu"):
        m.train()(gc.placeholder((2, 3), gc.float64))
    logits = gc.tensor(rng.standard_normal((2000, 3)), requires_grad=True)
    soft = F.gumbel_softmax(logits, tau=0.5)
    np.testing.assert_allclose(soft.detach().numpy().sum(1), 1, rtol=1e-12)
    hard = F.gumbel_softmax(logits, hard=True)
    assert set(np.unique(hard.detach().numpy())) == {0.0, 1.0}
    hard.sum().backward()  # straight-through: the soft sample's gradient
    probs = scipy.special.softmax(logits.detach().numpy(), 1)
    freq = hard.detach().numpy().mean(0)
    np.testing.assert_allclose(freq, probs.mean(0), atol=0.05)  # samples follow softmax


def test_embedding_bag_with_offsets_matches_pytorch():
    torch = pytest.importorskip("torch")
    ours = nn.EmbeddingBag(6, 3, mode="max", padding_idx=2).double()
    theirs = torch.nn.EmbeddingBag(6, 3, mode="max", padding_idx=2).double()
    theirs.load_state_dict({k: torch.from_numpy(np.array(v.numpy()))
                            for k, v in ours.state_dict().items()})
    inp, off = np.array([1, 2, 4, 5, 4, 3, 2, 0]), np.array([0, 3, 3, 5])
    for mode in ("sum", "mean", "max"):
        ours.mode = theirs.mode = mode
        a = ours(gc.tensor(inp), gc.tensor(off))
        b = theirs(torch.tensor(inp), torch.tensor(off))
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-12)
    ours.mode = theirs.mode = "sum"
    w = rng.standard_normal(8)
    a = ours(gc.tensor(inp), gc.tensor(off), per_sample_weights=gc.tensor(w))
    b = theirs(torch.tensor(inp), torch.tensor(off), per_sample_weights=torch.tensor(w))
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-12)


@pytest.mark.parametrize("kernel,stride", [(2, 2), (3, 2)])
def test_max_unpool2d_matches_pytorch_and_numpy(kernel, stride):
    x = rng.standard_normal((2, 2, 6, 7))
    values, indices = F.max_pool2d(gc.tensor(x), kernel, stride, return_indices=True)
    m = nn.MaxUnpool2d(kernel, stride)
    out = m(values, indices, output_size=(6, 7)).numpy()
    expected = np.zeros((2, 2, 42))
    flat_i = indices.numpy().reshape(2, 2, -1)
    flat_v = values.numpy().reshape(2, 2, -1)
    for a in range(2):
        for b in range(2):
            expected[a, b, flat_i[a, b]] = flat_v[a, b]
    np.testing.assert_array_equal(out, expected.reshape(2, 2, 6, 7))
    torch = pytest.importorskip("torch")
    tv, ti = torch.nn.functional.max_pool2d(torch.tensor(x), kernel, stride,
                                            return_indices=True)
    ref = torch.nn.MaxUnpool2d(kernel, stride)(tv, ti, output_size=(6, 7))
    np.testing.assert_array_equal(out, ref.numpy())
    assert repr(m) == repr(torch.nn.MaxUnpool2d(kernel, stride))


@pytest.mark.parametrize("align_corners", [False, True])
def test_affine_grid_and_grid_sample(align_corners):
    x = rng.standard_normal((2, 3, 4, 5))
    identity = np.tile(np.array([[1.0, 0, 0], [0, 1.0, 0]]), (2, 1, 1))
    grid = F.affine_grid(gc.tensor(identity), (2, 3, 4, 5), align_corners=align_corners)
    out = F.grid_sample(gc.tensor(x), grid, align_corners=align_corners)
    np.testing.assert_allclose(out.numpy(), x, atol=1e-12)  # the identity warp
    theta = rng.standard_normal((2, 2, 3)) * 0.5
    sample_grid = F.affine_grid(gc.tensor(theta), (2, 3, 3, 4), align_corners=align_corners)
    check_layer(_Fn(lambda t, g: F.grid_sample(t, g, padding_mode="border",
                                               align_corners=align_corners)),
                [x, sample_grid.numpy() * 1.2], fd_atol=3e-5)
    torch = pytest.importorskip("torch")
    tgrid = torch.nn.functional.affine_grid(torch.tensor(theta), (2, 3, 3, 4),
                                            align_corners=align_corners)
    np.testing.assert_allclose(sample_grid.numpy(), tgrid.numpy(), rtol=1e-12)
    for mode in ("bilinear", "nearest"):
        for padding in ("zeros", "border", "reflection"):
            g = tgrid.numpy() * 2.3  # far outside: reflection folds several times
            xs, ts = gc.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
            gs, tgs = gc.tensor(g, requires_grad=True), torch.tensor(g, requires_grad=True)
            ours = F.grid_sample(xs, gs, mode=mode, padding_mode=padding,
                                 align_corners=align_corners)
            ref = torch.nn.functional.grid_sample(ts, tgs, mode=mode, padding_mode=padding,
                                                  align_corners=align_corners)
            np.testing.assert_allclose(ours.detach().numpy(), ref.detach().numpy(),
                                       rtol=1e-10, atol=1e-12)
            w = rng.standard_normal(tuple(ref.shape))
            (ours * gc.tensor(w)).sum().backward()
            (ref * torch.from_numpy(w)).sum().backward()
            np.testing.assert_allclose(xs.grad.numpy(), ts.grad.numpy(), rtol=1e-9,
                                       atol=1e-12)
            grid_grad = gs.grad.numpy() if gs.grad is not None else np.zeros(g.shape)
            np.testing.assert_allclose(grid_grad, tgs.grad.numpy(), rtol=1e-9, atol=1e-12)
