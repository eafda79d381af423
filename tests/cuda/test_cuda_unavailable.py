"""Without a usable GPU (or without numba-cuda) graphc imports, runs on the CPU, and every way
of asking for CUDA raises CudaUnavailable saying why.

Each case runs in a child process: whether CUDA is usable is decided once per process.
CUDA_VISIBLE_DEVICES="" hides any GPU (so this also holds on a machine with one) and the
simulator is off; blocking `numba.cuda` stands for a numba without numba-cuda.
"""
import json
import os
import subprocess
import sys
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))

CHILD = textwrap.dedent("""
    import json, sys
    if sys.argv[1] == "no-numba-cuda":
        sys.modules["numba.cuda"] = None  # `from numba import cuda` raises ImportError
    import numpy as np
    import graphc as gc

    def _in_cuda_context(make):
        gc.set_default_device(None)
        with gc.device("cuda"):
            return make()

    x = gc.placeholder((3,), gc.float32, name="x")
    attempts = {
        "compile": lambda: gc.compile(x * 2, inputs=[x], target="cuda"),
        "tensor.cuda": lambda: gc.tensor([1.0]).cuda(),
        "tensor.to": lambda: gc.tensor([1.0]).to(gc.device("cuda")),
        "zeros(device)": lambda: gc.zeros(2, device=gc.device("cuda")),
        "tensor(device)": lambda: gc.tensor([1.0, 2.0], device="cuda"),
        "module.to": lambda: gc.nn.Linear(2, 2).to("cuda"),
        "default device": lambda: (gc.set_default_device("cuda"), gc.zeros(2)),
        "get_default_device": lambda: gc.get_default_device(),
        "device context": lambda: _in_cuda_context(lambda: gc.ones(1)),
    }
    errors = {}
    for name, attempt in attempts.items():
        try:
            attempt()
            errors[name] = None
        except Exception as e:
            errors[name] = [type(e).__name__, isinstance(e, RuntimeError), str(e)]
    gc.set_default_device(None)
    cpu = gc.compile(x * 2, inputs=[x], target="cpu")(np.ones(3, np.float32))
    print(json.dumps({"available": gc.cuda.is_available(), "errors": errors,
                      "cpu_works": cpu.tolist() == [2.0, 2.0, 2.0]}))
""")


@pytest.mark.parametrize("case, reason", [
    ("no-gpu", "CUDA is not available: no usable NVIDIA GPU"),
    ("no-numba-cuda", "CUDA support needs numba-cuda (pip install 'graphc[cuda]')"),
])
def test_asking_for_cuda_without_it_is_a_clear_error(case, reason):
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="", NUMBA_ENABLE_CUDASIM="0")
    env.pop("GRAPHC_CUDA_TESTS", None)
    result = subprocess.run([sys.executable, "-c", CHILD, case], env=env, cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["available"] is False
    assert report["cpu_works"]
    for name, error in report["errors"].items():
        assert error is not None, f"{name} succeeded without CUDA"
        kind, is_runtime_error, message = error
        assert kind == "CudaUnavailable" and is_runtime_error, (name, error)
        assert reason in message, (name, message)
