"""Whole compiled steps on target "cpu": training, k-step loops, signatures, errors, safety."""
import threading

import numpy as np
import pytest

import graphc as gc

X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32)
Y = np.array([[0], [1], [1], [0]], np.float32)


def _xor(target, **opts):
    rng = np.random.default_rng(0)
    w1 = gc.variable(rng.standard_normal((2, 3)).astype(np.float32), name="w1")
    b1 = gc.variable(np.zeros(3, np.float32), name="b1")
    w2 = gc.variable(rng.standard_normal((3, 1)).astype(np.float32), name="w2")
    x, y = gc.placeholder((None, 2), name="x"), gc.placeholder((None, 1), name="y")
    out = gc.sigmoid(gc.sigmoid(x @ w1 + b1) @ w2)
    loss = ((out - y) ** 2).mean()
    params = [w1, b1, w2]
    grads = gc.grad(loss, params)
    updates = {p: p - 0.5 * g for p, g in zip(params, grads)}
    return gc.compile(loss, inputs=[x, y], updates=updates, target=target, **opts), params


def _storage(v):
    return v.node.attrs["storage"].numpy()


@pytest.fixture(scope="module")
def xor_cpu():
    return _xor("cpu")


def test_training_steps_match_the_reference_target():
    ref, ref_params = _xor("reference")
    cpu, cpu_params = _xor("cpu")
    unfused, unfused_params = _xor("cpu", fuse=False)
    for _ in range(5):
        a, b, c = ref(X, Y).item(), cpu(X, Y).item(), unfused(X, Y).item()
        np.testing.assert_allclose([b, c], [a, a], rtol=2e-6)
    for p, q, r in zip(ref_params, cpu_params, unfused_params):
        np.testing.assert_allclose(_storage(q), _storage(p), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(_storage(r), _storage(p), rtol=1e-5, atol=1e-6)


def test_k_steps_in_one_call_equal_k_calls():
    one, p1 = _xor("cpu")
    many, p2 = _xor("cpu")
    for _ in range(7):
        last = one(X, Y)
    loss = many.run_steps(7, X, Y)
    np.testing.assert_allclose(loss.item(), last.item(), rtol=1e-6)
    for a, b in zip(p1, p2):
        np.testing.assert_allclose(_storage(a), _storage(b), rtol=1e-6)


def test_one_program_per_input_signature(xor_cpu):
    exe, _ = xor_cpu
    exe(X, Y)
    exe(X[:3], Y[:3])
    exe(X, Y)
    assert len(exe._runner.programs) == 2


def test_bad_feeds_are_reported_before_running(xor_cpu):
    exe, _ = xor_cpu
    with pytest.raises(gc.FeedError, match="dtype"):
        exe(X.astype(np.float64), Y)
    with pytest.raises(gc.FeedError, match="shape"):
        exe(X[:, :1], Y)
    with pytest.raises(gc.FeedError, match="missing"):
        exe(X)


def test_index_out_of_bounds_names_the_op_and_the_users_line():
    x = gc.placeholder((4, 3), name="x")
    i = gc.placeholder((2,), gc.int64, name="i")
    y = x[i] * 2  # the line the error must point at
    exe = gc.compile(y, inputs=[x, i], target="cpu")
    arr = np.arange(12, dtype=np.float32).reshape(4, 3)
    np.testing.assert_array_equal(exe(arr, np.array([3, -1])).numpy(), arr[[3, -1]] * 2)
    with pytest.raises(IndexError) as info:
        exe(arr, np.array([1, 4]))
    text = str(info.value)
    assert text.startswith("index:") and "size 4" in text and "got 4" in text
    assert "test_cpu_program.py" in text and "y = x[i] * 2" in text


def test_generated_source_is_readable_and_sanitized():
    x = gc.placeholder((3,), name='x"; import os #\nbad')
    v = gc.variable(np.ones(3, np.float32), name="w\u00e9ight\nimport sys")
    y = gc.tanh(x * v) + 1  # a comment with 'quotes' and "more"
    exe = gc.compile(y, target="cpu")
    exe(np.ones(3, np.float32))
    src = exe.source
    assert "def program(" in src and "fused [mul, tanh, add]" in src
    code = [line for line in src.splitlines() if not line.lstrip().startswith("#")]
    assert not any("import os" in line or "import sys" in line for line in code)
    for line in src.splitlines():
        assert line.isascii()
    compile(src, "<generated>", "exec")  # still valid Python


def test_calls_from_several_threads_are_safe(xor_cpu):
    exe, _ = xor_cpu
    x = gc.placeholder((64, 8))
    f = gc.compile((gc.tanh(x) * 2).sum(1), target="cpu")
    arrays = [np.random.default_rng(k).standard_normal((64, 8)).astype(np.float32)
              for k in range(8)]
    expected = [(np.tanh(a) * 2).sum(1) for a in arrays]
    errors = []

    def work(k):
        for _ in range(50):
            got = f(arrays[k]).numpy()
            if not np.allclose(got, expected[k], rtol=1e-5, atol=1e-5):
                errors.append(k)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def test_outputs_do_not_alias_variables_or_each_other():
    v = gc.variable(np.arange(3, dtype=np.float32), name="v")
    exe = gc.compile([v, v * 1, v.reshape(3, 1)], updates={v: v + 1}, target="cpu")
    a, b, c = exe()
    np.testing.assert_array_equal(a.numpy(), [0, 1, 2])
    np.testing.assert_array_equal(b.numpy(), [0, 1, 2])
    np.testing.assert_array_equal(_storage(v), [1, 2, 3])
    a._data[0] = 100
    assert b.numpy()[0] == 0 and c.numpy()[0, 0] == 0 and _storage(v)[0] == 1


def test_thread_count_is_configurable():
    n = gc.get_num_threads()
    gc.set_num_threads(1)
    assert gc.get_num_threads() == 1
    with pytest.raises(ValueError):
        gc.set_num_threads(0)
    gc.set_num_threads(n)


def test_compiling_pauses_full_collections_only_while_it_runs():
    import gc as collector
    from graphc.backends import cpu
    before = collector.get_threshold()
    seen = []
    compile_kernels = cpu.CompiledProgram.compile_kernels

    def spy(program, feeds=()):
        seen.append(collector.get_threshold())
        return compile_kernels(program, feeds)
    cpu.CompiledProgram.compile_kernels = spy
    try:
        step, _ = _xor("cpu", layout="kernels")
        step(X[:3], Y[:3])  # a signature not compiled before in this process
    finally:
        cpu.CompiledProgram.compile_kernels = compile_kernels
    assert seen and all(t[:2] == before[:2] and t[2] > 10 ** 6 for t in seen), seen
    assert collector.get_threshold() == before and collector.isenabled()
    with cpu.full_collections_paused():
        with cpu.full_collections_paused():  # nested (another thread compiling) keeps it off
            pass
        assert collector.get_threshold()[2] > 10 ** 6
    assert collector.get_threshold() == before
