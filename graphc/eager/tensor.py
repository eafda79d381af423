"""Eager tensors: PyTorch's names and meaning for the covered subset."""
from __future__ import annotations

import numpy as np

from ..device import Device, cpu
from ..tensor_methods import TensorMethods
from ..types import DType, DEFAULT_FLOAT, as_dtype, bool_, int64
from .grad_mode import is_grad_enabled


# Set by graphc.debug.track_memory while it counts the bytes eager tensors hold.
memory_tracker = None


class Tensor(TensorMethods):
    """An n-dimensional array with optional gradient tracking, eagerly computed."""

    __slots__ = ("_data", "_requires_grad", "grad", "grad_fn", "_vc", "_retains_grad",
                 "_persistent", "_variable", "name", "__weakref__")
    is_symbolic = False
    _trace = None  # the graphc.jit trace in progress: in-place writes become its updates

    def __init__(self, data=None, dtype=None, requires_grad=False):
        # Tensor(data) behaves like graphc.tensor(data)
        arr = _to_array([] if data is None else data, dtype)
        self._init(arr)
        if requires_grad:
            self.requires_grad = True

    def _init(self, arr):
        if memory_tracker is not None:
            memory_tracker.add(arr)
        self._data = arr
        self._requires_grad = False
        self.grad = None
        self.grad_fn = None
        self._vc = [0]
        self._retains_grad = False
        self._persistent = False
        self._variable = None
        self.name = None

    @classmethod
    def _wrap(cls, arr, dtype=None):
        """Wrap an array without copying (a dtype given converts it if it differs)."""
        t = cls.__new__(cls)
        if not isinstance(arr, np.ndarray) and not hasattr(arr, "copy_to_host"):
            arr = np.asarray(arr)  # (a CUDA device array is kept as it is)
        if dtype is not None and arr.dtype != dtype.np:
            arr = arr.astype(dtype.np)
        t._init(arr)
        return t

    # ---- properties -----------------------------------------------------------------------
    @property
    def shape(self):
        shape = self._data.shape
        return shape if type(shape) is tuple else tuple(shape)  # the CUDA simulator's shape

    @property
    def dtype(self) -> DType:
        return DType._by_np[self._data.dtype]

    @property
    def ndim(self):
        return self._data.ndim

    @property
    def device(self) -> Device:
        return cpu if type(self._data) is np.ndarray else _CUDA

    @property
    def is_cuda(self):
        return type(self._data) is not np.ndarray

    @property
    def data(self):
        return Tensor._wrap(self._data)

    @data.setter
    def data(self, value):
        self._data = np.asarray(value._data if isinstance(value, Tensor) else value)

    @property
    def requires_grad(self):
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, flag):
        if flag and not self.dtype.is_floating_point:
            raise RuntimeError("only Tensors of floating point dtype can require gradients")
        if self.grad_fn is not None and not flag:
            raise RuntimeError("you can only change requires_grad flags of leaf variables. If "
                               "you want to use a computed variable in a subgraph that doesn't "
                               "require differentiation use var_no_grad = var.detach().")
        self._requires_grad = bool(flag)

    def requires_grad_(self, flag=True):
        self.requires_grad = flag
        return self

    @property
    def is_leaf(self):
        return self.grad_fn is None

    @property
    def _version(self):
        return self._vc[0]

    def retain_grad(self):
        self._retains_grad = True

    # ---- conversions -------------------------------------------------------------------------
    def numpy(self):
        if self.requires_grad:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use "
                               "tensor.detach().numpy() instead.")
        return self._host()

    def _host(self):
        if type(self._data) is np.ndarray:
            return self._data
        raise TypeError("can't convert cuda:0 device type tensor to numpy. Use Tensor.cpu() "
                        "to copy the tensor to host memory first.")

    def __array__(self, dtype=None, copy=None):
        data = self._host()
        return data if dtype is None else data.astype(dtype)

    def item(self):
        if self._data.size != 1:
            raise RuntimeError(f"a Tensor with {self._data.size} elements cannot be converted "
                               f"to Scalar")
        return self.cpu()._data.reshape(()).item()

    def tolist(self):
        return self.cpu()._data.tolist()

    def __float__(self): return float(self.item())
    def __int__(self): return int(self.item())
    def __index__(self):
        if not self.dtype.is_integer:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    def __bool__(self):
        if self._data.size != 1:
            raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
        return bool(self.item())

    def __iter__(self):
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.shape[0]))

    def __reduce_ex__(self, protocol):
        raise TypeError("graphc tensors are not pickled; use graphc.save (a safe format)")

    def __deepcopy__(self, memo):
        """copy.deepcopy of a leaf (a parameter, a state_dict entry): new storage, same flags."""
        if self.grad_fn is not None:
            raise RuntimeError("Only Tensors created explicitly by the user (graph leaves) "
                               "support the deepcopy protocol at the moment")
        t = type(self).__new__(type(self))
        t._init(self.detach().clone()._data)
        t._requires_grad, t._persistent, t.name = self._requires_grad, self._persistent, self.name
        memo[id(self)] = t
        return t

    def detach(self):
        t = Tensor._wrap(self._data)
        t._vc = self._vc
        return t

    def detach_(self):
        self.grad_fn = None
        self._requires_grad = False
        return self

    def clone(self):
        from .. import functional as F
        return F.add(self, F.zeros_like(self)) if self.requires_grad and is_grad_enabled() \
            else Tensor._wrap(self._data.copy() if type(self._data) is np.ndarray
                              else _cuda_eager().memory.clone(self._data))

    def contiguous(self):
        return self

    def cpu(self):
        return self if type(self._data) is np.ndarray else self._to_device("cpu")

    def cuda(self, device=None):
        return self._to_device("cuda" if device is None else device)

    def _to_device(self, device):
        return _cuda_eager().move(self, device)

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        from .autograd import run_backward
        retain = create_graph if retain_graph is None else retain_graph
        if inputs is not None:
            raise NotImplementedError("backward(inputs=...) is not supported; use graphc.autograd.grad")
        run_backward([self], [gradient], retain, create_graph)

    def register_post_accumulate_grad_hook(self, hook):
        """hook(self) runs after backward has accumulated into self.grad (leaves only)."""
        from .hooks import register_post_accumulate_grad_hook
        return register_post_accumulate_grad_hook(self, hook)

    # ---- in-place writes -------------------------------------------------------------------------
    def _check_inplace(self):
        if self.grad_fn is None and self._requires_grad and is_grad_enabled():
            raise RuntimeError("a leaf Variable that requires grad is being used in an in-place "
                               "operation.")

    def _bump(self):
        self._vc[0] += 1

    def __setitem__(self, key, value):
        from .inplace import setitem
        setitem(self, key, value)

    def _inplace(self, result):
        """Write an out-of-place result into this tensor's storage (autograd rules apply)."""
        if Tensor._trace is None:
            self._check_inplace()
        return self._assign(result)

    def _assign(self, value):
        """Overwrite this tensor's storage with `value` (a tensor, array or number), on its
        device, without autograd checks: optimizer steps, running statistics, loading.
        Inside graphc.jit the write becomes an update of the compiled step instead."""
        if Tensor._trace is not None:
            return Tensor._trace.write(self, value)
        if type(self._data) is not np.ndarray:
            _cuda_eager().write(self, value)
        else:
            if isinstance(value, Tensor):
                value = value.cpu()._data
            np.copyto(self._data, value, casting="unsafe")
        self._bump()
        return self

    def add_(self, other, *, alpha=1):
        from .. import functional as F
        return self._inplace(_eager_no_grad(F.add, self, other, alpha=alpha))

    def sub_(self, other, *, alpha=1):
        from .. import functional as F
        return self._inplace(_eager_no_grad(F.sub, self, other, alpha=alpha))

    def mul_(self, other):
        from .. import functional as F
        return self._inplace(_eager_no_grad(F.mul, self, other))

    def div_(self, other):
        from .. import functional as F
        return self._inplace(_eager_no_grad(F.div, self, other))

    def clamp_(self, min=None, max=None):
        from .. import functional as F
        return self._inplace(_eager_no_grad(F.clamp, self, min, max))

    def addcmul_(self, t1, t2, value=1):
        if Tensor._trace is not None or type(self._data) is not np.ndarray:
            return self._inplace(self + value * t1 * t2)
        return self._inplace(self._data + value * np.asarray(t1) * np.asarray(t2))

    def addcdiv_(self, t1, t2, value=1):
        if Tensor._trace is not None or type(self._data) is not np.ndarray:
            return self._inplace(self + value * t1 / t2)
        return self._inplace(self._data + value * np.asarray(t1) / np.asarray(t2))

    def copy_(self, src):
        if Tensor._trace is not None or type(self._data) is not np.ndarray:
            return self._inplace(src)
        return self._inplace(np.broadcast_to(np.asarray(src), self.shape))

    def zero_(self):
        return self._inplace(np.zeros((), self._data.dtype))

    def fill_(self, value):
        return self._inplace(np.asarray(value, self._data.dtype))

    def uniform_(self, a=0.0, b=1.0):
        from .random import generator
        return self._inplace(generator().uniform(a, b, self.shape))

    def normal_(self, mean=0.0, std=1.0):
        from .random import generator
        return self._inplace(generator().normal(mean, std, self.shape))

    def __iadd__(self, o):
        return self.add_(o)

    def __isub__(self, o):
        return self.sub_(o)

    def __imul__(self, o):
        return self.mul_(o)

    def __itruediv__(self, o):
        return self.div_(o)

    # ---- printing ----------------------------------------------------------------------------------
    def __repr__(self):
        body = np.array2string(self.cpu()._data, separator=", ", prefix="tensor(",
                               precision=4, floatmode="maxprec_equal")
        extras = []
        if self.is_cuda:
            extras.append("device='cuda:0'")
        if self.dtype not in (DEFAULT_FLOAT, int64, bool_):
            extras.append(f"dtype={self.dtype!r}")
        if self.grad_fn is not None:
            extras.append(f"grad_fn=<{self.grad_fn.name()}>")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + body + "".join(", " + e for e in extras) + ")"

    __str__ = __repr__


