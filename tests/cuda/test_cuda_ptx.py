"""The CUDA kernels compiled to PTX for a real architecture (sm_80), no GPU needed.

The simulator runs kernels as Python, so it accepts code the real compiler rejects and hides
float64 promotion (a bare `1.0` or `0` makes float32 arithmetic double precision on a GPU,
at 1/2 to 1/64 of the float32 rate). Here each kernel is compiled by NVVM with the argument
types its launcher passes, and float32 kernels must contain no `.f64` instruction.

Needs numba-cuda with the CUDA compiler packages (`pip install "numba-cuda[cu13]"`); skipped
cleanly without them (as in CI) or when the simulator is on.
"""
import importlib.metadata
import re

import numpy as np
import pytest

try:  # the numba-cuda package, not numba's deprecated built-in CUDA target
    importlib.metadata.version("numba-cuda")
except importlib.metadata.PackageNotFoundError:
    pytest.skip("numba-cuda is not installed", allow_module_level=True)
cuda = pytest.importorskip("numba.cuda")
numba = pytest.importorskip("numba")
if numba.config.ENABLE_CUDASIM:
    pytest.skip("the CUDA simulator is on: no PTX to inspect", allow_module_level=True)

from numba import typeof  # noqa: E402
from numba.core import types  # noqa: E402

from graphc.storage import cuda_elementwise  # noqa: E402
from graphc.ops import elementwise as E  # noqa: E402
from graphc.ops.registry import Op  # noqa: E402
from graphc.types import TensorType, bool_, float32  # noqa: E402
from runtime.cuda import elementwise as ew  # noqa: E402
from runtime.cuda import kernels_copy, kernels_linalg, kernels_nn, kernels_reduce  # noqa: E402

F64 = re.compile(r"^\s*(?:@%p\d+\s+)?([a-z][\w.]*\.f64\b[\w.]*)", re.M)

# libdevice's sinf/cosf/tanf reduce huge arguments (|x| > 105615) with a Payne-Hanek step in
# double precision: that slow path is the library's, not a promotion by graphc
LIBDEVICE_F64 = {"sin", "cos", "tan"}


class _Sm80:
    compute_capability = (8, 0)


@pytest.fixture(scope="module", autouse=True)
def nvvm():
    try:
        cuda.compile_ptx(lambda a: None, (types.float32[::1],), cc=(8, 0))
    except Exception as e:  # noqa: BLE001 - no NVVM / libdevice: nothing to compile with
        pytest.skip(f"cannot compile PTX here ({type(e).__name__}: {str(e)[:120]})")
    # device functions called by a kernel are compiled for the current device's architecture:
    # without a GPU, name one
    from numba.cuda import dispatcher
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(dispatcher, "get_current_device", _Sm80)
        yield


def ptx_of(kernel, *example_args):
    """PTX of a @cuda.jit kernel for the types of example launch arguments (host arrays type
    like the 1-D contiguous device arrays the launchers pass)."""
    fn = getattr(kernel, "py_func", kernel)
    sig = tuple(typeof(a) for a in example_args)
    return cuda.compile_ptx(fn, sig, cc=(8, 0))[0]


def f64_instructions(ptx):
    return sorted(set(F64.findall(ptx)))


def vec(n=4, dtype=np.float32):
    return np.zeros(n, dtype)


def assert_float32_only(ptx, what):
    found = f64_instructions(ptx)
    assert not found, f"{what}: float64 instructions in a float32 kernel: {found}"


# ---- generated elementwise kernels ----------------------------------------------------------
def _float32_cases():
    """(name, scalar expression over x0, x1, x2) for every elementwise op on float32 inputs."""
    compare = {"eq", "ne", "lt", "le", "gt", "ge"}
    logical = {"logical_not", "logical_and", "logical_or"}
    cases = []
    for op in (v for v in vars(E).values() if isinstance(v, Op)):
        if op.scalar is None:
            continue  # reference-only ops (erfinv) run on the host
        try:
            op.coerce([float32] * (op.num_inputs or 1), [False] * (op.num_inputs or 1))
        except TypeError:
            continue  # integer-only ops (bitwise) never compute in float32
        attrs = dict(op.defaults or {})
        attrs.update({"full_like": {"value": 2.5}, "clamp": {"min": -1.0, "max": None},
                      "cast": {"dtype": float32}}.get(op.name, {}))
        if op.name == "where":
            args, in_dtype = ["(x0 > x1)", "x1", "x2"], float32
        elif op.name in logical:
            args, in_dtype = ["(x0 > x1)", "(x1 > x2)"][:op.num_inputs], bool_
        else:
            args, in_dtype = ["x0", "x1", "x2"][:op.num_inputs], float32
        predicate = op.infer([TensorType((2,), float32)] * (op.num_inputs or 1),
                             **attrs)[0].dtype is bool_ if op.name != "cast" else False
        out_dtype = bool_ if op.name in compare | logical or predicate else float32
        cases.append(pytest.param(op.name, cuda_elementwise.scalar_expr(op, attrs, args, in_dtype,
                                                                out_dtype), id=op.name))
    return cases


def _op_kernel_ptx(cases):
    """One kernel computing every case's expression and storing their float32 sum (so that
    none is dead code): one NVVM compile instead of one per op."""
    body = [f"v{j} = {expr}" for j, (_, expr) in enumerate(cases)]
    total = " + ".join(f"float32(v{j})" for j in range(len(cases)))
    kernel = ew.compile_kernel(("same", "same", "same"), tuple(body), (total,))
    return ptx_of(kernel, vec(), vec(), vec(), vec(), 4)


