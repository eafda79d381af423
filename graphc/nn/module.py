"""Module: the base class of layers, with PyTorch's API.

A module's `forward` calls graphc functions, so calling it on eager tensors runs at once and
calling it on symbolic values builds graph nodes that read the same parameter storage.
State that a symbolic forward wants to write (BatchNorm running statistics) is recorded with
`record_update` and handed to `graphc.compile(..., updates=...)` by `buffer_updates()`.
"""
from __future__ import annotations

from collections import OrderedDict, namedtuple

import numpy as np

from ..dispatch import variable_of
from ..eager.grad_mode import no_grad
from ..eager.tensor import Tensor
from ..ir.graph import Value, current_scope, name_scope
from ..ops import leaves
from ..types import as_dtype
from .module_hooks import (GLOBAL, HookMixin, RemovableHandle,  # noqa: F401 (torch's names)
                           register_module_backward_hook, register_module_buffer_registration_hook,
                           register_module_forward_hook, register_module_forward_pre_hook,
                           register_module_full_backward_hook,
                           register_module_full_backward_pre_hook,
                           register_module_module_registration_hook,
                           register_module_parameter_registration_hook)
from .module_files import ModuleFiles
from .parameter import Buffer, Parameter, mark_buffer

IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])
_ABSENT = object()
_NO_TABLE: dict = {}


def _any_symbolic(args, kwargs):
    for x in args:
        if type(x) is not Tensor and _symbolic(x):  # (eager tensors, the common case, first)
            return True
    return bool(kwargs) and _symbolic(tuple(kwargs.values()))


def _symbolic(x):
    if isinstance(x, Value):
        return True
    if isinstance(x, (tuple, list)):
        return any(_symbolic(y) for y in x)
    return False


def _buffer_tensor(value):
    """The tensor a symbolic buffer stands for: its variable's storage or, inside graphc.jit
    after an in-place write to it (DistributedDataParallel's broadcast), the written tensor."""
    if value.node.op is leaves.variable:
        return value.node.attrs["storage"]
    if value.node.op.name == "broadcast" and value.node.inputs[0].node.op.name == "variable":
        return value.node.inputs[0].node.attrs["storage"]  # a DDP model's static forward
    trace = Tensor._trace
    for key, current in (trace.current.items() if trace is not None else ()):
        if current is value:
            return trace.written[key]
    raise TypeError(f"record_update: {value!r} is not a buffer's value")