def _eager_no_grad(fn, *args, **kwargs):
    from .grad_mode import no_grad
    with no_grad():
        return fn(*args, **kwargs)


def _to_array(data, dtype=None):
    """Python data / NumPy arrays / tensors -> an ndarray with PyTorch's default dtypes."""
    if isinstance(data, Tensor):
        arr = data._data
    elif isinstance(data, np.ndarray):
        arr = data
    else:
        arr = np.asarray(data)
        if arr.dtype == np.float64 and dtype is None and not isinstance(data, np.generic):
            arr = arr.astype(DEFAULT_FLOAT.np)
        if arr.dtype.kind == "U" or arr.dtype == object:
            raise TypeError(f"could not convert {type(data).__name__} to a tensor of numbers")
    if dtype is not None:
        arr = arr.astype(as_dtype(dtype).np)
    elif arr.dtype.name not in DType._by_name:
        raise TypeError(f"unsupported dtype {arr.dtype}")
    return arr


def ones_like_tensor(t):
    if type(t._data) is not np.ndarray:
        return _cuda_eager().ones(t)
    return Tensor._wrap(np.ones(t.shape, t._data.dtype))


_CUDA = Device("cuda", 0)


def _cuda_eager():
    """CUDA tensors' helpers, imported only once a CUDA tensor exists (no numba.cuda before)."""
    from ..backends import cuda_eager
    return cuda_eager
