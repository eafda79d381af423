"""graphc.set_default_device / get_default_device and `with graphc.device(...)`, as PyTorch's
(the CUDA side: tests/cuda/sim/test_cuda_default_device.py and test_cuda_unavailable.py)."""
import threading

import numpy as np
import pytest

import graphc as gc
from graphc.device import default_device


@pytest.fixture(autouse=True)
def _restore_default():
    yield
    gc.set_default_device(None)


def test_cpu_default_and_reset():
    assert gc.get_default_device() == gc.device("cpu")
    gc.set_default_device("cpu")
    assert repr(gc.get_default_device()) == "device(type='cpu')"
    assert gc.zeros(2).device == gc.device("cpu")
    gc.set_default_device(None)
    assert default_device() is None


def test_the_default_is_what_factories_get_without_device(monkeypatch):
    """Recorded through the one place factories place their arrays (storage.move)."""
    from graphc import storage
    moved = []
    monkeypatch.setattr(storage, "move", lambda arr, device: moved.append(str(device)) or arr)
    gc.set_default_device("cuda")
    gc.zeros(2), gc.tensor([1.0]), gc.arange(3), gc.randn(2), gc.full((2,), 3.0)
    assert moved == ["cuda"] * 5
    moved.clear()
    cpu_tensor = gc.zeros(2, device="cpu")
    gc.zeros_like(cpu_tensor), gc.empty_like(cpu_tensor), gc.from_numpy(np.ones(2))
    assert moved == []  # explicit device, *_like (the input's device) and from_numpy


def test_device_context_manager_nests_and_restores():
    with gc.device("cuda") as d:
        assert default_device() == gc.device("cuda") and d.type == "cuda"
        with gc.device("cpu"):
            assert default_device() == gc.device("cpu")
        assert default_device() == gc.device("cuda")
    assert default_device() is None


def test_the_default_is_per_thread_as_in_pytorch():
    gc.set_default_device("cuda")
    seen = []
    thread = threading.Thread(target=lambda: seen.append(default_device()))
    thread.start()
    thread.join()
    assert seen == [None]


def test_unknown_device_type_is_an_error():
    with pytest.raises(ValueError, match="unknown device type"):
        gc.set_default_device("tpu")
