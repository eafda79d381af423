"""Recurrent layers: RNN (tanh/relu) and LSTM, multi-layer, optionally batch_first.

On eager tensors the time loop is a Python loop of graphc functions; on symbolic values it is
one graphc.scan node, so a compiled step compiles the cell once whatever the sequence length
(which must still be known when the graph is built; the batch size may be symbolic). The
input projection of all time steps is one matmul per layer; only the hidden projection runs
step by step. A missing initial state means zeros, so the first step skips the hidden
projection instead of multiplying zeros.
"""
from __future__ import annotations

import math

from .. import functional as G
from ..control_flow import scan
from ..eager.creation import empty
from ..errors import UnsupportedError
from ..ir.graph import Value
from . import init
from .module import Module
from .parameter import Parameter


class _RNNBase(Module):
    gates = 1        # stacked gate blocks in the weights (LSTM: 4)
    state_count = 1  # tensors of state per layer (LSTM: h and c)

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, device=None, dtype=None):
        super().__init__()
        if bidirectional:
            raise UnsupportedError(f"{type(self).__name__}: bidirectional=True is not supported")
        if dropout:
            raise UnsupportedError(f"{type(self).__name__}: dropout between layers is not "
                                   f"supported")
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first = bias, batch_first
        rows = self.gates * hidden_size
        for k in range(num_layers):
            width = input_size if k == 0 else hidden_size
            setattr(self, f"weight_ih_l{k}", Parameter(empty((rows, width), dtype=dtype)))
            setattr(self, f"weight_hh_l{k}", Parameter(empty((rows, hidden_size), dtype=dtype)))
            if bias:
                setattr(self, f"bias_ih_l{k}", Parameter(empty((rows,), dtype=dtype)))
                setattr(self, f"bias_hh_l{k}", Parameter(empty((rows,), dtype=dtype)))
        self.reset_parameters()

    def reset_parameters(self):
        bound = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def _check_input(self, input):
        if input.ndim not in (2, 3):
            raise ValueError(f"{type(self).__name__}: expected 2-D or 3-D input, got shape "
                             f"{list(input.shape)}")
        if input.shape[-1] != self.input_size:
            raise ValueError(f"{type(self).__name__}: input has {input.shape[-1]} features "
                             f"(shape {list(input.shape)}), expected {self.input_size}")
        steps = input.shape[1 if self.batch_first and input.ndim == 3 else 0]
        if not isinstance(steps, int) or steps < 1:
            raise UnsupportedError(f"{type(self).__name__}: the sequence length must be known "
                                   f"and positive when the graph is built (input shape "
                                   f"{list(input.shape)})")

    def _initial_states(self, hx, unbatched):
        """Per layer, a tuple of state tensors (or None for zeros)."""
        if hx is None:
            return [None] * self.num_layers
        hx = tuple(hx) if isinstance(hx, (tuple, list)) else (hx,)
        if len(hx) != self.state_count:
            raise ValueError(f"{type(self).__name__}: expected {self.state_count} initial "
                             f"state tensor(s), got {len(hx)}")
        if unbatched:
            hx = tuple(G.unsqueeze(h, 1) for h in hx)
        for h in hx:
            if h.ndim != 3 or h.shape[0] != self.num_layers or h.shape[2] != self.hidden_size:
                raise ValueError(f"{type(self).__name__}: initial state must have shape "
                                 f"({self.num_layers}, batch, {self.hidden_size}), got "
                                 f"{list(h.shape)}")
        return [tuple(h[k] for h in hx) for k in range(self.num_layers)]

    def _run(self, input, hx):
        """Returns (output sequence, list of final state tensors (num_layers, N, H))."""
        self._check_input(input)
        unbatched = input.ndim == 2
        if unbatched:
            x = G.unsqueeze(input, 1)
        else:
            x = G.transpose(input, 0, 1) if self.batch_first else input  # (T, N, F)
        states = self._initial_states(hx, unbatched)
        finals = []
        for k in range(self.num_layers):
            w_ih, w_hh = getattr(self, f"weight_ih_l{k}"), getattr(self, f"weight_hh_l{k}")
            projected = G.matmul(x, G.t(w_ih))  # all time steps at once: (T, N, gates*H)
            if self.bias:
                projected = G.add(projected, G.add(getattr(self, f"bias_ih_l{k}"),
                                                   getattr(self, f"bias_hh_l{k}")))
            x, state = self._time_loop(projected, states[k], w_hh)
            finals.append(state)
        final = [G.stack([f[i] for f in finals], 0) for i in range(self.state_count)]
        if unbatched:
            return G.squeeze(x, 1), [G.squeeze(f, 1) for f in final]
        return (G.transpose(x, 0, 1) if self.batch_first else x), final

    def _time_loop(self, projected, state, w_hh):
        """Run the cell over the time steps of `projected` (T, N, gates*H): (outputs
        (T, N, H), final state). Symbolic input: one graphc.scan node (the cell is compiled
        once, whatever T); eager: a Python loop. A missing state (zeros) makes the first
        step skip the hidden projection, so that step is run on its own in both cases."""
        def step(state, pre):
            if state is not None:
                pre = G.add(pre, G.matmul(state[0], G.t(w_hh)))
            state = self._cell(pre, state)
            return state, state[0]

        steps = projected.shape[0]
        if not isinstance(projected, Value) or steps == 1:
            outputs = []
            for t in range(steps):
                state, out = step(state, projected[t])
                outputs.append(out)
            return G.stack(outputs, 0), state
        first = []
        if state is None:
            state, out = step(None, projected[0])
            first, projected = [G.unsqueeze(out, 0)], projected[1:]
        state, outputs = scan(step, tuple(state), projected)
        return (G.cat(first + [outputs], 0) if first else outputs), state

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        return s


class RNN(_RNNBase):
    """h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh), act = tanh or relu.
    Returns (output, h_n)."""

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: unknown nonlinearity {nonlinearity!r} (tanh or relu)")
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, device, dtype)

    def _cell(self, pre, state):
        return ((G.tanh(pre) if self.nonlinearity == "tanh" else G.relu(pre)),)

    def forward(self, input, hx=None):
        out, (h_n,) = self._run(input, hx)
        return out, h_n


class LSTM(_RNNBase):
    """Long short-term memory with PyTorch's gate order (input, forget, cell, output).
    Returns (output, (h_n, c_n))."""

    gates, state_count = 4, 2

    def _cell(self, pre, state):
        i, f, g, o = G.chunk(pre, 4, -1)
        i, f, g, o = G.sigmoid(i), G.sigmoid(f), G.tanh(g), G.sigmoid(o)
        c = G.mul(i, g) if state is None else G.add(G.mul(f, state[1]), G.mul(i, g))
        return G.mul(o, G.tanh(c)), c

    def forward(self, input, hx=None):
        out, (h_n, c_n) = self._run(input, hx)
        return out, (h_n, c_n)
