"""Eager tensors: PyTorch's names and meaning for the covered subset."""
from __future__ import annotations

import numpy as np

from .. import storage
from ..device import Device, cpu
from ..tensor_methods import TensorMethods
from ..types import DType, DEFAULT_FLOAT, as_dtype, bool_, int64
from .grad_mode import is_grad_enabled


_object_new = object.__new__

# Set by graphc.debug.track_memory while it counts the bytes eager tensors hold.
memory_tracker = None


class Tensor(TensorMethods):
    """An n-dimensional array with optional gradient tracking, eagerly computed."""

    __slots__ = ("_data", "_requires_grad", "grad", "grad_fn", "_vc", "_out_nr", "_base",
                 "_view_version", "_copy_version", "__dict__", "__weakref__")
    # rarely set, so class defaults rather than slots that every new tensor must fill (a
    # tensor that sets one gets an instance __dict__, as a torch.Tensor has one)
    _retains_grad = False  # retain_grad() was called
    _persistent = False    # state a compiled step updates (optimizer moments, buffers)
    _variable = None       # the graph variable bound to this tensor's storage
    name = None
    is_symbolic = False
    _trace = None  # the graphc.jit trace in progress: in-place writes become its updates

    def __init__(self, *args, dtype=None, requires_grad=False):
        """As torch.Tensor: Tensor(*sizes) or Tensor(Size) is an uninitialized float32
        tensor of that shape (zeros here), Tensor(data) copies data as float32, Tensor(t)
        shares t's storage, Tensor() is empty. (dtype= and requires_grad= are graphc's.)"""
        arr = _constructor_array(args, dtype)
        self._init(arr)
        if requires_grad:
            self.requires_grad = True

    def _init(self, arr):
        if memory_tracker is not None:
            memory_tracker.add(arr)
        if Tensor._trace is not None:  # made by code graphc.jit is tracing
            Tensor._trace.born[id(self)] = self
        self._data = arr
        self._requires_grad = False
        self.grad = None
        self.grad_fn = None
        self._vc = [0]
        self._out_nr = 0            # which output of grad_fn this tensor is
        self._base = None           # (base, view op, attrs) when this is a view of base
        self._view_version = 0      # base's version when this view's history was set
        self._copy_version = 0      # a copied (CUDA) view: base's version when copied

    @classmethod
    def _new(cls, arr):
        """Wrap an ndarray: the eager fast path's constructor (_init, inlined; no checks;
        only called while graphc.jit is not tracing)."""
        if memory_tracker is not None:
            memory_tracker.add(arr)
        t = _object_new(cls)
        t._data = arr
        t._requires_grad = False
        t.grad = t.grad_fn = t._base = None
        t._vc = [0]
        t._out_nr = t._view_version = t._copy_version = 0
        return t

    @classmethod
    def _wrap(cls, arr, dtype=None):
        """Wrap an array without copying (a dtype given converts it if it differs)."""
        if cls is Tensor and type(arr) is np.ndarray and dtype is None and \
                Tensor._trace is None:  # the common case: the fast path's constructor
            return cls._new(arr)
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
        t = Tensor._wrap(self._data)
        if Tensor._trace is not None:  # graphc.jit: the same storage, so the same state
            Tensor._trace.alias(t, self)
        return t

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
        from .hooks import retain_grad
        retain_grad(self)

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
        data = self._data
        if data.size != 1:
            raise RuntimeError(f"a Tensor with {data.size} elements cannot be converted "
                               f"to Scalar")
        if type(data) is np.ndarray:
            return data.item()  # (the one element, whatever the shape)
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
        if Tensor._trace is not None:  # graphc.jit: the same storage, so the same state
            Tensor._trace.alias(t, self)
        return t

    def detach_(self):
        self.grad_fn = None
        self._requires_grad = False
        return self

    def clone(self):
        from .. import functional as F
        return F.add(self, F.zeros_like(self)) if self.requires_grad and is_grad_enabled() \
            else Tensor._wrap(storage.clone(self._data))

    def contiguous(self):
        return self

    def cpu(self):
        if type(self._data) is np.ndarray:
            return self
        if self._base is not None and self._base[3] and self._copy_version != self._vc[0]:
            from .tape import sync_copy  # a CUDA view copied before its base changed
            sync_copy(self)
        return self._to_device("cpu")

    def cuda(self, device=None):
        return self._to_device("cuda" if device is None else device)

    def _to_device(self, device):
        from .transfer import move
        return move(self, device)

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        autograd = _autograd()
        if inputs is None:  # (autograd.backward's checks, for one tensor)
            retain = create_graph if retain_graph is None else retain_graph
            autograd.run_backward([self], [gradient], retain, create_graph)
            return
        autograd.backward([self], [gradient], retain_graph, create_graph, inputs)

    def register_hook(self, hook):
        """hook(grad) runs when this tensor's gradient is computed; a tensor it returns
        replaces the gradient. Returns a handle with .remove()."""
        from .hooks import register_hook
        return register_hook(self, hook)

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

    def _assign(self, value):
        """Overwrite this tensor's storage with `value` (a tensor, array or number), on its
        device, without autograd checks: optimizer steps, running statistics, loading.
        Inside graphc.jit the write becomes an update of the compiled step instead."""
        if Tensor._trace is not None:
            return Tensor._trace.write(self, value)
        if isinstance(value, Tensor):
            # into a CPU tensor, a CUDA value comes through cpu() (which re-copies a stale view)
            value = (value.cpu() if type(self._data) is np.ndarray else value)._data
        storage.write(self._data, value)
        self._bump()
        return self

    # In-place methods (add_, mul_, copy_, +=, x[k] = v ...) live in TensorMethods and call
    # _write: eager/inplace.py has the autograd rules; under graphc.jit the write is traced.
    def _write(self, fn, *args, strict_dtype=True, operator=False, **kwargs):
        return _inplace().apply(self, fn, *args, strict_dtype=strict_dtype, **kwargs)

    def __setitem__(self, key, value):
        _inplace().setitem(self, key, value)

    def fill_(self, value):  # (TensorMethods.fill_ plus a fast path for numbers)
        inplace = _inplace()
        if not isinstance(value, Tensor) and Tensor._trace is None \
                and not inplace._recording(self, (), {}):
            inplace.sync(self)
            self._assign(np.asarray(value, self._data.dtype))  # the common fast path
            if self._base is not None:
                inplace._write_back_copies(self)
            return self
        return inplace.apply(self, inplace.filled, value, strict_dtype=False)

    def uniform_(self, a=0.0, b=1.0):
        from .random import generator
        sample = generator().uniform(a, b, self.shape).astype(self._data.dtype)
        return _inplace().apply(self, _inplace().filled, sample, strict_dtype=False)

    def normal_(self, mean=0.0, std=1.0):
        from .random import generator
        sample = generator().normal(mean, std, self.shape).astype(self._data.dtype)
        return _inplace().apply(self, _inplace().filled, sample, strict_dtype=False)

    # ---- printing ----------------------------------------------------------------------------------
    def __repr__(self):
        from .printing import tensor_repr  # PyTorch's number formats and line wrapping
        extras = []
        if self.is_cuda:
            extras.append("device='cuda:0'")
        if self.dtype not in (DEFAULT_FLOAT, int64, bool_):
            extras.append(f"dtype={self.dtype!r}")
        if self.grad_fn is not None:
            extras.append(f"grad_fn=<{self.grad_fn.name()}>")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return tensor_repr(self.cpu()._data, extras)

    __str__ = __repr__