class Module(HookMixin, ModuleFiles):
    """Base class of all layers: holds parameters, buffers and submodules by attribute."""

    training: bool
    _graphc_loadable = True  # graphc.load may rebuild modules (serialization/safe_globals.py)

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_pending_updates", OrderedDict())
        object.__setattr__(self, "training", True)

    # ---- calling ------------------------------------------------------------------------------
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} has no forward()")

    def __call__(self, *args, **kwargs):
        if Tensor._trace is None and not kwargs:
            for x in args:
                if type(x) is not Tensor and _symbolic(x):
                    break
            else:  # eager positional arguments, the common call: decided without the checks below
                return self._eager_call(args, kwargs)
        symbolic = _any_symbolic(args, kwargs)
        if Tensor._trace is not None:  # graphc.jit: the trace holds for these .training modes
            Tensor._trace.guard_modules(self.modules())
        if symbolic or Tensor._trace is not None:
            self._refuse_backward_hooks()
        if not symbolic:
            return self._eager_call(args, kwargs)
        return self._symbolic_call(args, kwargs)

    def _eager_call(self, args, kwargs):
        """forward on eager values, parameters named once (tapes show 'fc1.weight', as
        torchviz does)."""
        if "_state_named" not in self.__dict__:
            self._name_state()
            object.__setattr__(self, "_state_named", True)
        return self._forward_with_hooks(args, kwargs)

    def _symbolic_call(self, args, kwargs):
        # Symbolic forward: parameters and buffers read as their graph variables, so that
        # even arithmetic on parameters alone (weight.t(), b_ih + b_hh) lands in the graph.
        self._name_state()
        mods = list(self.modules())
        before = [m.__dict__.get("_symbolic", False) for m in mods]
        for m in mods:
            object.__setattr__(m, "_symbolic", True)
        if current_scope() is None:  # the outermost module names the scopes of all inside it
            root = type(self).__name__
            for name, m in self.named_modules():
                object.__setattr__(m, "_scope", f"{root}.{name}" if name else root)
        try:
            with name_scope(self.__dict__.get("_scope") or type(self).__name__):
                return self._forward_with_hooks(args, kwargs)
        finally:
            for m, flag in zip(mods, before):
                object.__setattr__(m, "_symbolic", flag)

    def _name_state(self):
        """Give parameters and buffers their qualified names before they become graph
        variables, so compiled graphs read 'fc1.weight' rather than an anonymous id."""
        for name, t in list(self.named_parameters()) + list(self.named_buffers()):
            if t._variable is None and t.name is None:
                t.name = name

    # ---- registration ---------------------------------------------------------------------------
    def __setattr__(self, name, value):
        params = self.__dict__.get("_parameters")
        parametrizations = self.__dict__.get("_modules", {}).get("parametrizations")
        if parametrizations is not None and name in parametrizations:
            parametrizations[name].right_inverse_(value)
            return
        if isinstance(value, Buffer):  # torch.nn.Buffer: a buffer by assignment
            plain = Tensor._wrap(value._data)
            self.register_buffer(name, plain, persistent=value.__dict__.get("persistent", True))
            return
        if isinstance(value, Parameter):
            if params is None:
                raise AttributeError("cannot assign parameters before Module.__init__() call")
            self.__dict__.pop(name, None)
            self._modules.pop(name, None)
            self._buffers.pop(name, None)
            params[name] = GLOBAL.registered("parameter", self, name, value)
        elif isinstance(value, Module):
            if params is None:
                raise AttributeError("cannot assign modules before Module.__init__() call")
            self.__dict__.pop(name, None)
            params.pop(name, None)
            self._modules[name] = GLOBAL.registered("module", self, name, value)
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} as parameter {name!r} "
                                f"(graphc.nn.Parameter or None expected)")
            params[name] = None  # (no registration hooks for None, as PyTorch's)
        elif params is not None and name in self._buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign {type(value).__name__} as buffer {name!r}")
            value = GLOBAL.registered("buffer", self, name, value)
            self._buffers[name] = mark_buffer(value) if value is not None else None
        elif params is not None and name in self._modules and value is None:
            self._modules[name] = GLOBAL.registered("module", self, name, None)
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name):
        # (one .get per table: Linear.forward reads two parameters through here each call)
        d = self.__dict__
        t = d.get("_parameters", _NO_TABLE).get(name, _ABSENT)
        if t is _ABSENT:
            t = d.get("_buffers", _NO_TABLE).get(name, _ABSENT)
        if t is not _ABSENT:
            return variable_of(t) if t is not None and d.get("_symbolic") else t
        modules = d.get("_modules", _NO_TABLE)
        if name in modules:
            return modules[name]
        parametrizations = modules.get("parametrizations")
        if parametrizations is not None and name in parametrizations:
            return parametrizations[name]()  # nn.utils.parametrize: computed on each access
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        for table in (self._parameters, self._buffers, self._modules):
            if name in table:
                del table[name]
                return
        object.__delattr__(self, name)

    def register_parameter(self, name, param):
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter: {name!r} must be a Parameter or None")
        if param is not None:  # (PyTorch runs the registration hooks for a parameter only)
            param = GLOBAL.registered("parameter", self, name, param)
        self._parameters[name] = param

    def register_buffer(self, name, tensor, persistent=True):
        """A tensor that is state but not trained (running statistics). It becomes a graph
        variable; persistent=False leaves it out of state_dict()."""
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"register_buffer: {name!r} must be a Tensor or None")
        tensor = GLOBAL.registered("buffer", self, name, tensor)
        self._buffers[name] = mark_buffer(tensor) if tensor is not None else None
        if not persistent:
            self._non_persistent.add(name)

    def add_module(self, name, module):
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: {name!r} is a {type(module).__name__}, not a Module")
        self._modules[name] = GLOBAL.registered("module", self, name, module)

    register_module = add_module

    def get_parameter(self, target):
        module_path, _, name = target.rpartition(".")
        mod = self.get_submodule(module_path)
        if name not in mod._parameters:
            raise AttributeError(f"{type(mod).__name__} has no parameter {name!r}")
        return mod._parameters[name]

    def get_buffer(self, target):
        module_path, _, name = target.rpartition(".")
        mod = self.get_submodule(module_path)
        if name not in mod._buffers:
            raise AttributeError(f"{type(mod).__name__} has no buffer {name!r}")
        return mod._buffers[name]

    def get_submodule(self, target):
        mod = self
        for part in filter(None, target.split(".")):
            if part not in mod._modules:
                raise AttributeError(f"{type(mod).__name__} has no submodule {part!r}")
            mod = mod._modules[part]
        return mod

    # ---- traversal ---------------------------------------------------------------------------------
    def named_modules(self, memo=None, prefix=""):
        memo = set() if memo is None else memo
        if id(self) in memo:
            return
        memo.add(id(self))
        yield prefix, self
        for name, m in self._modules.items():
            if m is not None:
                yield from m.named_modules(memo, f"{prefix}.{name}" if prefix else name)

    def modules(self):
        for _, m in self.named_modules():
            yield m

    def named_children(self):
        for name, m in self._modules.items():
            if m is not None:
                yield name, m

    def children(self):
        for _, m in self.named_children():
            yield m

    def _named(self, table, recurse=True, prefix=""):
        seen = set()
        mods = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        for mod_prefix, mod in mods:
            for name, t in getattr(mod, table).items():
                if t is None or id(t) in seen:
                    continue
                seen.add(id(t))
                yield (f"{mod_prefix}.{name}" if mod_prefix else name), t

    def named_parameters(self, prefix="", recurse=True):
        return self._named("_parameters", recurse, prefix)

    def parameters(self, recurse=True):
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix="", recurse=True):
        return self._named("_buffers", recurse, prefix)

    def buffers(self, recurse=True):
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    # ---- modes and gradients ------------------------------------------------------------------------
    def train(self, mode=True):
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self):
        return self.train(False)

    def requires_grad_(self, requires_grad=True):
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none=True):
        params = list(self.parameters())
        if set_to_none and Tensor._trace is not None:  # graphc.jit: no guard on these .grad
            Tensor._trace.grads_cleared(params)
        for p in params:
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad.zero_()  # (traced by graphc.jit, unlike a write to its storage)

    def apply(self, fn):
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    # ---- symbolic state updates -------------------------------------------------------------------
    def record_update(self, buffer: Tensor, new_value):
        """Remember that a symbolic forward computed `new_value` for `buffer` (a tensor, or
        the graph variable a symbolic forward reads it as)."""
        if isinstance(buffer, Value):
            buffer = _buffer_tensor(buffer)
        if Tensor._trace is not None:  # inside graphc.jit: the write is part of the traced step
            buffer._assign(new_value)
            return
        self._pending_updates[id(buffer)] = (buffer, new_value)

    def buffer_updates(self):
        """{buffer: new symbolic value} from the latest symbolic forward in training mode
        (BatchNorm running statistics, the dropout seed), for graphc.compile(updates=...).
        Pass them with the optimizer's: updates={**opt.updates(loss), **model.buffer_updates()}."""
        out = {}
        for m in self.modules():
            for buffer, value in m._pending_updates.values():
                out[buffer] = value
        return out

    # ---- dtype/device moves ------------------------------------------------------------------------------
    def _apply_to_tensors(self, convert):
        for m in self.modules():
            for table in (m._parameters, m._buffers):
                for t in table.values():
                    if t is not None:
                        new = convert(t._data)
                        if new is not t._data:
                            t._data, t._variable = new, None  # old graph variables are stale
                            if t.grad is not None:
                                t.grad._data = convert(t.grad._data)
        return self

    def to(self, *args, **kwargs):
        """to(dtype), to(device) or to(device, dtype): floating state is converted in place."""
        dtype = kwargs.get("dtype")
        for a in list(args) + [kwargs.get("device")]:
            if a is None:
                continue
            try:
                dtype = as_dtype(a)
            except TypeError:
                self._move_to(a)
        if dtype is None:
            return self
        target = as_dtype(dtype).np
        return self._apply_to_tensors(
            lambda a: a.astype(target) if a.dtype.kind == "f" and a.dtype != target else a)

    def _place(self, device):
        """Honour a constructor's device= argument, or else the default device
        (graphc.set_default_device), as PyTorch's factory functions do."""
        if device is None:
            from ..device import default_device
            device = default_device()
        if device is not None:
            self.to(device)
        return self

    def _move_to(self, device):
        """Parameters and buffers (and their grads) to `device`, in place, as torch does."""
        from ..device import Device
        if Device(device).type == "cpu" and all(
                type(t._data) is np.ndarray for t in self._state_tensors()):
            return self
        from .. import storage  # (moving to CUDA raises if it is not available)
        return self._apply_to_tensors(lambda a: storage.move(a, device))

    def _state_tensors(self):
        return [t for m in self.modules() for table in (m._parameters, m._buffers)
                for t in table.values() if t is not None]

    def cpu(self):
        return self._move_to("cpu")

    def cuda(self, device=None):
        return self._move_to("cuda")

    def float(self):
        return self.to(as_dtype("float32"))

    def double(self):
        return self.to(as_dtype("float64"))

    def half(self):
        return self.to(as_dtype("float16"))

    # ---- state dicts ------------------------------------------------------------------------------
    def state_dict(self, destination=None, prefix="", keep_vars=False):
        """Parameters and persistent buffers by qualified name (tensors sharing storage)."""
        out = OrderedDict() if destination is None else destination
        for mod_prefix, mod in self.named_modules(prefix=prefix.rstrip(".")):
            for table, skip in ((mod._parameters, ()), (mod._buffers, mod._non_persistent)):
                for name, t in table.items():
                    if t is None or name in skip:
                        continue
                    key = f"{mod_prefix}.{name}" if mod_prefix else name
                    out[key] = t if keep_vars else t.detach()
        return out

    def load_state_dict(self, state_dict, strict=True, assign=False):
        """Copy values from `state_dict` into this module's storage (shapes must match)."""
        own = self.state_dict(keep_vars=True)
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        if strict and (missing or unexpected):
            parts = []
            if missing:
                parts.append("missing key(s): " + ", ".join(repr(k) for k in missing))
            if unexpected:
                parts.append("unexpected key(s): " + ", ".join(repr(k) for k in unexpected))
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}: "
                               + "; ".join(parts))
        for key, target in own.items():
            if key not in state_dict:
                continue
            value = state_dict[key]
            arr = value._data if isinstance(value, Tensor) else np.asarray(value)
            if tuple(arr.shape) != tuple(target.shape):
                raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}: "
                                   f"size mismatch for {key}: copying a param with shape "
                                   f"{list(arr.shape)}, the shape in the current model is "
                                   f"{list(target.shape)}")
            with no_grad():
                target._assign(arr)
        return IncompatibleKeys(missing, unexpected)

    # ---- printing -----------------------------------------------------------------------------------
    def extra_repr(self):
        return ""

    def __repr__(self):
        """PyTorch's layout: a one-line extra_repr stays inline when there are no children."""
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [f"({name}): " + body.replace("\n", "\n  ")
                       for name, body in self._child_reprs()]
        lines = extra_lines + child_lines
        if not lines:
            return f"{type(self).__name__}()"
        if len(extra_lines) == 1 and not child_lines:
            return f"{type(self).__name__}({extra_lines[0]})"
        return f"{type(self).__name__}(\n  " + "\n  ".join(lines) + "\n)"

    def _child_reprs(self):
        """(label, repr) of each child module, for __repr__."""
        return [(name, repr(m)) for name, m in self._modules.items()]

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self._parameters) | set(self._buffers)
                      | set(self._modules))
