"""optim.SparseAdam with Embedding(sparse=True): only the looked-up rows change; eager ==
compiled == NumPy reference == PyTorch (its sparse gradients) when installed."""
from __future__ import annotations

import numpy as np
import pytest

import graphc as gc
import graphc.nn as nn
import graphc.optim as optim

W0 = np.random.default_rng(5).standard_normal((6, 3))
TARGET = np.random.default_rng(6).standard_normal((4, 3))
BATCHES = [np.array([0, 2, 2, 5]), np.array([1, 1, 3, 0]), np.array([4, 4, 4, 4]),
           np.array([0, 5, 3, 2])]
PADDING = 3  # (looked up in batches 1 and 3: PyTorch leaves it out of the sparse gradient)


def _loss(lib, emb, idx):
    out = emb(lib.tensor(idx))
    return ((out - lib.tensor(TARGET)) ** 2 * lib.tensor(np.arange(1.0, 4.0))).sum()


def _trajectory(lib, maximize=False, compiled=False):
    emb = lib.nn.Embedding(6, 3, padding_idx=PADDING, sparse=True, dtype=lib.float64)
    with lib.no_grad():
        emb.weight.copy_(lib.tensor(W0))
    opt = lib.optim.SparseAdam(emb.parameters(), lr=0.1, betas=(0.8, 0.9), maximize=maximize)
    if compiled:
        idx = gc.placeholder((4,), gc.int64, "idx")
        loss = gc.sum((emb(idx) - gc.tensor(TARGET)) ** 2 * gc.tensor(np.arange(1.0, 4.0)))
        step = gc.compile(loss, inputs=[idx], updates=opt.updates(loss), target="reference")
    out = []
    for batch in BATCHES:
        if compiled:
            step(batch)
        else:
            opt.zero_grad()
            _loss(lib, emb, batch).backward()
            opt.step()
        out.append(emb.weight.detach().numpy().copy())
    return out


def _reference(maximize=False):
    w, m, v, out = W0.copy(), np.zeros_like(W0), np.zeros_like(W0), []
    for t, batch in enumerate(BATCHES, 1):
        g = np.zeros_like(w)
        np.add.at(g, batch, 2 * (w[batch] - TARGET) * np.arange(1.0, 4.0))
        g[PADDING] = 0
        g = -g if maximize else g
        rows = np.unique(batch[batch != PADDING])
        m[rows] += (g[rows] - m[rows]) * 0.2
        v[rows] += (g[rows] ** 2 - v[rows]) * 0.1
        step_size = 0.1 * np.sqrt(1 - 0.9 ** t) / (1 - 0.8 ** t)
        w[rows] -= step_size * m[rows] / (np.sqrt(v[rows]) + 1e-8)
        out.append(w.copy())
    return out


@pytest.mark.parametrize("maximize", [False, True])
def test_sparse_adam_matches_reference_eager_and_compiled(maximize):
    expected = _reference(maximize)
    for compiled in (False, True):
        for k, (got, want) in enumerate(zip(_trajectory(gc, maximize, compiled), expected)):
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14,
                                       err_msg=f"step {k} compiled={compiled}")
    assert (_trajectory(gc, maximize)[0][[1, 3, 4]] == W0[[1, 3, 4]]).all()  # untouched rows


def test_sparse_adam_matches_pytorch_sparse_gradients():
    torch = pytest.importorskip("torch")
    for got, want in zip(_trajectory(gc), _trajectory(torch)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
    ours, theirs = optim.SparseAdam([nn.Parameter(gc.ones(2))]), torch.optim.SparseAdam(
        [torch.nn.Parameter(torch.ones(2))])
    assert sorted(ours.defaults) == sorted(theirs.defaults)
    assert repr(nn.Embedding(3, 2, sparse=True)) == repr(torch.nn.Embedding(3, 2, sparse=True))


def test_sparse_adam_checks_hyperparameters():
    p = [nn.Parameter(gc.ones(2))]
    for kwargs, match in ((dict(lr=0.0), "learning rate"), (dict(eps=0.0), "epsilon"),
                          (dict(betas=(0.9, 1.0)), "beta parameter at index 1")):
        with pytest.raises(ValueError, match=match):
            optim.SparseAdam(p, **kwargs)
