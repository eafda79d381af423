"""Bad input gets a clear error naming the op, the shapes and the user's line."""
import os

import numpy as np
import pytest

import graphc as gc

THIS_FILE = os.path.basename(__file__)


def test_broadcast_error_names_op_shapes_and_line():
    a = gc.placeholder((None, 2), name="a")
    b = gc.placeholder((5, 3))
    with pytest.raises(gc.ShapeError) as e:
        a + b  # the line the message must point at
    msg = str(e.value)
    assert msg.startswith("add:")
    assert "[?, 2]" in msg and "[5, 3]" in msg
    assert f"{THIS_FILE}:" in msg and "a + b" in msg


def test_eager_shape_error_is_the_same_error():
    with pytest.raises(gc.ShapeError, match=r"add: .*\[3\].*\[4\]"):
        gc.ones(3) + gc.ones(4)


def test_matmul_inner_dim_mismatch():
    with pytest.raises(gc.ShapeError, match=r"matmul: shapes \[3, 4\] and \[5, 2\] cannot be multiplied"):
        gc.placeholder((3, 4)) @ gc.placeholder((5, 2))


def test_matmul_dtype_mismatch_is_a_dtype_error():
    with pytest.raises(gc.DTypeError, match="matmul: .*float32 and float64"):
        gc.placeholder((3, 4)) @ gc.placeholder((4, 2), gc.float64)


def test_reshape_invalid_size():
    with pytest.raises(gc.ShapeError, match=r"reshape: shape \[5, -1\] is invalid for input of size 12"):
        gc.placeholder((3, 4)).reshape(5, -1)


def test_reduction_dim_out_of_range():
    with pytest.raises(gc.ShapeError, match="sum: dim 3 is out of range"):
        gc.placeholder((3, 4)).sum(3)


def test_mean_of_integers_is_a_dtype_error():
    with pytest.raises(gc.DTypeError, match="mean needs a floating point input"):
        gc.tensor([1, 2, 3]).mean()


def test_cat_mismatch():
    with pytest.raises(gc.ShapeError, match="cat: sizes must match except in dim 0"):
        gc.cat([gc.placeholder((2, 3)), gc.placeholder((2, 4))])


def test_unknown_attribute():
    from graphc.ops import elementwise
    with pytest.raises(TypeError, match="leaky_relu: unknown attribute 'slope'"):
        elementwise.leaky_relu(gc.ones(2), slope=0.1)


def test_index_out_of_bounds_eager():
    with pytest.raises(IndexError, match="index 5 is out of bounds for dim 0 with size 3"):
        gc.ones(3, 2)[np.array([5])]


def test_python_control_flow_on_symbolic_value():
    x = gc.placeholder(())
    with pytest.raises(gc.GraphcError, match="Python control flow"):
        if x > 0:
            pass


def test_boolean_mask_of_symbolic_value():
    x = gc.placeholder((3,))
    with pytest.raises(gc.UnsupportedError, match="data-dependent shape"):
        x[x > 0]


# ---- feeds ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def add_fn():
    a = gc.placeholder(("n", 2), name="a")
    b = gc.placeholder(("n", 2), name="b")
    return gc.compile(a * 2 + b, [a, b], target="reference")


def test_feed_by_position_and_name(add_fn):
    x = np.ones((3, 2), np.float32)
    np.testing.assert_allclose(add_fn(x, b=x).numpy(), 3 * x)
    np.testing.assert_allclose(add_fn(a=x, b=x).numpy(), 3 * x)


def test_missing_feed(add_fn):
    with pytest.raises(gc.FeedError, match="missing inputs: 'b'"):
        add_fn(np.ones((3, 2), np.float32))


def test_unknown_feed_name(add_fn):
    x = np.ones((3, 2), np.float32)
    with pytest.raises(gc.FeedError, match="unknown input 'c'"):
        add_fn(x, x, c=x)


def test_too_many_feeds(add_fn):
    x = np.ones((3, 2), np.float32)
    with pytest.raises(gc.FeedError, match="at most 2 positional inputs, got 3"):
        add_fn(x, x, x)


def test_feed_given_twice(add_fn):
    x = np.ones((3, 2), np.float32)
    with pytest.raises(gc.FeedError, match="'a' given twice"):
        add_fn(x, x, a=x)


def test_wrong_feed_shape(add_fn):
    with pytest.raises(gc.FeedError, match=r"input 'a' expects shape \[n, 2\], got \[3, 3\]"):
        add_fn(np.ones((3, 3), np.float32), np.ones((3, 2), np.float32))


def test_wrong_feed_dtype(add_fn):
    with pytest.raises(gc.FeedError, match="input 'a' expects dtype float32, got float64"):
        add_fn(np.ones((3, 2)), np.ones((3, 2), np.float32))


def test_named_symbolic_dims_must_agree(add_fn):
    with pytest.raises(gc.FeedError, match="dim 'n' is 3 in one input and 4 in another"):
        add_fn(np.ones((3, 2), np.float32), np.ones((4, 2), np.float32))


def test_compile_needs_all_placeholders_as_inputs():
    a, b = gc.placeholder((2,), name="a"), gc.placeholder((2,), name="b")
    with pytest.raises(gc.FeedError, match="not inputs: 'b'"):
        gc.compile(a + b, [a], target="reference")


def test_compile_rejects_non_symbolic_outputs():
    with pytest.raises(TypeError, match="outputs must be symbolic values"):
        gc.compile(gc.ones(2), target="reference")


def test_update_type_mismatch():
    v = gc.variable(np.zeros(3, np.float32), name="v")
    with pytest.raises(ValueError, match=r"variable 'v' has shape \[3\]"):
        gc.compile(v.sum(), updates={v: gc.placeholder((4,))}, target="reference")


def test_eager_result_with_grad_fn_cannot_enter_a_graph():
    w = gc.ones(2, requires_grad=True)
    eager = (w * w).sum()              # has a grad_fn: its gradient could not reach w
    x = gc.placeholder(())
    with pytest.raises(gc.GraphcError, match=r"computed eagerly with gradient tracking .*SumBackward0"):
        x * eager
    x * eager.detach()                 # fine: a constant
