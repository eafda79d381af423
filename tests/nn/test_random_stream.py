"""Dropout draws ONE stream in both modes: the same seed and call sequence give the same masks
eagerly, compiled (graphc.compile, every target) and traced (graphc.jit)."""
import numpy as np
import pytest

import graphc as gc
from graphc import nn, optim
from graphc.ops import nn as N

X = np.linspace(-1, 1, 8, dtype=np.float32).reshape(2, 4)


def _model():
    gc.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 16), nn.Dropout(0.5), nn.ReLU(), nn.Linear(16, 16),
                         nn.Dropout(0.3))


def _eager_outputs(steps):
    model = _model()
    return [model(gc.tensor(X)).detach().numpy() for _ in range(steps)]


@pytest.mark.parametrize("target", ["reference", "cpu"])
def test_dropout_forward_matches_eager_on_every_target(target):
    expected = _eager_outputs(3)
    model = _model()
    x = gc.placeholder((2, 4), name="x")
    run = gc.compile(model(x), inputs=[x], target=target)  # no updates: the seed still advances
    for want in expected:
        np.testing.assert_allclose(run(X).numpy(), want, rtol=1e-6, atol=1e-7)
    assert not np.array_equal(expected[0] == 0, expected[1] == 0)  # fresh masks at each call


def test_thirty_two_elements_keep_the_same_count_in_both_modes():
    gc.manual_seed(7)
    eager = nn.Dropout(0.5)(gc.ones(32)).numpy()
    gc.manual_seed(7)
    x = gc.placeholder((32,), name="x")
    static = gc.compile(nn.Dropout(0.5)(x), inputs=[x], target="reference")(np.ones(32, np.float32))
    np.testing.assert_array_equal(static.numpy(), eager)


def _train(make_step, steps=3):
    model = _model()
    opt = optim.SGD(model.parameters(), lr=0.1)
    step = make_step(model, opt)
    losses = [float(step(X, np.ones((2, 16), np.float32))) for _ in range(steps)]
    return losses, [p.detach().numpy().copy() for p in model.parameters()]


def _step_fn(model, opt):
    def step(x, y):
        opt.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        opt.step()
        return loss
    return step


def _eager_step(model, opt):
    step = _step_fn(model, opt)
    return lambda x, y: step(gc.tensor(x), gc.tensor(y)).item()


def _compiled_step(model, opt):
    x, y = gc.placeholder((2, 4), name="x"), gc.placeholder((2, 16), name="y")
    loss = ((model(x) - y) ** 2).mean()
    run = gc.compile(loss, inputs=[x, y], target="reference",
                     updates={**opt.updates(loss), **model.buffer_updates()})
    return lambda x, y: run(x, y).item()


def _jitted_step(model, opt):
    step = gc.jit(_step_fn(model, opt), target="reference")
    return lambda x, y: step(x, y).item()


@pytest.mark.parametrize("make_step", [_compiled_step, _jitted_step], ids=["compile", "jit"])
def test_training_with_dropout_ends_at_the_same_parameters(make_step):
    want_losses, want_params = _train(_eager_step)
    losses, params = _train(make_step)
    np.testing.assert_allclose(losses, want_losses, rtol=1e-5)
    for p, w in zip(params, want_params):
        np.testing.assert_allclose(p, w, rtol=1e-5, atol=1e-6)


def test_manual_seed_resets_the_stream_whatever_was_drawn_before():
    gc.manual_seed(3)
    first = N.dropout(gc.ones(64), 0.5).numpy()
    gc.manual_seed(3)
    gc.randn(100)  # drawing parameters does not shift dropout's stream
    np.testing.assert_array_equal(N.dropout(gc.ones(64), 0.5).numpy(), first)


def test_a_step_advances_the_counter_by_its_number_of_dropout_sites():
    gc.manual_seed(0)
    x = gc.placeholder((4,), name="x")
    y = N.dropout(N.dropout(x, 0.5) + 1, 0.5)
    run = gc.compile(y, inputs=[x], target="reference")
    before = int(N.dropout_seed().item())
    run(np.ones(4, np.float32))
    assert int(N.dropout_seed().item()) == before + 2
    assert gc.Graph.from_outputs([y]).nodes[-1].attrs["stream"] > 0  # the user's graph is kept


def test_an_explicit_seed_draws_the_same_mask_in_both_modes():
    seed = np.asarray(1234, np.int64)
    eager = N.dropout(gc.ones(16), 0.5, seed=seed).numpy()
    x = gc.placeholder((16,), name="x")
    run = gc.compile(N.dropout(x, 0.5, seed=seed), inputs=[x], target="reference")
    np.testing.assert_array_equal(run(np.ones(16, np.float32)).numpy(), eager)
