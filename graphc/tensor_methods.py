"""Operators and methods shared by eager tensors and symbolic values.

Both `graphc.Tensor` and `graphc.Value` inherit this mixin, so `x + y`, `x.sum(1)` or
`x.view(-1, 4)` mean the same thing in both execution models.
"""
from __future__ import annotations

import numpy as np

from . import functional as F, indexing as I, pointwise as P, products as M, rearrange as A, reductions as R
from .linalg import det, matrix_power, slogdet
from .ops import elementwise as _E, registry as _registry
from .types import as_dtype, float32, float64, int32, int64, bool_, float16


_NO_ATTRS: dict = {}  # shared, never written


def _inplace_forms():
    from .eager import inplace
    return inplace


class TensorMethods:
    __slots__ = ()
    __array_priority__ = 1000  # numpy defers to our operators: ndarray + tensor -> tensor
    # PyTorch's predicates for devices and layouts graphc does not have (device-probing idioms)
    is_xpu = is_mps = is_meta = is_sparse = is_quantized = is_mkldnn = is_nested = False

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
    def __floordiv__(self, o): return P.floor_divide(self, o)
    def __rfloordiv__(self, o): return P.floor_divide(o, self)
    def __mod__(self, o): return P.remainder(self, o)
    def __rmod__(self, o): return P.remainder(o, self)
    # & | ^ ~ << >> are bitwise, as in PyTorch (on bool tensors the same as the logical ops)
    def __and__(self, o): return P.bitwise_and(self, o)
    def __rand__(self, o): return P.bitwise_and(o, self)
    def __or__(self, o): return P.bitwise_or(self, o)
    def __ror__(self, o): return P.bitwise_or(o, self)
    def __xor__(self, o): return P.bitwise_xor(self, o)
    def __rxor__(self, o): return P.bitwise_xor(o, self)
    def __lshift__(self, o): return P.bitwise_left_shift(self, o)
    def __rshift__(self, o): return P.bitwise_right_shift(self, o)
    def __invert__(self): return P.bitwise_not(self)
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
    def div(self, o, *, rounding_mode=None): return F.div(self, o, rounding_mode=rounding_mode)
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
    def view(self, *shape):
        """view(*shape) reshapes; view(dtype) reinterprets the bytes (eager tensors only)."""
        if len(shape) == 1 and not isinstance(shape[0], (int, tuple, list)):
            return _view_as_dtype(self, as_dtype(shape[0]))
        return F.reshape(self, *shape)
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


# ---- methods of the pointwise, reduction, indexing and product functions ----------------------
# One table, PyTorch's method name -> the graphc function it calls with the tensor first.
def _method_table():
    table = {}
    for module, names in [
        (P, "floor ceil trunc fix frac isnan isinf isfinite isposinf isneginf nan_to_num "
            "reciprocal log2 log10 expm1 exp2 tan asin acos atan atan2 arcsin arccos arctan "
            "arctan2 sinh cosh asinh acosh atanh arcsinh arccosh arctanh remainder fmod "
            "floor_divide lerp addcmul addcdiv hypot logaddexp logaddexp2 erfc erfinv logit "
            "xlogy clamp_min clamp_max float_power fmax fmin sgn sinc signbit lgamma digamma "
            "bitwise_and bitwise_or bitwise_xor bitwise_not bitwise_left_shift "
            "bitwise_right_shift logical_xor isclose allclose equal copysign deg2rad rad2deg "
            "rsub true_divide divide absolute"),
        (R, "all any prod cumsum cumprod cummax cummin sort argsort msort topk kthvalue median "
            "nanmedian mode quantile norm dist count_nonzero aminmax nanmean nansum unique "
            "unique_consecutive bincount histc diff logcumsumexp"),
        (I, "gather scatter scatter_add scatter_reduce index_select index_add index_fill "
            "index_copy masked_fill masked_select masked_scatter take take_along_dim nonzero "
            "argwhere narrow select"),
        (A, "flip fliplr flipud roll rot90 tril triu diag diagonal diag_embed trace tile repeat "
            "repeat_interleave movedim moveaxis swapdims unbind unflatten tensor_split"),
        (M, "outer ger inner dot vdot mv addmm addmv addr baddbmm addbmm kron cross"),
    ]:
        for name in names.split():
            table[name] = getattr(module, name)
    table.update(det=det, slogdet=slogdet, matrix_power=matrix_power, swapaxes=F.transpose,
                 div=P.div, round=P.round)
    return table


def _as_method(fn, name):
    def method(self, *args, **kwargs):
        return fn(self, *args, **kwargs)
    method.__name__ = name
    method.__doc__ = fn.__doc__
    return method


def _as_inplace(fn, name):
    """x.name_(...) = write fn(x, ...) into x: eager/inplace.py's autograd rules (dtype and
    shape checks, version counter, grad_fn rebased) eagerly; a traced write under graphc.jit."""
    def method(self, *args, **kwargs):
        return self._write(fn, *args, **kwargs)
    method.__name__ = name
    method.__doc__ = fn.__doc__
    return method


# in-place forms PyTorch has for these (the result is written into the tensor's storage)
_INPLACE = ("floor ceil trunc fix frac nan_to_num reciprocal log2 log10 expm1 exp2 tan asin acos "
            "atan atan2 sinh cosh asinh acosh atanh remainder fmod floor_divide lerp hypot erfc "
            "erfinv logit xlogy clamp_min clamp_max float_power sgn sinc lgamma digamma "
            "bitwise_and bitwise_or bitwise_xor bitwise_not bitwise_left_shift "
            "bitwise_right_shift logical_xor copysign deg2rad rad2deg round div cumsum cumprod "
            "scatter scatter_add scatter_reduce index_add index_fill index_copy masked_fill "
            "masked_scatter tril triu addmm addmv addr baddbmm addbmm true_divide arcsin arccos arctan arctan2 arcsinh arccosh arctanh square abs neg exp "
            "log log1p sqrt rsqrt sin cos tanh sigmoid relu erf sign pow").split()