def test_elementwise_op_kernels_are_float32():
    cases = [c.values for c in _float32_cases()]
    checked = [c for c in cases if c[0] not in LIBDEVICE_F64]
    assert len(checked) > 30
    if f64_instructions(_op_kernel_ptx(checked)):  # name the culprits
        bad = {name: f64_instructions(_op_kernel_ptx([(name, expr)]))
               for name, expr in checked}
        pytest.fail(f"float64 instructions in float32 kernels: "
                    f"{ {k: v for k, v in bad.items() if v} }")
    _op_kernel_ptx([c for c in cases if c[0] in LIBDEVICE_F64])  # (types, compiles)


def test_fused_chain_with_broadcast_and_scalar_is_float32():
    """sigmoid(a * b + c) * tanh(a) with b broadcast (strided) and c a 0-d constant, storing
    sigmoid(a * b + c) too (a second output, as a value read outside its group)."""
    nodes = [(E.mul, {}, [("in", 0), ("in", 1)]), (E.add, {}, [("node", 0), ("in", 2)]),
             (E.sigmoid, {}, [("node", 1)]), (E.tanh, {}, [("in", 0)]),
             (E.mul, {}, [("node", 2), ("node", 3)])]
    body, stored = cuda_elementwise.elementwise_body([(op, attrs, refs, float32, float32)
                                              for op, attrs, refs in nodes], (2, 4))
    kernel = ew.compile_kernel(("same", "strided", "scalar"), body, stored)
    shape, strides = (2, 2), (0, 1)
    ptx = ptx_of(kernel, vec(), vec(), vec(), vec(2), np.float32(1), shape, strides, 4)
    assert_float32_only(ptx, "\n".join(body))
    assert "ex2.approx.f32" in ptx or "ex2.approx.ftz.f32" in ptx  # expf, not exp


# ---- library kernels --------------------------------------------------------------------------
def _library_kernels():
    f, i64, n = vec(), vec(dtype=np.int64), 4
    t = lambda k: tuple([1] * k)  # noqa: E731 - geometry tuples of k ints
    zero = np.float32(0)
    u = np.uint64(1)
    cases = {
        "fill": (kernels_copy.fill_kernel, (f, zero, n)),
        "gather": (kernels_copy.gather_kernel, (f, f, t(2), t(2), 0, n)),
        "scatter": (kernels_copy.scatter_kernel, (f, f, t(2), t(2), 0, n)),
        "scale": (kernels_copy._scale_kernel, (f, zero, n)),
        "matmul": (kernels_linalg._matmul_kernel(np.dtype(np.float32), 16),
                   (f, f, f, 2, 2, 2, 0, 0)),
        "conv2d": (kernels_nn._conv2d, (f, f, f, True, f, t(10), t(7), zero, n)),
        "conv_transpose2d": (kernels_nn._conv_transpose2d,
                             (f, f, f, True, f, t(10), t(7), zero, n)),
        "conv2d_weight_grad": (kernels_nn._conv2d_weight_grad, (f, f, f, t(10), t(7), zero, n)),
        "max_pool2d": (kernels_nn._max_pool2d, (f, f, i64, t(4), t(8), zero, n)),
        "max_pool2d_backward": (kernels_nn._scatter_add_planes, (f, i64, f, 1, 1, n)),
        "max_pool2d_gather": (kernels_nn._gather_planes, (f, i64, f, 1, 1, n)),
        "avg_pool2d": (kernels_nn._avg_pool2d, (f, f, f, t(4), t(6), zero, n)),
        "avg_pool2d_backward": (kernels_nn._avg_pool2d_backward, (f, f, f, t(4), t(6), n)),
        "adaptive_avg_pool2d": (kernels_nn._adaptive(np.dtype(np.float32)),
                                (f, f, t(4), False, n)),
        "dropout": (kernels_nn._dropout, (f, f, u, (u,) * 8, u, zero, zero, n)),
    }
    for kind in ("sum", "max", "min"):
        cases[f"reduce_{kind}"] = (kernels_reduce._reduce_kernel(kind, np.dtype(np.float32), 256),
                                   (f, f, 2, 2, zero, zero))
    for kind in ("var", "softmax", "log_softmax", "logsumexp"):
        cases[kind] = (kernels_reduce._two_pass_kernel(kind, np.dtype(np.float32), 256),
                       (f, f, 2, 2, zero, zero))
    cases["argmax"] = (kernels_reduce._arg_kernel(True, np.dtype(np.float32), 256),
                       (f, f, i64, 2, 2))
    return [pytest.param(k, v, id=name) for name, (k, v) in cases.items()]


@pytest.mark.parametrize("kernel, args", _library_kernels())
def test_library_kernels_are_float32(kernel, args):
    assert_float32_only(ptx_of(kernel, *args), getattr(kernel, "__name__", str(kernel)))


def test_the_check_sees_float64():
    """The detector itself: a bare float literal in a float32 kernel is double precision."""
    @cuda.jit
    def promoted(out, x):
        out[0] = x[0] * 0.5 + 1.0
    found = f64_instructions(ptx_of(promoted, vec(), vec()))
    assert "cvt.f64.f32" in found and any(i.startswith(("mul.", "fma.")) for i in found), found
