"""scaled_dot_product_attention, MultiheadAttention and the Transformer layers: NumPy
references, finite-difference gradients, eager == static, and PyTorch's numbers, parameter
names, state_dict keys and repr when it is installed."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.special

import graphc as gc
import graphc.nn as nn
import graphc.nn.functional as F
from layer_check import check_layer

rng = np.random.default_rng(21)


class _Fn(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, *xs):
        return self.fn(*xs)


def np_attention(q, k, v, bias=None, scale=None):
    s = q @ np.swapaxes(k, -1, -2) * (scale or 1 / np.sqrt(q.shape[-1]))
    if bias is not None:
        s = s + bias
    return scipy.special.softmax(s, -1) @ v


def test_sdpa_numpy_reference_masks_and_causal():
    q, k, v = (rng.standard_normal((2, 2, 3, 4)), rng.standard_normal((2, 2, 5, 4)),
               rng.standard_normal((2, 2, 5, 4)))
    check_layer(_Fn(F.scaled_dot_product_attention), [q, k, v],
                lambda p, q, k, v: np_attention(q, k, v))
    float_mask = rng.standard_normal((3, 5))
    check_layer(_Fn(lambda q, k, v, m: F.scaled_dot_product_attention(q, k, v, attn_mask=m)),
                [q, k, v, float_mask], lambda p, q, k, v, m: np_attention(q, k, v, m))
    causal = np.where(np.tril(np.ones((3, 5), bool)), 0, -np.inf)
    check_layer(_Fn(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True,
                                                                    scale=0.3)),
                [q, k, v], lambda p, q, k, v: np_attention(q, k, v, causal, 0.3))


def test_sdpa_boolean_mask_and_fully_masked_rows_give_zeros():
    q, k, v = (rng.standard_normal((1, 3, 4)), rng.standard_normal((1, 5, 4)),
               rng.standard_normal((1, 5, 4)))
    allowed = np.ones((3, 5), bool)
    allowed[0] = False
    allowed[1, 2:] = False
    xs = [gc.tensor(a, requires_grad=True) for a in (q, k, v)]
    out = F.scaled_dot_product_attention(*xs, attn_mask=gc.tensor(allowed))
    with np.errstate(invalid="ignore"):  # NumPy's softmax of an all -inf row is nan
        expected = np_attention(q, k, v, np.where(allowed, 0, -np.inf)[None])
    expected[:, 0] = 0
    np.testing.assert_allclose(out.detach().numpy(), expected, atol=1e-12)
    out.sum().backward()
    assert all(np.isfinite(x.grad.numpy()).all() for x in xs)


@pytest.mark.parametrize("kwargs", [
    dict(), dict(bias=False), dict(add_bias_kv=True, add_zero_attn=True),
    dict(kdim=3, vdim=5), dict(batch_first=True)])
@pytest.mark.parametrize("need_weights", [True, False])
def test_multihead_attention_static_equals_eager(kwargs, need_weights):
    m = nn.MultiheadAttention(4, 2, **kwargs)
    L, S, N = 3, 5, 2
    shape = (lambda n, d: (N, n, d)) if kwargs.get("batch_first") else (lambda n, d: (n, N, d))
    q = rng.standard_normal(shape(L, 4))
    k = rng.standard_normal(shape(S, kwargs.get("kdim", 4)))
    v = rng.standard_normal(shape(S, kwargs.get("vdim", 4)))
    mask = rng.standard_normal((L, S))
    fn = _Fn(lambda q, k, v, a: m(q, k, v, attn_mask=a, need_weights=need_weights)[0])
    fn.m = m
    check_layer(fn, [q, k, v, mask], grad_inputs=[0, 1, 2], fd_atol=3e-5)


# ---- against PyTorch --------------------------------------------------------------------------------
def _load(ours, theirs):
    torch = pytest.importorskip("torch")
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert repr(ours) == repr(theirs)
    theirs.load_state_dict({k: torch.from_numpy(np.array(v.numpy()))
                            for k, v in ours.state_dict().items()})


def _compare(out, ref, ours, theirs, inputs, tinputs):
    torch = pytest.importorskip("torch")
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-9, atol=1e-11)
    w = rng.standard_normal(tuple(ref.shape))
    (out * gc.tensor(w)).sum().backward()
    (ref * torch.from_numpy(w)).sum().backward()
    tp = dict(theirs.named_parameters())
    for n, p in ours.named_parameters():
        if tp[n].grad is None:
            assert p.grad is None or not np.any(p.grad.numpy()), n
            continue
        np.testing.assert_allclose(p.grad.numpy(), tp[n].grad.numpy(), rtol=1e-8, atol=1e-10,
                                   err_msg=n)
    for x, t in zip(inputs, tinputs):
        if t.grad is not None:
            np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-8, atol=1e-10)


MHA_CASES = [
    (dict(), dict(need_weights=True)),
    (dict(), dict(need_weights=True, average_attn_weights=False)),
    (dict(batch_first=True), dict(need_weights=False)),
    (dict(add_bias_kv=True, add_zero_attn=True), dict(need_weights=True)),
    (dict(kdim=3, vdim=5, bias=False), dict(need_weights=False)),
]


@pytest.mark.parametrize("ctor,call", MHA_CASES)
@pytest.mark.parametrize("masks", ["none", "bool", "float"])
def test_multihead_attention_matches_pytorch(ctor, call, masks):
    torch = pytest.importorskip("torch")
    ours = nn.MultiheadAttention(4, 2, **ctor).double()
    theirs = torch.nn.MultiheadAttention(4, 2, **ctor).double()
    _load(ours, theirs)
    L, S, N = 3, 5, 2
    bf = ctor.get("batch_first")
    shape = (lambda n, d: (N, n, d)) if bf else (lambda n, d: (n, N, d))
    arrays = [rng.standard_normal(shape(L, 4)), rng.standard_normal(shape(S, ctor.get("kdim", 4))),
              rng.standard_normal(shape(S, ctor.get("vdim", 4)))]
    kw, tkw = dict(call), dict(call)
    if masks == "bool":
        attn = rng.random((L, S)) < 0.3
        attn[:, 0] = False  # no fully masked row (PyTorch gives nan there on this path)
        kpm = np.zeros((N, S), bool)
        kpm[1, -2:] = True
        kw.update(attn_mask=gc.tensor(attn), key_padding_mask=gc.tensor(kpm))
        tkw.update(attn_mask=torch.tensor(attn), key_padding_mask=torch.tensor(kpm))
    elif masks == "float":
        attn = rng.standard_normal((N * 2, L, S))
        kw.update(attn_mask=gc.tensor(attn))
        tkw.update(attn_mask=torch.tensor(attn))
    xs = [gc.tensor(a, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, weights = ours(*xs, **kw)
    ref, rweights = theirs(*ts, **tkw)
    if rweights is None:
        assert weights is None
    else:
        np.testing.assert_allclose(weights.detach().numpy(), rweights.detach().numpy(),
                                   rtol=1e-9, atol=1e-12)
    _compare(out, ref, ours, theirs, xs, ts)


@pytest.mark.parametrize("kwargs", [
    dict(), dict(norm_first=True, activation="gelu", batch_first=True),
    dict(bias=False, layer_norm_eps=1e-3)])
def test_transformer_encoder_matches_pytorch(kwargs):
    torch = pytest.importorskip("torch")
    layer = nn.TransformerEncoderLayer(4, 2, 8, dropout=0.0, **kwargs).double()
    tlayer = torch.nn.TransformerEncoderLayer(4, 2, 8, dropout=0.0, **kwargs).double()
    ours = nn.TransformerEncoder(layer, 2, norm=nn.LayerNorm(4)).double()
    theirs = torch.nn.TransformerEncoder(tlayer, 2, norm=torch.nn.LayerNorm(4),
                                         enable_nested_tensor=False).double()
    _load(ours, theirs)
    x = rng.standard_normal((2, 5, 4) if kwargs.get("batch_first") else (5, 2, 4))
    mask = nn.Transformer.generate_square_subsequent_mask(5, dtype=gc.float64)
    tmask = torch.nn.Transformer.generate_square_subsequent_mask(5, dtype=torch.float64)
    np.testing.assert_array_equal(mask.numpy(), tmask.numpy())
    kpm = np.zeros((2, 5), bool)
    kpm[0, -1] = True
    xs, ts = gc.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out = ours(xs, mask=mask, src_key_padding_mask=gc.tensor(kpm))
    ref = theirs(ts, mask=tmask, src_key_padding_mask=torch.tensor(kpm))
    _compare(out, ref, ours, theirs, [xs], [ts])


def test_transformer_matches_pytorch():
    torch = pytest.importorskip("torch")
    ours = nn.Transformer(4, 2, 2, 2, 8, dropout=0.0, batch_first=True).double()
    theirs = torch.nn.Transformer(4, 2, 2, 2, 8, dropout=0.0, batch_first=True).double()
    _load(ours, theirs)
    src, tgt = rng.standard_normal((2, 5, 4)), rng.standard_normal((2, 3, 4))
    tmask = torch.nn.Transformer.generate_square_subsequent_mask(3, dtype=torch.float64)
    xs = [gc.tensor(src, requires_grad=True), gc.tensor(tgt, requires_grad=True)]
    ts = [torch.tensor(src, requires_grad=True), torch.tensor(tgt, requires_grad=True)]
    out = ours(*xs, tgt_mask=gc.tensor(tmask.numpy()), tgt_is_causal=True)
    ref = theirs(*ts, tgt_mask=tmask, tgt_is_causal=True)
    _compare(out, ref, ours, theirs, xs, ts)


def test_transformer_encoder_layer_compiles_on_cpu():
    """One check on the Numba cpu target (the others use the reference target)."""
    layer = nn.TransformerEncoderLayer(4, 2, 8, dropout=0.0, batch_first=True).double()
    layer.eval()
    x = rng.standard_normal((2, 3, 4))
    mask = np.where(np.tril(np.ones((3, 3), bool)), 0.0, -np.inf)
    eager = layer(gc.tensor(x), src_mask=gc.tensor(mask)).detach().numpy()
    ph = gc.placeholder((None, 3, 4), gc.float64, "x")
    run = gc.compile(layer(ph, src_mask=gc.constant(mask)), inputs=[ph], target="cpu")
    np.testing.assert_allclose(run(x).numpy(), eager, rtol=1e-10, atol=1e-12)
