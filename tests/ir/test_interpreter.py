"""graphc.ir.interpreter: one walk for the reference target, graphc.debug and the CUDA
executor; values are dropped after their last reader."""
import weakref

import numpy as np
import pytest

import graphc as gc
from graphc.ir.graph import Graph
from graphc.ir.interpreter import Interpreter


class Counting(Interpreter):
    """The reference's node rule, counting how many results are alive at each step."""

    def __init__(self, graph):
        super().__init__(graph)
        self.alive, self.peak = 0, 0

    def run_node(self, node, args):
        out = np.asarray(node.op.reference(*args, **node.attrs), node.outputs[0].dtype.np).copy()
        self.alive += 1
        self.peak = max(self.peak, self.alive)
        weakref.finalize(out, self._freed)
        return [out]

    def _freed(self):
        self.alive -= 1


def test_a_chain_keeps_only_the_values_still_to_be_read():
    x = gc.placeholder((4,), gc.float64)
    y = x
    for _ in range(20):
        y = gc.tanh(y) * 0.5  # each step's values are read once, by the next node
    walk = Counting(Graph.from_outputs([y]))
    env = walk.run([np.ones(4)])
    # the value being read, its constant 0.5 and the value being made (60 without freeing)
    assert walk.peak <= 3
    (out,) = walk.outputs(env, [y])
    want = np.ones(4)
    for _ in range(20):
        want = np.tanh(want) * 0.5
    np.testing.assert_allclose(out, want)


def test_a_value_read_later_is_kept_until_then_and_outputs_survive():
    x = gc.placeholder((3,), gc.float64)
    a = gc.exp(x)
    b = gc.sin(a)
    c = gc.cos(b) + a  # a is read again here
    walk = Counting(Graph.from_outputs([c, b]))
    env = walk.run([np.arange(3.0)])
    got_c, got_b = walk.outputs(env, [c, b])
    np.testing.assert_allclose(got_c, np.cos(np.sin(np.exp(np.arange(3.0)))) + np.exp(np.arange(3.0)))
    np.testing.assert_allclose(got_b, np.sin(np.exp(np.arange(3.0))))


def test_errors_name_the_op_and_an_unfed_placeholder_is_explained():
    x = gc.placeholder((2,), gc.int64)
    y = x // gc.placeholder((2,), gc.int64)
    exe = gc.compile(y, inputs=[x, y.node.inputs[1]], target="reference")
    with pytest.raises(ZeroDivisionError, match="floor_divide"):
        exe(np.ones(2, np.int64), np.zeros(2, np.int64))
    with pytest.raises(gc.errors.GraphcError, match="not fed"):
        Counting(Graph.from_outputs([y], inputs=[x])).run([np.ones(2, np.int64)])
