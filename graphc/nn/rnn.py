"""Recurrent layers with PyTorch's parameters, gate orders and results: RNN (tanh/relu),
LSTM (with proj_size), GRU — multi-layer, bidirectional, dropout between layers,
batch_first, unbatched input, initial states — and the cells RNNCell, LSTMCell, GRUCell.

The input projection of all time steps is one matmul per layer and direction; only the
hidden projection runs step by step, in `time_loop` — the one place that walks time, so that
a compiled scan (issue 11) can replace it. Today it unrolls: the sequence length must be
known when a graph is built (the batch size may be symbolic). A missing initial state means
zeros: the eager loop's first step skips the hidden projection instead of multiplying zeros;
a scan carries zeros into it, so that one compiled cell serves every step.
"""
from __future__ import annotations

import contextlib
import threading

import math

import numpy as np

from .. import functional as G
from ..ops import shape as S
from ..control_flow import scan
from ..eager.creation import empty
from ..ir.graph import Value
from ..errors import UnsupportedError
from . import functional as F, init
from .module import Module
from .parameter import Parameter
from .utils.rnn import PackedSequence, _packed_positions, pad_packed_sequence
from .constants import on_device_of


def zero_state(gi, widths):
    """Zero state tensors shaped (batch, width) like the pre-activations gi (whose batch
    size may be symbolic)."""
    return tuple(G.full_like(gi[..., :w], 0.0) for w in widths)


def time_loop(step, inputs, state, reverse=False, mask=None):
    """state = step(x_t, state) -> (output_t, state) over t = 0..T-1 (or backwards);
    returns (outputs stacked on dim 0 in time order, final state). mask (T, N) bool keeps
    the state of sequence n unchanged at the steps where mask[t, n] is False (packed
    sequences of different lengths; the state must then be given)."""
    steps = inputs.shape[0]
    if isinstance(inputs, Value) and mask is None and steps > 1 and not _unrolling.depth:
        return _scanned(step, inputs, state, reverse)
    outputs = [None] * steps
    for t in (range(steps - 1, -1, -1) if reverse else range(steps)):
        outputs[t], new = step(inputs[t], state)
        if mask is not None:
            keep = on_device_of(inputs, mask[t][:, None])
            new = tuple(G.where(keep, n, o) for n, o in zip(new, state))
        state = new
    return G.stack(outputs, 0), state


class _Unrolling(threading.local):
    depth = 0


_unrolling = _Unrolling()


@contextlib.contextmanager
def unrolled_time_loops():
    """Inside: time loops on symbolic values unroll instead of making a scan node (the ONNX
    exporter has no mapping of scan to ONNX's Scan yet)."""
    _unrolling.depth += 1
    try:
        yield
    finally:
        _unrolling.depth -= 1


def _scanned(step, inputs, state, reverse):
    """The time loop on symbolic values: one graphc.scan node, so a compiled step compiles
    the cell once whatever the sequence length. A missing state is zeros carried into the
    first step (the eager loop skips that step's hidden projection instead: the same numbers,
    but a compiled step would need a second copy of the cell's kernels for it)."""
    if state is None:  # zeros shaped like the state a first step makes (only its shape is read)
        _, first = step(inputs[-1 if reverse else 0], None)
        state = tuple(G.full_like(v, 0) for v in first)

    def cell(carry, x):
        out, new = step(x, carry)
        return tuple(new), out
    final, outputs = scan(cell, tuple(state), inputs, reverse=reverse)
    return outputs, tuple(final)


def _reverse_within_lengths(x, lengths):
    """x (T, N, ...) with each sequence's first lengths[n] steps reversed (an involution)."""
    steps, batch = x.shape[0], len(lengths)
    t = np.arange(steps)[:, None]
    rows = np.where(t < lengths[None], lengths[None] - 1 - t, t)
    return S.index(x, rows, np.broadcast_to(np.arange(batch), (steps, batch)), axis=0)


# ---- one step of each cell kind: pre-activations in, (output, new state) out ---------------------
def _hidden(h, w_hh, b_hh):
    """h W_hh^T + b_hh, or just b_hh (or None) for a zero state h = None."""
    if h is None:
        return b_hh
    out = G.matmul(h, G.t(w_hh))
    return out if b_hh is None else G.add(out, b_hh)


def rnn_step(gi, state, w_hh, b_hh, nonlinearity):
    """gi = x W_ih^T + b_ih; state = (h,) or None."""
    gh = _hidden(None if state is None else state[0], w_hh, b_hh)
    pre = gi if gh is None else G.add(gi, gh)
    h = G.tanh(pre) if nonlinearity == "tanh" else G.relu(pre)
    return h, (h,)


