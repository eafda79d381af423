"""ONNX's backend node tests (one-node models with inputs and expected outputs) loaded with
graphc.onnx.load and run on the reference target (all in-scope tests) and on the cpu target
(a batch of them compiled as one program, since each Numba compile costs seconds)."""
from __future__ import annotations

import functools
import os

import pytest

onnx = pytest.importorskip("onnx")

from graphc.onnx import conformance as C  # noqa: E402

ROOT = C.data_root()
pytestmark = pytest.mark.skipif(ROOT is None, reason="this onnx wheel ships no node test data "
                                "(pip install onnx==1.22.0)")
DOCS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__)))), "docs", "onnx.md")

# In-scope tests that do not pass, with why; docs/onnx.md lists them too.
NOT_PASSING = {
    "test_averagepool_2d_dilations": "unsupported",          # avg_pool2d has no dilation
    "test_averagepool_3d_default": "unsupported",            # 3-D pooling
    "test_averagepool_3d_dilations_large_count_include_pad_is_0_ceil_mode_is_False": "unsupported",
    "test_averagepool_3d_dilations_large_count_include_pad_is_0_ceil_mode_is_True": "unsupported",
    "test_averagepool_3d_dilations_large_count_include_pad_is_1_ceil_mode_is_False": "unsupported",
    "test_averagepool_3d_dilations_large_count_include_pad_is_1_ceil_mode_is_True": "unsupported",
    "test_averagepool_3d_dilations_small": "unsupported",
    "test_convtranspose_3d": "unsupported",
    "test_maxpool_3d_default": "unsupported",
    "test_maxpool_3d_dilations": "unsupported",
    "test_maxpool_3d_dilations_use_ref_impl": "unsupported",
    "test_maxpool_3d_dilations_use_ref_impl_large": "unsupported",
    "test_maxpool_with_argmax_2d_precomputed_strides": "unsupported",  # storage_order=1
    "test_gathernd_example_int32_batch_dim1": "unsupported",  # batch_dims=1
    "test_lppool_2d_dilations": "unsupported",
    "test_einsum_batch_diagonal": "unsupported",               # repeated letters
    "test_scatter_elements_with_reduction_max": "unsupported",  # only none and add
    "test_scatter_elements_with_reduction_min": "unsupported",
    "test_scatter_elements_with_reduction_mul": "unsupported",
    "test_lppool_3d_default": "unsupported",
    "test_training_dropout": "unsupported",                   # random masks
    "test_training_dropout_default": "unsupported",
    "test_training_dropout_default_mask": "unsupported",
    "test_training_dropout_mask": "unsupported",
    # float16 accumulation: max abs error 0.0029 against a tolerance of 1e-3 relative
    "test_causal_conv_with_state_silu_fp16_expanded": "fail",
}


@functools.lru_cache(maxsize=None)
def in_scope():
    names = []
    for name in C.test_names(ROOT):
        _, _, out_of_scope = C.prepare(os.path.join(ROOT, name))
        if out_of_scope is None:
            names.append(name)
    return tuple(names)


def _names():
    return in_scope() if ROOT is not None else ()


@pytest.mark.parametrize("name", _names())
def test_node_reference(name):
    result = C.run_test(os.path.join(ROOT, name), "reference")
    expected = NOT_PASSING.get(name, "pass")
    assert result.status == expected, f"{name}: {result.status}: {result.detail}"


def test_enough_node_tests_are_in_scope_and_pass():
    assert len(in_scope()) >= 1000
    assert len(in_scope()) - len(NOT_PASSING) >= 1000
    assert set(NOT_PASSING) <= set(in_scope())


def test_docs_list_the_tests_that_do_not_pass():
    with open(DOCS) as f:
        text = f.read()
    missing = [name for name in NOT_PASSING if f"`{name}`" not in text]
    assert not missing, f"docs/onnx.md does not list {missing}"


def test_unsupported_means_an_error_not_a_wrong_answer():
    result = C.run_test(os.path.join(ROOT, "test_training_dropout"), "reference")
    assert result.status == "unsupported"
    assert "Dropout" in result.detail and "opset" in result.detail


# A spread of ops and attributes, compiled together as one cpu program (a cold Numba
# compile costs seconds per program; GRAPHC_ONNX_CPU_ALL=1 runs every in-scope test on cpu).
CPU_BATCH = [
    "test_relu", "test_add_bcast", "test_matmul_3d", "test_gemm_all_attributes",
    "test_conv_with_strides_and_asymmetric_padding", "test_maxpool_2d_pads",
    "test_averagepool_2d_pads", "test_batchnorm_example", "test_softmax_axis_1",
    "test_reduce_mean_keepdims_example", "test_transpose_default", "test_slice", "test_gather_1",
    "test_where_example", "test_concat_2d_axis_0", "test_layer_normalization_4d_axis1",
]


def test_node_batch_cpu():
    pytest.importorskip("numba")
    results = C.run_all("cpu", CPU_BATCH, ROOT, batch=len(CPU_BATCH))
    assert [(r.name, r.status, r.detail) for r in results if r.status != "pass"] == []


@pytest.mark.skipif(not os.environ.get("GRAPHC_ONNX_CPU_ALL"), reason="slow: set "
                    "GRAPHC_ONNX_CPU_ALL=1 to run every in-scope node test on cpu")
def test_node_all_cpu():
    results = C.run_all("cpu", list(in_scope()), ROOT, batch=16)  # larger: GBs to compile

    def expected(name):  # the cpu target has no float16, and says so
        half = any(tag in name for tag in ("fp16", "float16", "FLOAT16"))
        return "unsupported" if half or name in NOT_PASSING else "pass"
    wrong = [(r.name, r.status, r.detail) for r in results if r.status != expected(r.name)]
    assert wrong == []
