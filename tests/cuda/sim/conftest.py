"""The CUDA tests run only in the process tests/cuda/test_cuda_suite.py starts (simulator on),
or directly with GRAPHC_CUDA_TESTS=1 (and NUMBA_ENABLE_CUDASIM=1 without a GPU)."""
import os
import sys

collect_ignore_glob = [] if os.environ.get("GRAPHC_CUDA_TESTS") == "1" else ["test_*.py"]
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(__file__))))  # tests/


def pytest_configure(config):
    # dropout's hash relies on uint64 wrap-around; the simulator runs it with NumPy scalars,
    # which warn about it
    config.addinivalue_line("filterwarnings",
                            "ignore:overflow encountered in scalar:RuntimeWarning")