def lstm_step(gi, state, w_hh, b_hh, w_hr=None):
    """Gates in PyTorch's order (input, forget, cell, output); w_hr projects h (proj_size)."""
    gh = _hidden(None if state is None else state[0], w_hh, b_hh)
    pre = gi if gh is None else G.add(gi, gh)
    i, f, g, o = G.chunk(pre, 4, -1)
    i, f, g, o = G.sigmoid(i), G.sigmoid(f), G.tanh(g), G.sigmoid(o)
    c = G.mul(i, g) if state is None else G.add(G.mul(f, state[1]), G.mul(i, g))
    h = G.mul(o, G.tanh(c))
    if w_hr is not None:
        h = G.matmul(h, G.t(w_hr))
    return h, (h, c)


def gru_step(gi, state, w_hh, b_hh):
    """Gates (reset, update, new); the reset gate scales the hidden part of n, bias included."""
    h = None if state is None else state[0]
    gh = _hidden(h, w_hh, b_hh)
    i_r, i_z, i_n = G.chunk(gi, 3, -1)
    if gh is None:
        r, z, n = G.sigmoid(i_r), G.sigmoid(i_z), G.tanh(i_n)
    else:
        h_r, h_z, h_n = G.chunk(gh, 3, -1)
        r, z = G.sigmoid(G.add(i_r, h_r)), G.sigmoid(G.add(i_z, h_z))
        n = G.tanh(G.add(i_n, G.mul(r, h_n)))
    new = G.mul(G.sub(1, z), n)
    if h is not None:
        new = G.add(new, G.mul(z, h))
    return new, (new,)


_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def _index_array(t):
    return np.asarray(t.detach().cpu().numpy() if hasattr(t, "detach") else t, np.int64)