class _MoreMethods:
    """Sizes, constructors and conversions PyTorch tensors have (shared with symbolic values)."""

    def nelement(self): return self.numel()
    def ndimension(self): return self.ndim
    def element_size(self): return self.dtype.np.itemsize
    @property
    def itemsize(self): return self.dtype.np.itemsize
    @property
    def nbytes(self): return self.numel() * self.dtype.np.itemsize

    def stride(self, dim=None):
        data = getattr(self, "_data", None)
        if isinstance(data, np.ndarray):
            strides = tuple(s // data.itemsize for s in data.strides)
        else:  # symbolic values and device arrays are laid out contiguously
            strides, step = [], 1
            for d in reversed(self.shape):
                strides.insert(0, step)
                step *= d if isinstance(d, int) else 1
            strides = tuple(strides)
        return strides if dim is None else strides[dim]

    def is_contiguous(self, memory_format=None):
        data = getattr(self, "_data", None)
        return data.flags.c_contiguous if isinstance(data, np.ndarray) else True

    def clone(self, *, memory_format=None): return F.mul(self, 1)
    def contiguous(self, memory_format=None): return self
    def cpu(self): return self
    @property
    def is_cuda(self): return False
    @property
    def device(self):
        from .device import Device
        return Device("cpu")

    def type(self, dtype=None, non_blocking=False):
        """type() -> PyTorch's type string ('torch.FloatTensor'); type(dtype) -> a cast."""
        if dtype is None:
            return "torch." + _TYPE_NAMES.get(self.dtype.name, self.dtype.name) + "Tensor"
        if isinstance(dtype, str):
            name = dtype.rsplit(".", 1)[-1].removesuffix("Tensor")
            dtype = {v: k for k, v in _TYPE_NAMES.items()}[name]
        return F.cast(self, dtype)

    def _new_filled(self, fill, size, dtype, device):
        from .eager.creation import full
        size = tuple(size[0]) if len(size) == 1 and isinstance(size[0], (tuple, list)) else size
        return full(size, fill, dtype=dtype or self.dtype, device=device or self.device)

    def new_ones(self, *size, dtype=None, device=None, requires_grad=False):
        return self._new_filled(1, size, dtype, device).requires_grad_(requires_grad)

    def new_zeros(self, *size, dtype=None, device=None, requires_grad=False):
        return self._new_filled(0, size, dtype, device).requires_grad_(requires_grad)

    def new_empty(self, *size, dtype=None, device=None, requires_grad=False):
        return self._new_filled(0, size, dtype, device).requires_grad_(requires_grad)

    def new_full(self, size, fill_value, *, dtype=None, device=None, requires_grad=False):
        return self._new_filled(fill_value, (tuple(size),), dtype, device).requires_grad_(requires_grad)

    def new_tensor(self, data, *, dtype=None, device=None, requires_grad=False):
        from .eager.creation import tensor
        return tensor(data, dtype=dtype or self.dtype, device=device or self.device,
                      requires_grad=requires_grad)

    def __format__(self, spec):
        if spec and self.numel() == 1:
            return format(self.item(), spec)
        return format(str(self), spec)

    def __contains__(self, element):
        return bool(R.any(F.eq(self, element)).item())


def _view_as_dtype(x, dtype):
    """torch's view(dtype): eagerly a view sharing x's storage (and version counter); on
    symbolic values the `bitcast` op."""
    if dtype is x.dtype:
        return F.reshape(x, tuple(x.shape))  # a view, as PyTorch's
    data = getattr(x, "_data", None)
    if data is None:
        from .ops.shape import bitcast
        return bitcast(x, dtype=dtype)
    old, new = x.dtype.np.itemsize, dtype.np.itemsize
    if old != new and x.ndim == 0:
        raise RuntimeError(f"self.dim() cannot be 0 to view {x.dtype.name} as {dtype.name} "
                           f"(different element sizes)")
    if old != new and (x.shape[-1] * old) % new:
        raise RuntimeError(f"self.size(-1) must be divisible by {new // old} to view "
                           f"{x.dtype.name} as {dtype.name} (different element sizes), but "
                           f"got {x.shape[-1]}")
    out = type(x)._wrap(data.view(dtype.np))
    out._vc = x._vc  # the same storage: writes through either are versions of both
    return out


_TYPE_NAMES = {"float32": "Float", "float64": "Double", "float16": "Half", "int64": "Long",
               "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool"}


def _install():
    """Adds the table's methods, their in-place forms, _MoreMethods and the samplers."""
    for name, member in vars(_MoreMethods).items():
        if not name.startswith("__") or name in ("__format__", "__contains__"):
            if name not in TensorMethods.__dict__:
                setattr(TensorMethods, name, member)
    from . import sampling
    for name, fn in sampling.INPLACE.items():
        setattr(TensorMethods, name, fn)
    table = _method_table()
    for name, fn in table.items():
        if name not in TensorMethods.__dict__:
            setattr(TensorMethods, name, _as_method(fn, name))
    for name in _INPLACE:
        fn = table.get(name) or getattr(F, name)
        setattr(TensorMethods, name + "_", _as_inplace(fn, name + "_"))


_install()
