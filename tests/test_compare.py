"""graphc.compare: eager vs compiled agreement (outputs and gradients) and the timing report."""
import numpy as np
import pytest

import graphc as gc
from graphc.compare import MismatchError

REF = "reference"


def _params():
    rng = np.random.default_rng(0)
    w = gc.tensor(rng.standard_normal((3, 2)), requires_grad=True)
    w.name = "w"
    b = gc.tensor(rng.standard_normal(2), requires_grad=True)
    return w, b


def test_outputs_and_gradients_of_inputs_and_parameters_agree():
    w, b = _params()
    w.grad = gc.tensor(np.full((3, 2), 7.0))  # the user's grads are left as they were

    def model(x, labels):
        h = gc.tanh(x @ w + b)
        return h.sum(1), (h - labels).square().mean()

    x = np.random.default_rng(1).standard_normal((4, 3))
    labels = np.arange(2, dtype=np.int64)  # not differentiated
    result = gc.compare(model, x, labels, target=REF, repeat=2)
    assert result.ok and bool(result)
    assert [r.label for r in result.rows] == ["output[0]", "output[1]", "grad input[0]",
                                              "grad w", "grad param[1]"]
    assert all(r.max_abs < 1e-12 for r in result.rows)
    np.testing.assert_array_equal(w.grad.numpy(), np.full((3, 2), 7.0))
    assert result.eager_step_s > 0 and result.compiled_step_s > 0 and result.first_call_s > 0
    text = repr(result)
    assert "agree" in text and "grad w" in text and "compiled step" in text and "compile" in text


def test_gradients_match_finite_differences_of_the_same_projection():
    """The compared gradients are real: check the compiled one against central differences."""
    w, b = _params()

    def f(x):
        return gc.sigmoid(x @ w + b)

    x = np.random.default_rng(2).standard_normal((2, 3))
    result = gc.compare(f, x, target=REF, repeat=1)
    assert result.ok
    from graphc.compare import _cotangents
    c = _cotangents([gc.jit(f, target=REF).graph(x).outputs[0]])[0]

    def loss(xv):
        with gc.no_grad():
            return float((f(gc.tensor(xv)).numpy() * c).sum())

    num = np.zeros_like(x)
    for i in np.ndindex(*x.shape):
        d = np.zeros_like(x)
        d[i] = 1e-6
        num[i] = (loss(x + d) - loss(x - d)) / 2e-6
    compiled_grad = next(r.compiled for r in result.rows if r.label == "grad input[0]")
    np.testing.assert_allclose(compiled_grad, num, rtol=1e-6, atol=1e-8)


def _differs_when_traced(x):
    # a (deliberately wrong) function whose compiled graph differs from its eager run
    return x * (1.0 + 1e-6) if isinstance(x, gc.Value) else x * 1.0


def test_disagreement_raises_with_the_table():
    x = np.linspace(1, 2, 5)
    with pytest.raises(MismatchError) as info:
        gc.compare(_differs_when_traced, x, target=REF, repeat=1)
    assert "DISAGREE" in str(info.value) and "output[0]" in str(info.value)
    assert "NO" in str(info.value)


def test_disagreement_can_be_flagged_instead_and_tolerances_are_honoured():
    x = np.linspace(1, 2, 5)
    result = gc.compare(_differs_when_traced, x, target=REF, repeat=1, raise_on_mismatch=False)
    assert not result.ok and "5 of 5 elements differ" in repr(result)
    assert gc.compare(_differs_when_traced, x, target=REF, repeat=1, rtol=1e-5).ok


def test_float32_uses_looser_default_tolerances_and_grad_false_compares_outputs_only():
    x = np.random.default_rng(3).standard_normal((3, 4)).astype(np.float32)
    result = gc.compare(lambda x: gc.softmax(x, 1), x, grad=False, target=REF, repeat=1)
    assert result.ok and [r.label for r in result.rows] == ["output[0]"]
    assert result.rows[0].dtype == "float32"


def test_default_target():
    """The same check on the default target (the CPU compiler when available)."""
    w, b = _params()
    w32 = gc.tensor(w.detach().numpy().astype(np.float32), requires_grad=True)
    b32 = gc.tensor(b.detach().numpy().astype(np.float32), requires_grad=True)
    x = np.random.default_rng(4).standard_normal((4, 3)).astype(np.float32)
    result = gc.compare(lambda x: (gc.relu(x @ w32 + b32) ** 2).mean(), x, repeat=1)
    assert result.ok, repr(result)


def test_a_whole_training_step_is_compared_by_its_outputs_and_writes():
    from graphc import nn, optim
    gc.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 8), nn.Dropout(0.5), nn.ReLU(), nn.Linear(8, 1))
    opt = optim.Adam(model.parameters(), lr=0.1)

    def train_step(x, y):
        opt.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        opt.step()
        return loss

    before = [p.detach().numpy().copy() for p in model.parameters()]
    x = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    result = gc.compare(train_step, x, np.ones((4, 1), np.float32), target=REF, repeat=2)
    assert result.ok, result
    labels = [r.label for r in result.rows]
    assert labels[0] == "output[0]" and sum(l.startswith("state ") for l in labels) >= 4
    assert "state dropout_seed after the step" in labels  # the same masks on both sides
    for p, b in zip(model.parameters(), before):  # compare leaves the model as it was
        np.testing.assert_array_equal(p.detach().numpy(), b)
        assert p.grad is None
