"""The CUDA tests run only in the process tests/cuda/test_cuda_suite.py starts (simulator on),
or directly with GRAPHC_CUDA_TESTS=1 (and NUMBA_ENABLE_CUDASIM=1 without a GPU)."""
import os
import sys

collect_ignore_glob = [] if os.environ.get("GRAPHC_CUDA_TESTS") == "1" else ["test_*.py"]
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(__file__))))  # tests/


def pytest_configure(config):
    # the simulator runs kernels with NumPy scalars, which warn where a GPU is silent:
    # dropout's hash relies on uint64 wrap-around, NaN and inf arithmetic is IEEE's
    config.addinivalue_line("filterwarnings",
                            "ignore:.* encountered in scalar:RuntimeWarning")
