"""RNN / LSTM / GRU (layers, directions, dropout, proj_size, initial states) and the cells:
NumPy references, finite-difference gradients, eager == static, and PyTorch's numbers,
parameter names and repr when it is installed."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.special

import graphc as gc
import graphc.nn as nn
from layer_check import check_layer

rng = np.random.default_rng(5)
sig = scipy.special.expit


def np_gru_step(x, h, p, sfx=""):
    gi = x @ p[f"weight_ih{sfx}"].T + p[f"bias_ih{sfx}"]
    gh = h @ p[f"weight_hh{sfx}"].T + p[f"bias_hh{sfx}"]
    H = h.shape[-1]
    r = sig(gi[:, :H] + gh[:, :H])
    z = sig(gi[:, H:2 * H] + gh[:, H:2 * H])
    n = np.tanh(gi[:, 2 * H:] + r * gh[:, 2 * H:])
    return (1 - z) * n + z * h


def np_lstm_step(x, h, c, p, sfx=""):
    g = x @ p[f"weight_ih{sfx}"].T + p[f"bias_ih{sfx}"] + h @ p[f"weight_hh{sfx}"].T \
        + p[f"bias_hh{sfx}"]
    i, f, gg, o = np.split(g, 4, axis=-1)
    c = sig(f) * c + sig(i) * np.tanh(gg)
    return sig(o) * np.tanh(c), c


def test_gru_bidirectional_numpy_reference():
    T, N, F, H = 4, 2, 3, 5
    x = rng.standard_normal((T, N, F))

    def reference(p, x):
        outs, finals = [], []
        for sfx, order in (("_l0", range(T)), ("_l0_reverse", range(T - 1, -1, -1))):
            h, seq = np.zeros((N, H)), [None] * T
            for t in order:
                h = seq[t] = np_gru_step(x[t], h, p, sfx)
            outs.append(np.stack(seq))
            finals.append(h)
        return np.concatenate(outs, -1), np.stack(finals)
    check_layer(nn.GRU(F, H, bidirectional=True), [x], reference)


def test_cells_numpy_reference():
    x, h, c = rng.standard_normal((3, 4)), rng.standard_normal((3, 5)), rng.standard_normal((3, 5))
    check_layer(nn.GRUCell(4, 5), [x, h], lambda p, x, h: np_gru_step(x, h, p))

    class LSTMCellFlat(nn.Module):  # layer_check passes the state as separate inputs
        def __init__(self):
            super().__init__()
            self.cell = nn.LSTMCell(4, 5)

        def forward(self, x, h, c):
            return self.cell(x, (h, c))
    check_layer(LSTMCellFlat(), [x, h, c], lambda p, x, h, c: np_lstm_step(
        x, h, c, {k.split(".")[1]: v for k, v in p.items()}))
    check_layer(nn.RNNCell(4, 5, nonlinearity="relu"), [x, h], lambda p, x, h: np.maximum(
        0, x @ p["weight_ih"].T + p["bias_ih"] + h @ p["weight_hh"].T + p["bias_hh"]))


def test_lstm_cell_static_and_unbatched():
    cell = nn.LSTMCell(4, 5).double()
    x, h, c = rng.standard_normal(4), rng.standard_normal(5), rng.standard_normal(5)
    h1, c1 = cell(gc.tensor(x), (gc.tensor(h), gc.tensor(c)))
    assert h1.shape == (5,) and c1.shape == (5,)
    xs = gc.placeholder((None, 4), gc.float64, "x")
    hs, cs = gc.placeholder((None, 5), gc.float64, "h"), gc.placeholder((None, 5), gc.float64)
    run = gc.compile(list(cell(xs, (hs, cs))), inputs=[xs, hs, cs], target="reference")
    out = run(x[None], h[None], c[None])
    np.testing.assert_allclose(out[0].numpy()[0], h1.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(out[1].numpy()[0], c1.detach().numpy(), rtol=1e-12)


@pytest.mark.parametrize("cls", ["LSTM", "GRU", "RNN"])
def test_two_layer_bidirectional_static_equals_eager(cls):
    m = getattr(nn, cls)(3, 4, num_layers=2, bidirectional=True, batch_first=True)
    check_layer(m, [rng.standard_normal((2, 3, 3))])


def test_proj_size_and_initial_states():
    m = nn.LSTM(3, 5, num_layers=2, proj_size=2, bidirectional=True)
    h0, c0 = rng.standard_normal((4, 2, 2)), rng.standard_normal((4, 2, 5))
    out, (h, c) = m.double()(gc.tensor(rng.standard_normal((3, 2, 3))),
                             (gc.tensor(h0), gc.tensor(c0)))
    assert out.shape == (3, 2, 4) and h.shape == (4, 2, 2) and c.shape == (4, 2, 5)
    assert m.weight_hr_l1_reverse.shape == (2, 5) and m.weight_ih_l1.shape == (20, 4)


def test_dropout_between_layers_only_in_training():
    m = nn.GRU(3, 4, num_layers=2, dropout=0.5).double()
    x = gc.tensor(rng.standard_normal((5, 2, 3)))
    m.eval()
    a, b = m(x)[0].detach().numpy(), m(x)[0].detach().numpy()
    np.testing.assert_array_equal(a, b)
    m.train()
    outs = [m(x)[0].detach().numpy() for _ in range(3)]
    assert not all(np.array_equal(outs[0], o) for o in outs[1:])
    with pytest.raises(ValueError, match="dropout"):
        nn.LSTM(3, 4, dropout=1.5)


def test_pad_and_pack_utilities_round_trip():
    from graphc.nn.utils.rnn import (pack_padded_sequence, pack_sequence, pad_packed_sequence,
                                     pad_sequence, unpack_sequence)
    seqs = [rng.standard_normal((n, 2)) for n in (3, 5, 2)]
    padded = pad_sequence([gc.tensor(s) for s in seqs], batch_first=True)
    assert padded.shape == (3, 5, 2)
    packed = pack_padded_sequence(padded, [3, 5, 2], batch_first=True, enforce_sorted=False)
    np.testing.assert_array_equal(packed.batch_sizes.numpy(), [3, 3, 2, 1, 1])
    back, lengths = pad_packed_sequence(packed, batch_first=True)
    np.testing.assert_array_equal(back.numpy(), padded.numpy())
    np.testing.assert_array_equal(lengths.numpy(), [3, 5, 2])
    for a, b in zip(unpack_sequence(pack_sequence([gc.tensor(s) for s in seqs],
                                                  enforce_sorted=False)), seqs):
        np.testing.assert_array_equal(a.numpy(), b)
    with pytest.raises(RuntimeError, match="decreasing"):
        pack_padded_sequence(padded, [3, 5, 2], batch_first=True)


# ---- against PyTorch -----------------------------------------------------------------------------
CONFIGS = [
    ("LSTM", (3, 4), dict(num_layers=2, bidirectional=True)),
    ("LSTM", (3, 5), dict(proj_size=2, batch_first=True)),
    ("LSTM", (3, 5), dict(num_layers=2, proj_size=3, bidirectional=True, bias=False)),
    ("GRU", (3, 4), dict(num_layers=2, bidirectional=True, batch_first=True)),
    ("GRU", (3, 4), dict()),
    ("RNN", (3, 4), dict(nonlinearity="relu", bidirectional=True)),
]


@pytest.mark.parametrize("cls,args,kwargs", CONFIGS)
@pytest.mark.parametrize("with_state", [False, True])
def test_recurrent_layers_match_pytorch(cls, args, kwargs, with_state):
    torch = pytest.importorskip("torch")
    ours = getattr(nn, cls)(*args, **kwargs).double()
    theirs = getattr(torch.nn, cls)(*args, **kwargs).double()
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert repr(ours) == repr(theirs)
    theirs.load_state_dict({k: torch.from_numpy(v.numpy().copy())
                            for k, v in ours.state_dict().items()})
    x = rng.standard_normal((2, 3, 3))
    layers = kwargs.get("num_layers", 1) * (2 if kwargs.get("bidirectional") else 1)
    out_h = kwargs.get("proj_size") or args[1]
    states = [rng.standard_normal((layers, 2 if kwargs.get("batch_first") else 3, out_h))]
    if cls == "LSTM":
        states.append(rng.standard_normal(states[0].shape[:2] + (args[1],)))
    xs, ts = gc.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    hs = [gc.tensor(s, requires_grad=True) for s in states]
    ths = [torch.tensor(s, requires_grad=True) for s in states]
    pack = (lambda s: tuple(s) if cls == "LSTM" else s[0])
    out, h = ours(xs, pack(hs) if with_state else None)
    ref, rh = theirs(ts, pack(ths) if with_state else None)
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-10,
                               atol=1e-12)
    flat = list(h) if cls == "LSTM" else [h]
    rflat = list(rh) if cls == "LSTM" else [rh]
    loss, rloss = 0, 0
    for k, (a, b) in enumerate(zip([out] + flat, [ref] + rflat)):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-10,
                                   atol=1e-12)
        w = rng.standard_normal(tuple(b.shape))
        loss = loss + (a * gc.tensor(w)).sum()
        rloss = rloss + (b * torch.from_numpy(w)).sum()
    loss.backward()
    rloss.backward()
    tp = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), tp[name].grad.numpy(), rtol=1e-9,
                                   atol=1e-11, err_msg=name)
    np.testing.assert_allclose(xs.grad.numpy(), ts.grad.numpy(), rtol=1e-9, atol=1e-11)
    if with_state:
        for a, b in zip(hs, ths):
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("cls", ["RNNCell", "LSTMCell", "GRUCell"])
def test_cells_match_pytorch(cls):
    torch = pytest.importorskip("torch")
    ours, theirs = getattr(nn, cls)(3, 4).double(), getattr(torch.nn, cls)(3, 4).double()
    assert repr(ours) == repr(theirs)
    theirs.load_state_dict({k: torch.from_numpy(v.numpy().copy())
                            for k, v in ours.state_dict().items()})
    x = rng.standard_normal((2, 3))
    a = ours(gc.tensor(x))
    b = theirs(torch.tensor(x))
    a, b = (a[0], b[0]) if cls == "LSTMCell" else (a, b)
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-12)


def test_single_step_from_zeros_gives_weight_hh_a_zero_gradient():
    """As PyTorch: weight_hh takes part (times zeros), so optimizers see a zero gradient."""
    for m in (nn.LSTM(3, 4).double(), nn.GRUCell(3, 4).double()):
        x = gc.tensor(rng.standard_normal((1, 2, 3)) if isinstance(m, nn.LSTM)
                      else rng.standard_normal((2, 3)))
        out = m(x)
        (out[0] if isinstance(out, tuple) else out).sum().backward()
        grad = m.weight_hh_l0.grad if isinstance(m, nn.LSTM) else m.weight_hh.grad
        assert grad is not None
        np.testing.assert_array_equal(grad.numpy(), 0)


@pytest.mark.parametrize("cls,kwargs", [("LSTM", dict(num_layers=2, bidirectional=True)),
                                        ("GRU", dict(bidirectional=True)),
                                        ("RNN", dict(num_layers=2))])
@pytest.mark.parametrize("with_state", [False, True])
def test_packed_sequences_match_pytorch(cls, kwargs, with_state):
    torch = pytest.importorskip("torch")
    from graphc.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
    tr = torch.nn.utils.rnn
    ours = getattr(nn, cls)(3, 4, batch_first=True, **kwargs).double()
    theirs = getattr(torch.nn, cls)(3, 4, batch_first=True, **kwargs).double()
    theirs.load_state_dict({k: torch.from_numpy(v.numpy().copy())
                            for k, v in ours.state_dict().items()})
    x, lengths = rng.standard_normal((3, 5, 3)), [2, 5, 3]
    layers = kwargs.get("num_layers", 1) * (2 if kwargs.get("bidirectional") else 1)
    states = [rng.standard_normal((layers, 3, 4)) for _ in range(2 if cls == "LSTM" else 1)]
    xs, ts = gc.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    pack = (lambda s: tuple(s) if cls == "LSTM" else s[0])
    out, h = ours(pack_padded_sequence(xs, lengths, batch_first=True, enforce_sorted=False),
                  pack([gc.tensor(s) for s in states]) if with_state else None)
    ref, rh = theirs(tr.pack_padded_sequence(ts, lengths, batch_first=True,
                                             enforce_sorted=False),
                     pack([torch.tensor(s) for s in states]) if with_state else None)
    np.testing.assert_array_equal(out.batch_sizes.numpy(), ref.batch_sizes.numpy())
    padded, _ = pad_packed_sequence(out, batch_first=True)
    rpadded, _ = tr.pad_packed_sequence(ref, batch_first=True)
    np.testing.assert_allclose(padded.detach().numpy(), rpadded.detach().numpy(), rtol=1e-10,
                               atol=1e-12)
    hs = list(h) if cls == "LSTM" else [h]
    rhs = list(rh) if cls == "LSTM" else [rh]
    for a, b in zip(hs, rhs):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-10,
                                   atol=1e-12)
    w = rng.standard_normal(tuple(rpadded.shape))
    ((padded * gc.tensor(w)).sum() + hs[0].sum()).backward()
    ((rpadded * torch.from_numpy(w)).sum() + rhs[0].sum()).backward()
    np.testing.assert_allclose(xs.grad.numpy(), ts.grad.numpy(), rtol=1e-9, atol=1e-11)
    tp = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), tp[name].grad.numpy(), rtol=1e-9,
                                   atol=1e-11, err_msg=name)


def test_packed_lstm_static_equals_eager():
    from graphc.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
    m = nn.LSTM(3, 4, bidirectional=True).double()
    x = rng.standard_normal((5, 3, 3))
    eager = pad_packed_sequence(m(pack_padded_sequence(gc.tensor(x), [5, 3, 2]))[0])[0]
    ph = gc.placeholder((5, None, 3), gc.float64, "x")
    out = pad_packed_sequence(m(pack_padded_sequence(ph, [5, 3, 2]))[0])[0]
    run = gc.compile(out, inputs=[ph], target="reference")
    np.testing.assert_allclose(run(x).numpy(), eager.detach().numpy(), rtol=1e-12)