class _RNNBase(Module):
    mode = "RNN_TANH"

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__()
        name = type(self).__name__
        if not isinstance(dropout, (int, float)) or not 0 <= dropout <= 1 \
                or isinstance(dropout, bool):
            raise ValueError("dropout should be a number in range [0, 1] representing the "
                             "probability of an element being zeroed")
        if hidden_size <= 0 or num_layers <= 0:
            raise ValueError(f"{name}: hidden_size and num_layers must be positive")
        if proj_size < 0 or (proj_size and proj_size >= hidden_size):
            raise ValueError("proj_size has to be a positive integer smaller than hidden_size")
        if proj_size and self.mode != "LSTM":
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bias, batch_first, float(dropout)
        self.bidirectional, self.proj_size = bidirectional, proj_size
        self.num_directions = 2 if bidirectional else 1
        rows = _GATES[self.mode] * hidden_size
        real_hidden = proj_size or hidden_size
        for k in range(num_layers):
            width = input_size if k == 0 else real_hidden * self.num_directions
            for suffix in self._suffixes():
                setattr(self, f"weight_ih_l{k}{suffix}", Parameter(empty((rows, width),
                                                                         dtype=dtype)))
                setattr(self, f"weight_hh_l{k}{suffix}",
                        Parameter(empty((rows, real_hidden), dtype=dtype)))
                if bias:
                    setattr(self, f"bias_ih_l{k}{suffix}", Parameter(empty((rows,), dtype=dtype)))
                    setattr(self, f"bias_hh_l{k}{suffix}", Parameter(empty((rows,), dtype=dtype)))
                if proj_size:
                    setattr(self, f"weight_hr_l{k}{suffix}",
                            Parameter(empty((proj_size, hidden_size), dtype=dtype)))
        self.reset_parameters()
        self._place(device)

    def _suffixes(self):
        return ("", "_reverse") if self.bidirectional else ("",)

    def reset_parameters(self):
        bound = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def flatten_parameters(self):
        """PyTorch compacts cuDNN weights here; graphc has nothing to compact."""

    def _state_widths(self):
        widths = (self.proj_size or self.hidden_size, self.hidden_size)
        return widths[:self._state_count]

    @property
    def _state_count(self):
        return 2 if self.mode == "LSTM" else 1

    def _check_input(self, input):
        name = type(self).__name__
        if input.ndim not in (2, 3):
            raise ValueError(f"{name}: expected 2-D or 3-D input, got shape {list(input.shape)}")
        if input.shape[-1] != self.input_size:
            raise ValueError(f"{name}: input has {input.shape[-1]} features (shape "
                             f"{list(input.shape)}), expected {self.input_size}")
        steps = input.shape[1 if self.batch_first and input.ndim == 3 else 0]
        if not isinstance(steps, int) or steps < 1:
            raise UnsupportedError(f"{name}: the sequence length must be known and positive "
                                   f"when the graph is built (input shape {list(input.shape)})")

    def _initial_states(self, hx, unbatched):
        """Per (layer, direction), a tuple of state tensors, or None for zeros."""
        count = self.num_layers * self.num_directions
        if hx is None:
            return [None] * count
        hx = tuple(hx) if isinstance(hx, (tuple, list)) else (hx,)
        if len(hx) != self._state_count:
            raise ValueError(f"{type(self).__name__}: expected {self._state_count} initial "
                             f"state tensor(s), got {len(hx)}")
        if unbatched:
            hx = tuple(G.unsqueeze(h, 1) for h in hx)
        widths = (self.proj_size or self.hidden_size, self.hidden_size)
        for h, width in zip(hx, widths):
            if h.ndim != 3 or h.shape[0] != count or h.shape[2] != width:
                raise ValueError(f"{type(self).__name__}: initial state must have shape "
                                 f"({count}, batch, {width}), got {list(h.shape)}")
        return [tuple(h[i] for h in hx) for i in range(count)]

    def _step_function(self, layer, suffix):
        w_hh = getattr(self, f"weight_hh_l{layer}{suffix}")
        b_hh = getattr(self, f"bias_hh_l{layer}{suffix}") if self.bias else None
        if self.mode == "LSTM":
            w_hr = getattr(self, f"weight_hr_l{layer}{suffix}") if self.proj_size else None
            return lambda gi, s: lstm_step(gi, s, w_hh, b_hh, w_hr)
        if self.mode == "GRU":
            return lambda gi, s: gru_step(gi, s, w_hh, b_hh)
        nonlinearity = "tanh" if self.mode == "RNN_TANH" else "relu"
        return lambda gi, s: rnn_step(gi, s, w_hh, b_hh, nonlinearity)

    def _run(self, input, hx):
        """Returns (output sequence, list of final state tensors (layers*dirs, N, H))."""
        if isinstance(input, PackedSequence):
            return self._run_packed(input, hx)
        self._check_input(input)
        unbatched = input.ndim == 2
        if unbatched:
            x = G.unsqueeze(input, 1)
        else:
            x = G.transpose(input, 0, 1) if self.batch_first else input  # (T, N, F)
        x, final = self._layers(x, self._initial_states(hx, unbatched))
        if unbatched:
            return G.squeeze(x, 1), [G.squeeze(f, 1) for f in final]
        return (G.transpose(x, 0, 1) if self.batch_first else x), final

    def _run_packed(self, packed, hx):
        """PyTorch's packed path: sequences sorted by length, each stopping at its own end
        (a masked time loop; the reverse direction starts at each sequence's last step)."""
        lengths = packed.lengths()
        x, _ = pad_packed_sequence(packed, unsort=False)  # (T, N, F), sorted order
        self._check_input(x)
        if hx is not None and packed.sorted_indices is not None:
            order = _index_array(packed.sorted_indices)
            hx = tuple(S.index(h, order, axis=1) for h in hx) \
                if isinstance(hx, (tuple, list)) else S.index(hx, order, axis=1)
        x, final = self._layers(x, self._initial_states(hx, False), lengths)
        t_idx, n_idx, _ = _packed_positions(lengths)
        out = PackedSequence(S.index(x, t_idx, n_idx, axis=0), packed.batch_sizes,
                             packed.sorted_indices, packed.unsorted_indices)
        if packed.unsorted_indices is not None:
            restore = _index_array(packed.unsorted_indices)
            final = [S.index(f, restore, axis=1) for f in final]
        return out, final

    def _layers(self, x, states, lengths=None):
        """The stacked layers on (T, N, F); lengths (sorted, decreasing) mask packed input."""
        mask = None if lengths is None else np.arange(x.shape[0])[:, None] < lengths[None]
        finals = []
        for k in range(self.num_layers):
            if k > 0 and self.dropout and self.training:
                x = self._dropout(x)
            outs = []
            for d, suffix in enumerate(self._suffixes()):
                gi = G.matmul(x, G.t(getattr(self, f"weight_ih_l{k}{suffix}")))
                if self.bias:
                    gi = G.add(gi, getattr(self, f"bias_ih_l{k}{suffix}"))
                state = states[k * self.num_directions + d]
                if state is None and (x.shape[0] == 1 or mask is not None):
                    # a single step from zeros: run the hidden projection anyway, so that
                    # weight_hh gets a (zero) gradient as in PyTorch, not none; a masked
                    # loop needs a state to keep
                    state = zero_state(gi[0], self._state_widths())
                step = self._step_function(k, suffix)
                if mask is not None and d == 1:
                    out, final = time_loop(step, _reverse_within_lengths(gi, lengths), state,
                                           mask=mask)
                    out = _reverse_within_lengths(out, lengths)
                else:
                    out, final = time_loop(step, gi, state, reverse=d == 1, mask=mask)
                outs.append(out)
                finals.append(final)
            x = outs[0] if len(outs) == 1 else G.cat(outs, -1)
        return x, [G.stack([f[i] for f in finals], 0) for i in range(self._state_count)]

    def _dropout(self, x):
        return F.dropout(x, self.dropout, True)  # (a compiled step advances the counter)

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s


