"""The op table, continued: PyTorch's everyday names added for issue 12 (pointwise, reductions,
scans, sorting, shapes, indexing, products), each against an independent NumPy oracle.

Same `Case` as tests/op_table.py; the cases live in tests/op_table_pointwise.py and
tests/op_table_indexing.py. tests/ops/test_op_table.py runs them eagerly and on the
`reference` target, with finite-difference gradients; tests/backends/test_cpu_more_ops.py
compiles the cases named in CPU for the `cpu` target; tests/cuda/sim runs them on CUDA.
"""
from op_table_indexing import EAGER_ONLY, INDEXING, PRODUCTS
from op_table_loss import LOSS
from op_table_pointwise import BINARY_MORE, POINTWISE, REDUCTIONS_MORE

MORE_CASES = POINTWISE + BINARY_MORE + REDUCTIONS_MORE + INDEXING + PRODUCTS + EAGER_ONLY + LOSS

# A representative subset compiled for the cpu target (Numba compiles are slow): every new
# scalar template, and composites over gathers, scatters and matmul.
CPU = {c.name for c in MORE_CASES if c.op in {
    "bitcast", "floor", "ceil", "trunc", "round", "isnan", "isinf", "isfinite", "signbit", "expm1", "log2",
    "log10", "tan", "asin", "acos", "atan", "sinh", "cosh", "asinh", "acosh", "atanh", "erfc",
    "lgamma", "remainder", "fmod", "floor_divide", "atan2", "hypot", "bitwise_and", "bitwise_or",
    "bitwise_xor", "bitwise_not", "bitwise_left_shift", "bitwise_right_shift", "copysign"}} | {
    "digamma", "sinc", "logaddexp", "fmax-grad", "xlogy", "gather-dim1", "scatter_add", "flip",
    "roll", "tril", "diag-2d", "repeat", "kron", "einsum-matmul", "tensordot", "any-dim",
    "norm", "searchsorted", "index_add", "masked_fill", "div-trunc-int", "isclose",
    # the runtime kernels of runtime/kernels/scan.py: a float case and an edge case each
    "cumsum", "cumsum-int", "cumprod", "cummax", "cummax-indices", "cummin", "sort-desc",
    "sort-stable-nan", "topk", "prod-zeros", "prod-int", "median-dim",
    # the factorization kernels of runtime/kernels/linalg.py
    "det", "slogdet", "cholesky", "eigvalsh", "svdvals", "svd", "qr", "pinv", "lstsq",
    # the loss kernels of runtime/kernels/loss.py
    "cross_entropy-mean", "cross_entropy-weighted-mean-ignored",
    "cross_entropy-none-weighted-ignore4", "cross_entropy_backward-sum"}
# ops with no cpu lowering yet: compiling them raises UnsupportedError (tested)
NO_CPU_LOWERING = {"scatter_reduce_extreme"}
