"""Random sampling with PyTorch's names: normal, bernoulli, multinomial, randint_like, the
in-place samplers (random_, bernoulli_, exponential_, ...), get/set_rng_state and seed.

All draw from graphc's seedable generator (graphc.manual_seed); results are eager tensors
(no gradient, as in PyTorch). A generator state is a uint8 tensor holding the JSON of NumPy's
bit-generator state: it round-trips exactly and is never unpickled.
"""
from __future__ import annotations

import json

import numpy as np

from .eager.random import generator as _generator
from .types import DEFAULT_FLOAT, as_dtype


def _rng(gen=None):
    return _generator(gen).numpy


def _array(x):
    return x.detach().cpu().numpy() if hasattr(x, "detach") else np.asarray(x)


def _float_dtype(*xs):
    for x in xs:
        if hasattr(x, "dtype") and x.dtype.is_floating_point:
            return x.dtype.np
    return DEFAULT_FLOAT.np


def _tensor(arr):
    from .eager.creation import tensor  # (tensor methods import this module: no cycle at load)
    return tensor(arr)


def _out(arr, like=None, dtype=None):
    out = _tensor(np.asarray(arr, dtype=dtype))
    return out.to(like.device) if getattr(like, "is_cuda", False) is True else out


def normal(mean=0.0, std=1.0, size=None, *, generator=None, dtype=None):
    """normal(mean_tensor, std_tensor), normal(tensor, float), normal(float, tensor) or
    normal(float, float, size): samples of N(mean, std**2), shaped by broadcasting or size."""
    m, s = _array(mean), _array(std)
    if np.any(s < 0):
        raise ValueError(f"normal: std must be >= 0, got {s.min()}")
    shape = tuple(size) if size is not None else np.broadcast_shapes(m.shape, s.shape)
    dt = as_dtype(dtype).np if dtype is not None else _float_dtype(mean, std)
    like = mean if hasattr(mean, "shape") else std
    return _out(_rng(generator).normal(m, s, shape), like, dt)


def bernoulli(input, p=None, *, generator=None):
    """1 with probability input (or p), else 0; input's dtype."""
    probs = _array(input) if p is None else np.full(tuple(input.shape), float(p))
    if np.any((probs < 0) | (probs > 1)):
        raise ValueError("bernoulli: probabilities must be in [0, 1]")
    return _out(_rng(generator).random(probs.shape) < probs, input, _array(input).dtype)


def multinomial(input, num_samples, replacement=False, *, generator=None):
    """Indices drawn from the rows of input (non-negative weights, not necessarily summing to 1)."""
    w = _array(input).astype(np.float64)
    rows = w.reshape(-1, w.shape[-1])
    if np.any(rows < 0) or np.any(rows.sum(1) <= 0):
        raise ValueError("multinomial: weights must be non-negative with a positive sum per row")
    if not replacement and num_samples > rows.shape[1]:
        raise ValueError(f"multinomial: cannot draw {num_samples} samples without replacement "
                         f"from {rows.shape[1]} categories")
    rng = _rng(generator)
    out = np.stack([rng.choice(rows.shape[1], num_samples, replace=replacement, p=r / r.sum())
                    for r in rows])
    return _out(out.reshape(w.shape[:-1] + (num_samples,)), input, np.int64)


def randint_like(input, low=0, high=None, *, dtype=None, generator=None):
    if high is None:
        low, high = 0, low
    dt = as_dtype(dtype).np if dtype is not None else _array(input).dtype
    return _out(_rng(generator).integers(low, high, tuple(input.shape)), input, dt)


def get_rng_state():
    state = _rng().bit_generator.state
    return _tensor(np.frombuffer(json.dumps(state).encode(), dtype=np.uint8).copy())


def set_rng_state(new_state):
    _rng().bit_generator.state = json.loads(bytes(_array(new_state).astype(np.uint8)).decode())


def seed():
    """Seed the generator from the OS's entropy; returns the seed (as torch.seed)."""
    s = int(np.random.SeedSequence().entropy % (2 ** 63))
    _generator().manual_seed(s)
    return s


# ---- in-place samplers (Tensor.random_ ...): fill the tensor's storage ----------------------
def random_(self, from_=None, to=None, *, generator=None):
    """random_(to) or random_(from, to): integers in [from, to); no bounds: the dtype's."""
    if to is None and from_ is not None:
        from_, to = 0, from_
    if to is None:
        to = 2 ** (np.finfo(self.dtype.np).nmant + 1) if self.dtype.is_floating_point else \
            int(np.iinfo(self.dtype.np).max)
    return self._assign(_rng(generator).integers(from_ or 0, to, tuple(self.shape)))


def bernoulli_(self, p=0.5, *, generator=None):
    probs = _array(p) if hasattr(p, "shape") else p
    return self._assign(_rng(generator).random(tuple(self.shape)) < probs)


def exponential_(self, lambd=1.0, *, generator=None):
    return self._assign(_rng(generator).exponential(1.0 / lambd, tuple(self.shape)))


def geometric_(self, p, *, generator=None):
    return self._assign(_rng(generator).geometric(p, tuple(self.shape)))


def log_normal_(self, mean=1.0, std=2.0, *, generator=None):
    return self._assign(_rng(generator).lognormal(mean, std, tuple(self.shape)))


def cauchy_(self, median=0.0, sigma=1.0, *, generator=None):
    return self._assign(median + sigma * _rng(generator).standard_cauchy(tuple(self.shape)))


INPLACE = {"random_": random_, "bernoulli_": bernoulli_, "exponential_": exponential_,
           "geometric_": geometric_, "log_normal_": log_normal_, "cauchy_": cauchy_}

__all__ = ["normal", "bernoulli", "multinomial", "randint_like", "get_rng_state",
           "set_rng_state", "seed"]
