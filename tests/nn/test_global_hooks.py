"""Global module hooks (torch.nn.modules.module.register_module_*): the order of calls against
per-module hooks, replacements, handles, always_call and the registration hooks, written once
for both libraries and compared with PyTorch when it is installed."""
from __future__ import annotations

import importlib
import warnings

import numpy as np
import pytest

import graphc as gc
import graphc.nn.modules.module as gmod
from graphc.errors import UnsupportedError

X = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]], np.float32)


def libraries():
    yield "graphc", gc, gmod
    torch = pytest.importorskip("torch")
    yield "torch", torch, importlib.import_module("torch.nn.modules.module")


def forward_backward_log(L, M):
    """Every hook records (kind, module class); returns the log and the handles' effect."""
    log = []
    L.manual_seed(0)
    model = L.nn.Sequential(L.nn.Linear(3, 2), L.nn.Tanh())
    name = lambda m: type(m).__name__  # noqa: E731
    handles = [
        M.register_module_forward_pre_hook(lambda m, a: log.append(("g-pre", name(m)))),
        M.register_module_forward_hook(lambda m, a, o: log.append(("g-fwd", name(m)))),
        M.register_module_forward_hook(lambda m, a, k, o: log.append(("g-fwd-kw", name(m), k)),
                                       with_kwargs=True),
        M.register_module_full_backward_pre_hook(lambda m, go: log.append(("g-bpre",
                                                                           name(m)))),
        M.register_module_full_backward_hook(lambda m, gi, go: log.append(("g-bwd", name(m)))),
    ]
    lin = model[0]
    lin.register_forward_pre_hook(lambda m, a: log.append(("pre", name(m))))
    lin.register_forward_hook(lambda m, a, o: log.append(("fwd", name(m))))
    lin.register_full_backward_pre_hook(lambda m, go: log.append(("bpre", name(m))))
    lin.register_full_backward_hook(lambda m, gi, go: log.append(("bwd", name(m))))
    try:
        x = L.tensor(X, requires_grad=True)
        model(x).sum().backward()
    finally:
        for h in handles:
            h.remove()
    log.append("removed")
    model(L.tensor(X, requires_grad=True)).sum().backward()
    return log


def test_global_hooks_run_before_the_modules_own_in_pytorchs_order():
    logs = {lib: forward_backward_log(L, M) for lib, L, M in libraries()}
    graphc_log = logs["graphc"]
    assert graphc_log[:3] == [("g-pre", "Sequential"), ("g-pre", "Linear"), ("pre", "Linear")]
    assert ("bpre", "Linear") in graphc_log and graphc_log[-1] == ("bwd", "Linear")
    if "torch" in logs:
        assert graphc_log == logs["torch"]


@pytest.mark.parametrize("lib", ["graphc", "torch"])
def test_replacements_and_kwargs(lib):
    L, M = {name: (L, M) for name, L, M in libraries()}.get(lib, (None, None))
    if L is None:
        pytest.skip("torch is not installed")
    lin = L.nn.Linear(3, 2)
    handles = [M.register_module_forward_pre_hook(lambda m, a: (a[0] * 2,)),
               M.register_module_forward_hook(lambda m, a, o: o + 1)]
    lin.register_forward_hook(lambda m, a, o: o * 10)  # sees the global hook's output
    try:
        out = lin(L.tensor(X)).detach().numpy()
    finally:
        for h in handles:
            h.remove()
    w, b = lin.weight.detach().numpy(), lin.bias.detach().numpy()
    np.testing.assert_allclose(out, ((2 * X) @ w.T + b + 1) * 10, rtol=1e-6)


