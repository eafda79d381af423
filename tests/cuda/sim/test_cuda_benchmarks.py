"""The CUDA benchmarks' --quick smoke runs (toy sizes; in the simulator nothing is timed
meaningfully and no speed is asserted)."""
import math
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__)))))
sys.path.insert(0, ROOT)  # benchmarks/ is a top-level folder of the repository

from benchmarks import cuda_elementwise, cuda_training  # noqa: E402


def test_elementwise_benchmark_quick():
    out = cuda_elementwise.main(["--quick", "--no-torch"])  # (it checks the result itself)
    assert set(out["results"]) >= {"device-to-device copy", "graphc static (fused)",
                                   "graphc eager"}
    assert all(s > 0 and n > 0 for s, n in out["results"].values())
    assert 0 < out["fraction_of_copy"] < math.inf


def test_training_benchmark_quick_cnn_static():
    # the CNN covers every layer kind the script builds (the MLP's Linear/ReLU included);
    # a simulated step launches ~150 kernels (~25 ms each), so one system is smoke-tested
    # here (eager CUDA training is tested in test_cuda_nn_training)
    results = cuda_training.main(["--quick", "--no-torch", "--only", "CNN", "--systems",
                                  "static"])
    assert list(results) == [("CNN 6x6 (2, 2, 4) b2", "graphc CUDA static")]
    assert all(step > 0 and compile_s > 0 for step, compile_s in results.values())
