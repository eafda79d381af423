"""The training step drawn in the README:
graphc draw docs/images/train_step.py:step -o docs/images/train_step.png --compiled"""
import numpy as np

import graphc as gc


def step():
    x = gc.placeholder((8, 2), name="x")
    w = gc.variable(np.ones((2, 3), np.float32), name="w")
    b = gc.variable(np.zeros(3, np.float32), name="b")
    loss = gc.tanh(x @ w + b).square().mean()
    gw, gb = gc.grad(loss, [w, b])
    return gc.compile(loss, updates={w: w - 0.1 * gw, b: b - 0.1 * gb}, target="cpu")