def test_always_call_runs_when_forward_raises():
    for lib, L, M in libraries():
        seen = []

        class Broken(L.nn.Module):
            def forward(self, x):
                raise ValueError("broken forward")

        h1 = M.register_module_forward_hook(lambda m, a, o: seen.append(("global", o)),
                                            always_call=True)
        h2 = M.register_module_forward_hook(lambda m, a, o: seen.append(("plain", o)))
        module = Broken()
        module.register_forward_hook(lambda m, a, o: seen.append(("own", o)),
                                     always_call=True)
        try:
            with pytest.raises(ValueError, match="broken forward"):
                module(L.tensor(X))
        finally:
            h1.remove()
            h2.remove()
        assert seen == [("global", None), ("own", None)], lib


def test_a_failing_always_call_hook_warns_and_the_first_error_is_raised():
    class Broken(gc.nn.Module):
        def forward(self, x):
            raise ValueError("broken forward")

    def bad(m, a, o):
        raise KeyError("hook")

    handle = gmod.register_module_forward_hook(bad, always_call=True)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with pytest.raises(ValueError, match="broken forward"):
                Broken()(gc.tensor(X))
    finally:
        handle.remove()
    assert any("always_call=True" in str(w.message) for w in caught)
    assert not gmod.GLOBAL.forward and not gmod.GLOBAL.forward_always_called


def test_registration_hooks_see_and_replace_what_is_registered():
    for lib, L, M in libraries():
        seen = []
        handles = [
            M.register_module_parameter_registration_hook(
                lambda m, n, p: seen.append(("param", type(m).__name__, n))),
            M.register_module_buffer_registration_hook(
                lambda m, n, b: seen.append(("buffer", n)) or (None if b is None else b * 0)),
            M.register_module_module_registration_hook(
                lambda m, n, s: seen.append(("module", n))),
        ]
        try:
            net = L.nn.Module()
            net.fc = L.nn.Linear(2, 2)
            net.register_buffer("count", L.ones(2))
            net.count = L.ones(2) * 3  # assignment to a buffer registers it again
            net.add_module("act", L.nn.ReLU())
            net.fc.weight = L.nn.Parameter(L.zeros(2, 2))
            net.fc.bias = None  # None: no parameter registration hook
        finally:
            for h in handles:
                h.remove()
        net.register_buffer("later", L.ones(1))
        assert seen == [("param", "Linear", "weight"), ("param", "Linear", "bias"),
                        ("module", "fc"), ("buffer", "count"), ("buffer", "count"),
                        ("module", "act"), ("param", "Linear", "weight")], lib
        np.testing.assert_array_equal(net.count.numpy(), [0.0, 0.0])  # the replacement
        np.testing.assert_array_equal(net.later.numpy(), [1.0])


def test_global_backward_hooks_refuse_symbolic_calls_and_deprecated_form_raises():
    handle = gmod.register_module_full_backward_hook(lambda m, gi, go: None)
    try:
        x = gc.placeholder((2, 3), gc.float32, "x")
        with pytest.raises(UnsupportedError, match="backward hooks"):
            gc.nn.Linear(3, 2)(x)
    finally:
        handle.remove()
    assert gc.nn.Linear(3, 2)(gc.placeholder((2, 3), gc.float32, "x")).shape == (2, 2)
    with pytest.raises(UnsupportedError, match="register_module_full_backward_hook"):
        gmod.register_module_backward_hook(lambda m, gi, go: None)


def test_global_forward_hooks_run_in_compiled_forwards():
    calls = []
    handle = gmod.register_module_forward_hook(lambda m, a, o: calls.append(type(m).__name__)
                                               or o * 2)
    try:
        gc.manual_seed(0)
        lin = gc.nn.Linear(3, 2)
        x = gc.placeholder((2, 3), gc.float32, "x")
        f = gc.compile(lin(x), inputs=[x], target="reference")
    finally:
        handle.remove()
    w, b = lin.weight.detach().numpy(), lin.bias.detach().numpy()
    np.testing.assert_allclose(np.asarray(f(X)), 2 * (X @ w.T + b), rtol=1e-6)
    assert calls == ["Linear"]