def _inplace():
    from . import inplace
    return inplace


def _autograd():
    global _autograd_module
    if _autograd_module is None:
        from . import autograd
        _autograd_module = autograd
    return _autograd_module


_autograd_module = None


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


def _constructor_array(args, dtype):
    from ..tensor_api import Size
    is_int = lambda a: isinstance(a, (int, np.integer)) and not isinstance(a, (bool, np.bool_))  # noqa: E731
    dtype = DEFAULT_FLOAT if dtype is None else as_dtype(dtype)
    if not args:
        return np.empty((0,), dtype.np)
    if all(is_int(a) for a in args) or (len(args) == 1 and isinstance(args[0], Size)):
        sizes = tuple(int(a) for a in (args[0] if isinstance(args[0], Size) else args))
        if any(n < 0 for n in sizes):
            raise RuntimeError(f"Trying to create tensor with negative dimension: {list(sizes)}")
        return np.zeros(sizes, dtype.np)
    if len(args) > 1:
        raise TypeError(f"new() received an invalid combination of arguments - got "
                        f"({', '.join(type(a).__name__ for a in args)}): expected sizes (ints) "
                        f"or one sequence of data")
    data = args[0]
    if isinstance(data, Tensor):
        return data._data  # shares storage, as torch.Tensor(t)
    if not isinstance(data, (list, tuple, np.ndarray)):
        raise TypeError(f"new(): data must be a sequence (got {type(data).__name__})")
    return _to_array(data, dtype)


def ones_like_tensor(t):
    return Tensor._wrap(storage.ones_like(t._data))


_CUDA = Device("cuda", 0)

