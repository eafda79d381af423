"""Operators and methods shared by eager tensors and symbolic values.

Both `graphc.Tensor` and `graphc.Value` inherit this mixin, so `x + y`, `x.sum(1)` or
`x.view(-1, 4)` mean the same thing in both execution models.
"""
from __future__ import annotations

from . import functional as F
from .ops import elementwise as _E, registry as _registry
from .types import as_dtype, float32, float64, int32, int64, bool_, float16


_NO_ATTRS: dict = {}  # shared, never written


def _inplace_forms():
    from .eager import inplace
    return inplace


class TensorMethods:
    __slots__ = ()
    __array_priority__ = 1000  # numpy defers to our operators: ndarray + tensor -> tensor

    # ---- arithmetic -------------------------------------------------------------------
    # (binary operators call the op directly: one Python frame less on the eager hot path)
    def __add__(self, o): return _registry.dispatch(_E.add, (self, o), _NO_ATTRS)
    def __radd__(self, o): return _registry.dispatch(_E.add, (o, self), _NO_ATTRS)
    def __sub__(self, o): return _registry.dispatch(_E.sub, (self, o), _NO_ATTRS)
    def __rsub__(self, o): return _registry.dispatch(_E.sub, (o, self), _NO_ATTRS)
    def __mul__(self, o): return _registry.dispatch(_E.mul, (self, o), _NO_ATTRS)
    def __rmul__(self, o): return _registry.dispatch(_E.mul, (o, self), _NO_ATTRS)
    def __truediv__(self, o): return _registry.dispatch(_E.div, (self, o), _NO_ATTRS)
    def __rtruediv__(self, o): return _registry.dispatch(_E.div, (o, self), _NO_ATTRS)
    def __pow__(self, o): return F.pow(self, o)
    def __rpow__(self, o): return F.pow(o, self)
    def __matmul__(self, o): return F.matmul(self, o)
    def __rmatmul__(self, o): return F.matmul(o, self)
    def __neg__(self): return _registry.dispatch(_E.neg, (self,), _NO_ATTRS)
    def __pos__(self): return self
    def __abs__(self): return F.abs(self)
    def __eq__(self, o): return _registry.dispatch(_E.eq, (self, o), _NO_ATTRS)
    def __ne__(self, o): return _registry.dispatch(_E.ne, (self, o), _NO_ATTRS)
    def __lt__(self, o): return _registry.dispatch(_E.lt, (self, o), _NO_ATTRS)
    def __le__(self, o): return _registry.dispatch(_E.le, (self, o), _NO_ATTRS)
    def __gt__(self, o): return _registry.dispatch(_E.gt, (self, o), _NO_ATTRS)
    def __ge__(self, o): return _registry.dispatch(_E.ge, (self, o), _NO_ATTRS)
    def __and__(self, o): return F.logical_and(self, o)
    def __or__(self, o): return F.logical_or(self, o)
    def __invert__(self): return F.logical_not(self)
    __hash__ = object.__hash__

    def __getitem__(self, key): return F.getitem(self, key)

    # ---- in-place ops: computed out of place, then written by _write (eager tensors:
    # eager/inplace.py, with PyTorch's autograd rules; symbolic values: the graphc.jit trace)
    def add_(self, other, *, alpha=1): return self._write(F.add, other, alpha=alpha)
    def sub_(self, other, *, alpha=1): return self._write(F.sub, other, alpha=alpha)
    def mul_(self, other): return self._write(F.mul, other)
    def div_(self, other): return self._write(F.div, other)
    def clamp_(self, min=None, max=None): return self._write(F.clamp, min, max)
    clip_ = clamp_
    def addcmul_(self, tensor1, tensor2, *, value=1):
        return self._write(_inplace_forms().addcmul, tensor1, tensor2, value)
    def addcdiv_(self, tensor1, tensor2, *, value=1):
        return self._write(_inplace_forms().addcdiv, tensor1, tensor2, value)
    def copy_(self, src, non_blocking=False):
        return self._write(_inplace_forms().copied, src, strict_dtype=False)
    def fill_(self, value): return self._write(_inplace_forms().filled, value, strict_dtype=False)
    def zero_(self): return self.fill_(0)
    def __iadd__(self, o): return self._write(F.add, o, operator=True)
    def __isub__(self, o): return self._write(F.sub, o, operator=True)
    def __imul__(self, o): return self._write(F.mul, o, operator=True)
    def __itruediv__(self, o): return self._write(F.div, o, operator=True)

    def __setitem__(self, key, value):
        self._write(_inplace_forms().put, key, value, strict_dtype=False)

    def _write(self, fn, *args, strict_dtype=True, operator=False, **kwargs):
        """A symbolic value written in place: inside graphc.jit the trace rebinds it to
        fn(self, *args); elsewhere `y += x` builds y + x and explicit in-place ops raise."""
        from .eager.tensor import Tensor
        trace = Tensor._trace
        if trace is None:
            if operator:
                return fn(self, *args, **kwargs)
            from .errors import UnsupportedError
            raise UnsupportedError(
                "in-place ops on symbolic values work inside graphc.jit; in a graph built "
                "by hand, use the out-of-place form (y = y.add(x), y = graphc.where(...))")
        return trace.write_value(self, fn(self, *args, **kwargs), strict_dtype)

    # ---- sizes --------------------------------------------------------------------------
    def size(self, dim=None):
        return self.shape if dim is None else self.shape[dim]

    def dim(self): return self.ndim

    def numel(self):
        n = 1
        for d in self.shape:
            n *= d
        return n

    def __iter__(self):
        """Rows along dim 0 (without this, Python would index until an IndexError, which a
        symbolic dim never raises)."""
        if not self.shape:
            raise TypeError("iteration over a 0-d tensor")
        n = self.shape[0]
        if not isinstance(n, int):
            from .errors import UnsupportedError
            raise UnsupportedError(f"iterating over a value of shape {list(self.shape)}: dim 0 "
                                   f"is symbolic, so the number of rows is not known")
        return (self[i] for i in range(n))

    def __len__(self):
        if not self.shape:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    # ---- dtype conversions -------------------------------------------------------------
    def to(self, *args, **kwargs):
        """to(dtype), to(device), to(device, dtype) or to(other_tensor)."""
        dtype = kwargs.get("dtype")
        for a in args:
            if hasattr(a, "shape") and hasattr(a, "dtype"):
                dtype = a.dtype
            else:
                try:
                    dtype = as_dtype(a)
                except TypeError:
                    self = self._to_device(a)
        if "device" in kwargs:
            self = self._to_device(kwargs["device"])
        return self if dtype is None else F.cast(self, dtype)

    def _to_device(self, device):
        if str(device) not in ("cpu",):
            from .errors import UnsupportedError
            raise UnsupportedError(f"device {device!r} is not available for this value")
        return self

    def float(self): return F.cast(self, float32)
    def double(self): return F.cast(self, float64)
    def half(self): return F.cast(self, float16)
    def long(self): return F.cast(self, int64)
    def int(self): return F.cast(self, int32)
    def bool(self): return F.cast(self, bool_)
    def type_as(self, other): return F.cast(self, other.dtype)

    def is_floating_point(self): return self.dtype.is_floating_point
    def detach(self): return F.detach(self)  # (eager tensors have their own, sharing storage)
    # (eager tensors have their own:) a new value, so that writing it leaves self alone
    def clone(self, memory_format=None): return F.add(self, 0)
    def contiguous(self, memory_format=None): return self

    # ---- elementwise --------------------------------------------------------------------
    def exp(self): return F.exp(self)
    def log(self): return F.log(self)
    def log1p(self): return F.log1p(self)
    def sqrt(self): return F.sqrt(self)
    def rsqrt(self): return F.rsqrt(self)
    def square(self): return F.square(self)
    def abs(self): return F.abs(self)
    def neg(self): return F.neg(self)
    def sign(self): return F.sign(self)
    def sin(self): return F.sin(self)
    def cos(self): return F.cos(self)
    def tanh(self): return F.tanh(self)
    def sigmoid(self): return F.sigmoid(self)
    def relu(self): return F.relu(self)
    def erf(self): return F.erf(self)
    def pow(self, e): return F.pow(self, e)
    def clamp(self, min=None, max=None): return F.clamp(self, min, max)
    clip = clamp
    def add(self, o, *, alpha=1): return F.add(self, o, alpha=alpha)
    def sub(self, o, *, alpha=1): return F.sub(self, o, alpha=alpha)
    def mul(self, o): return F.mul(self, o)
    def div(self, o): return F.div(self, o)
    def maximum(self, o): return F.maximum(self, o)
    def minimum(self, o): return F.minimum(self, o)
    def eq(self, o): return F.eq(self, o)
    def ne(self, o): return F.ne(self, o)
    def lt(self, o): return F.lt(self, o)
    def le(self, o): return F.le(self, o)
    def gt(self, o): return F.gt(self, o)
    def ge(self, o): return F.ge(self, o)
    def logical_not(self): return F.logical_not(self)
    def logical_and(self, o): return F.logical_and(self, o)
    def logical_or(self, o): return F.logical_or(self, o)
    def where(self, cond, other): return F.where(cond, self, other)

    # ---- reductions ------------------------------------------------------------------------
    def sum(self, dim=None, keepdim=False, dtype=None): return F.sum(self, dim, keepdim, dtype=dtype)
    def mean(self, dim=None, keepdim=False, dtype=None): return F.mean(self, dim, keepdim, dtype=dtype)
    def var(self, dim=None, unbiased=None, keepdim=False, *, correction=None):
        return F.var(self, dim, unbiased, keepdim, correction=correction)
    def std(self, dim=None, unbiased=None, keepdim=False, *, correction=None):
        return F.std(self, dim, unbiased, keepdim, correction=correction)
    def max(self, dim=None, keepdim=False): return F.max(self, dim, keepdim)
    def min(self, dim=None, keepdim=False): return F.min(self, dim, keepdim)
    def amax(self, dim=None, keepdim=False): return F.amax(self, dim, keepdim)
    def amin(self, dim=None, keepdim=False): return F.amin(self, dim, keepdim)
    def argmax(self, dim=None, keepdim=False): return F.argmax(self, dim, keepdim)
    def argmin(self, dim=None, keepdim=False): return F.argmin(self, dim, keepdim)
    def logsumexp(self, dim, keepdim=False): return F.logsumexp(self, dim, keepdim)
    def softmax(self, dim): return F.softmax(self, dim)
    def log_softmax(self, dim): return F.log_softmax(self, dim)

    # ---- linear algebra and shapes ------------------------------------------------------------
    def matmul(self, o): return F.matmul(self, o)
    def mm(self, o): return F.mm(self, o)
    def bmm(self, o): return F.bmm(self, o)
    def inverse(self): return F.inverse(self)
    def t(self): return F.t(self)
    def transpose(self, d0, d1): return F.transpose(self, d0, d1)
    def permute(self, *dims): return F.permute(self, *dims)
    @property
    def T(self): return F.permute(self, tuple(reversed(range(self.ndim))))
    @property
    def mT(self): return F.transpose(self, -2, -1)
    def reshape(self, *shape): return F.reshape(self, *shape)
    def view(self, *shape): return F.reshape(self, *shape)
    def view_as(self, other): return F.reshape(self, other.shape)
    def reshape_as(self, other): return F.reshape(self, other.shape)
    def flatten(self, start_dim=0, end_dim=-1): return F.flatten(self, start_dim, end_dim)
    def squeeze(self, dim=None): return F.squeeze(self, dim)
    def unsqueeze(self, dim): return F.unsqueeze(self, dim)
    def expand(self, *shape):
        return F.broadcast_to(self, shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list))
                              else shape)
    def expand_as(self, other): return F.broadcast_to(self, other.shape)
    def split(self, size, dim=0): return F.split(self, size, dim)
    def chunk(self, chunks, dim=0): return F.chunk(self, chunks, dim)