RNNBase = _RNNBase  # PyTorch's public names of the base classes (isinstance checks)


class RNN(_RNNBase):
    """h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh), act = tanh or relu.
    Returns (output, h_n)."""

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or "
                             f"'relu'.")
        self.nonlinearity = nonlinearity
        self.mode = "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, 0, device, dtype)

    def forward(self, input, hx=None):
        out, (h_n,) = self._run(input, hx)
        return out, h_n


class LSTM(_RNNBase):
    """Long short-term memory; proj_size > 0 projects h to proj_size features.
    Returns (output, (h_n, c_n))."""
    mode = "LSTM"

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, proj_size, device, dtype)

    def forward(self, input, hx=None):
        out, (h_n, c_n) = self._run(input, hx)
        return out, (h_n, c_n)


class GRU(_RNNBase):
    """Gated recurrent unit (reset, update, new gates). Returns (output, h_n)."""
    mode = "GRU"

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, device=None, dtype=None):
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, 0, device, dtype)

    def forward(self, input, hx=None):
        out, (h_n,) = self._run(input, hx)
        return out, h_n


# ---- cells: one time step, the loop is the caller's -------------------------------------------------
class _CellBase(Module):
    gates = 1

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__()
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        rows = self.gates * hidden_size
        self.weight_ih = Parameter(empty((rows, input_size), dtype=dtype))
        self.weight_hh = Parameter(empty((rows, hidden_size), dtype=dtype))
        if bias:
            self.bias_ih = Parameter(empty((rows,), dtype=dtype))
            self.bias_hh = Parameter(empty((rows,), dtype=dtype))
        else:
            self.bias_ih = self.bias_hh = None
        self.reset_parameters()
        self._place(device)

    reset_parameters = _RNNBase.reset_parameters

    def _prepare(self, input, hx):
        name = type(self).__name__
        if input.ndim not in (1, 2):
            raise ValueError(f"{name}: Expected input to be 1D or 2D, got {input.ndim}D instead")
        if input.shape[-1] != self.input_size:
            raise ValueError(f"{name}: input has {input.shape[-1]} features (shape "
                             f"{list(input.shape)}), expected {self.input_size}")
        unbatched = input.ndim == 1
        if unbatched:
            input = G.unsqueeze(input, 0)
            if hx is not None:
                hx = tuple(G.unsqueeze(h, 0) for h in hx) if isinstance(hx, (tuple, list)) \
                    else G.unsqueeze(hx, 0)
        gi = G.matmul(input, G.t(self.weight_ih))
        if self.bias:
            gi = G.add(gi, self.bias_ih)
        if hx is None:  # zeros, multiplied for real: weight_hh gets its (zero) gradient
            widths = (self.hidden_size,) * (2 if isinstance(self, LSTMCell) else 1)
            state = zero_state(gi, widths)
            hx = state if isinstance(self, LSTMCell) else state[0]
        return gi, hx, unbatched

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        return s


class RNNCell(_CellBase):
    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None,
                 dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity: {nonlinearity}")
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, bias, device, dtype)

    def forward(self, input, hx=None):
        gi, hx, unbatched = self._prepare(input, hx)
        h, _ = rnn_step(gi, (hx,), self.weight_hh, self.bias_hh, self.nonlinearity)
        return G.squeeze(h, 0) if unbatched else h


class LSTMCell(_CellBase):
    gates = 4

    def forward(self, input, hx=None):
        gi, hx, unbatched = self._prepare(input, hx)
        _, (h, c) = lstm_step(gi, tuple(hx), self.weight_hh, self.bias_hh)
        return (G.squeeze(h, 0), G.squeeze(c, 0)) if unbatched else (h, c)


class GRUCell(_CellBase):
    gates = 3

    def forward(self, input, hx=None):
        gi, hx, unbatched = self._prepare(input, hx)
        h, _ = gru_step(gi, (hx,), self.weight_hh, self.bias_hh)
        return G.squeeze(h, 0) if unbatched else h


RNNCellBase = _CellBase
