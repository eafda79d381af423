"""DistributedDataParallel: every rank trains a replica; gradients are averaged across ranks.

Eager training: gradients are grouped into buckets (per dtype, in the reverse order of
`parameters()`, which is roughly the order backward produces them, up to `bucket_cap_mb`).
A post-accumulate-grad hook on each parameter notes when its gradient is final; when a
bucket is complete it is copied into one flat buffer and its allreduce starts (non-blocking)
while backward goes on. At the end of backward every pending allreduce is waited for and the
averaged gradients are written back into `.grad`.

Compiled training (graphc.jit of a step that calls this model and `loss.backward()`): the
symbolic gradient of each parameter is averaged by an `all_reduce` node, so an optimizer
traced after backward reads averaged gradients; buffers are read through `broadcast` nodes
(rank 0's values, as in eager). In a graph built on placeholders (graphc.compile of
`opt.updates(loss)`), the model reads each parameter through `_MeanGradient`, whose
gradient is that same average. graphc.compile groups the all_reduces into buckets of up to
`bucket_cap_mb` that overlap backward (graphc/distributed/compiled.py).
"""
from __future__ import annotations

import contextlib
import weakref

import numpy as np

from ... import distributed as dist
from ...distributed.collectives import average_symbolic_grads
from ...distributed.process_group import _check_group, _require
from ...eager.hooks import queue_callback
from ...eager.tensor import Tensor
from ...errors import UnsupportedError
from ...ir import graph as graph_module
from ...autograd.function import Function
from ...dispatch import variable_node
from ...ops import collective
from ...ops.collective import all_reduce as all_reduce_op, broadcast as broadcast_op, \
    bucket_caps
from ..module import Module


class _Bucket:
    """Parameters whose gradients are averaged by one allreduce on one flat buffer.

    The buffer ends with one flag per parameter (1 where this rank has a gradient), summed
    with the gradients: a parameter no rank computed a gradient for keeps `.grad` None, as
    in PyTorch, instead of getting zeros. It is reduced as compiled steps' buckets are
    (graphc/ops/collective.py's start/finish): on one machine in place, in shared memory.
    """

    def __init__(self, params):
        self.params = params
        self.dtype = params[0]._data.dtype
        sizes = [p._data.size for p in params]
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(int).tolist()
        size = self.offsets[-1] + len(params)
        shared = collective.shared_arena(size, self.dtype)
        self.flat = shared if shared is not None else np.zeros(size, self.dtype)
        self.used = self.flat[self.offsets[-1]:]
        self.ready = set()
        self.request = None

    def view(self, i):
        p = self.params[i]
        return self.flat[self.offsets[i]:self.offsets[i + 1]].reshape(p._data.shape)

    def launch(self):
        """Copy the gradients into the flat buffer and start its allreduce."""
        for i, p in enumerate(self.params):
            view = self.view(i)
            self.used[i] = p.grad is not None
            if p.grad is None:
                view[...] = 0  # unused on this rank: it contributes zero, as in PyTorch
            elif p.grad._data is not view and not np.shares_memory(p.grad._data, view):
                np.copyto(view, p.grad._data)
        _require()  # (DistributedError when the process group is gone)
        self.request = collective.start_allreduce(self.flat)

    def progress(self):
        collective.progress_allreduce(self.request)

    def finish(self, as_view):
        collective.finish_allreduce(self.request, self.flat, True)  # the mean
        self.request = None
        self.ready.clear()
        for i, p in enumerate(self.params):
            if self.used[i] == 0:
                continue  # no rank has a gradient for it
            view = self.view(i)
            if as_view:
                if p.grad is None or p.grad._data is not view:
                    p.grad = Tensor._wrap(view)
            elif p.grad is None:
                p.grad = Tensor._wrap(view.copy())
            else:
                np.copyto(p.grad._data, view)


def _buckets(params, bucket_cap_mb):
    """Buckets in the reverse order of `params`, one dtype each, up to bucket_caps' bytes
    (the first bucket of a dtype 1 MiB and later ones 25 MiB by default, as PyTorch)."""
    first, later = bucket_caps(bucket_cap_mb)
    buckets, open_by_dtype = [], {}  # dtype -> [params, bytes, cap] of its open bucket
    for p in reversed(params):
        key = p._data.dtype.str
        current = open_by_dtype.get(key)
        if current is None or current[1] + p._data.nbytes > current[2] and current[0]:
            current = open_by_dtype[key] = [[], 0, first if current is None else later]
            buckets.append(current[0])
        current[0].append(p)
        current[1] += p._data.nbytes
    return [_Bucket(b) for b in buckets]


class _MeanGradient(Function):
    """A parameter as the DDP model's static forward reads it: the same value; its gradient
    is the mean over the ranks (one all_reduce node, bucketed by the compiler)."""

    @staticmethod
    def forward(ctx, value, bucket_cap_mb):
        ctx.bucket_cap_mb = bucket_cap_mb
        return value

    @staticmethod
    def backward(ctx, grad):
        return all_reduce_op(grad, reduce="mean", bucket_cap_mb=ctx.bucket_cap_mb), None


def _weak_method(obj, name):
    ref = weakref.ref(obj)

    def call(*args):
        target = ref()
        if target is not None:
            getattr(target, name)(*args)
    return call


class DistributedDataParallel(Module):
    """Data-parallel training of `module`: one replica per rank (PyTorch's name and meaning).

    At construction the parameters and buffers of rank 0 are broadcast to every rank. After
    each `backward()` the parameters' gradients are the average over ranks; `no_sync()`
    skips that (gradients accumulate locally until the next synchronized backward).
    bucket_cap_mb: the most MiB per allreduce bucket, eager and compiled (None: PyTorch's
    default, 25 MiB after a 1 MiB first bucket; GRAPHC_BUCKET_MB overrides it).
    Unsupported PyTorch arguments (device_ids, dim != 0, other process groups) raise.
    find_unused_parameters makes no difference: a parameter without a gradient on a rank
    always contributes zeros; static_graph and check_reduction are hints PyTorch itself
    needs for speed or ignores, accepted for compatibility.
    """

    def __init__(self, module, device_ids=None, output_device=None, dim=0,
                 broadcast_buffers=True, process_group=None, bucket_cap_mb=None,
                 find_unused_parameters=False, check_reduction=False,
                 gradient_as_bucket_view=False, static_graph=False):
        super().__init__()
        if device_ids or output_device is not None:
            raise UnsupportedError("DistributedDataParallel: device_ids and output_device are "
                                   "not supported (graphc's MPI backend trains CPU modules; "
                                   "leave them None, as PyTorch requires for CPU modules)")
        if dim != 0:
            raise UnsupportedError(f"DistributedDataParallel: dim={dim}: only dim=0 (the "
                                   f"batch is split by the data loader, not scattered)")
        _check_group(process_group)
        if not dist.is_initialized():
            raise dist.DistributedError("DistributedDataParallel: call graphc.distributed."
                                        "init_process_group() first")
        self.module = module
        self.broadcast_buffers = broadcast_buffers
        self.find_unused_parameters = find_unused_parameters  # unused grads count as zero
        self.gradient_as_bucket_view = gradient_as_bucket_view
        self.require_backward_grad_sync = True
        bucket_caps(bucket_cap_mb)  # a positive number, or None
        self.bucket_cap_mb = bucket_cap_mb  # None: PyTorch's default (1 MiB first, then 25)
        object.__setattr__(self, "_world_size", dist.get_world_size())
        params, seen = [], set()
        for p in module.parameters():
            if p.requires_grad and id(p) not in seen:
                seen.add(id(p))
                params.append(p)
        object.__setattr__(self, "_params", params)
        self._sync_module_states()
        buckets = _buckets(params, bucket_cap_mb)
        object.__setattr__(self, "_buckets", buckets)
        object.__setattr__(self, "_bucket_of", {id(p): (b, i) for b in buckets
                                                for i, p in enumerate(b.params)})
        object.__setattr__(self, "_backward_pending", False)
        object.__setattr__(self, "_launched", 0)  # buckets started in this backward, in order
        hook = _weak_method(self, "_grad_ready")  # the hooks must not keep the model alive
        # (not "_hooks": Module keeps its forward hooks there)
        object.__setattr__(self, "_grad_hook_handles",
                           [p.register_post_accumulate_grad_hook(hook) for p in params])

    # ---- construction: every replica starts from rank 0's state ---------------------------
    def _sync_module_states(self):
        if self._world_size == 1:
            return
        for t in list(self.module.parameters()) + list(self.module.buffers()):
            dist.broadcast(t, src=0)

    # ---- forward ----------------------------------------------------------------------------
    def forward(self, *args, **kwargs):
        if Tensor._trace is not None:
            self._prepare_trace()
        elif self.__dict__.get("_symbolic"):
            return self._forward_static(args, kwargs)
        elif self.broadcast_buffers and self._world_size > 1 and self.training:
            for b in self.module.buffers():  # as PyTorch: rank 0's running statistics win
                dist.broadcast(b, src=0)
        return self.module(*args, **kwargs)

    @contextlib.contextmanager
    def no_sync(self):
        """Gradients of backward passes inside accumulate locally, without communication."""
        before = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = before

    # ---- eager: bucketed allreduce driven by gradient hooks ---------------------------------
    def _grad_ready(self, param):
        if not self.require_backward_grad_sync or Tensor._trace is not None:
            return
        if not self._backward_pending:
            object.__setattr__(self, "_backward_pending", True)
            queue_callback(self._finish_backward)
        bucket, _ = self._bucket_of[id(param)]
        bucket.ready.add(id(param))
        # Buckets start in their order only: every rank must start its collectives in the same
        # order, even when a rank's backward skips parameters (their buckets wait for the end).
        buckets, launched = self._buckets, self._launched
        while launched < len(buckets) and len(buckets[launched].ready) == \
                len(buckets[launched].params):
            buckets[launched].launch()
            launched += 1
        object.__setattr__(self, "_launched", launched)
        for b in buckets[:launched]:  # MPI progresses only inside MPI calls: poke them
            b.progress()

    def _finish_backward(self):
        object.__setattr__(self, "_backward_pending", False)
        for bucket in self._buckets[self._launched:]:  # parameters not reached count as zero
            bucket.launch()
        object.__setattr__(self, "_launched", 0)
        for bucket in self._buckets:
            bucket.finish(self.gradient_as_bucket_view)

    # ---- compiled: gradients averaged by all_reduce nodes of the traced step ----------------
    def _prepare_trace(self):
        trace = Tensor._trace
        if not self.require_backward_grad_sync:
            raise UnsupportedError(
                "DistributedDataParallel.no_sync() while tracing a compiled step: the compiled "
                "step would never communicate. Compile the accumulation steps with the "
                "wrapped model (ddp.module) and the last micro-batch with the DDP model")
        sync_buffers = self.broadcast_buffers and self._world_size > 1 and self.training \
            and any(True for _ in self.module.buffers())
        hooked = trace.__dict__.setdefault("ddp_models", set())
        if id(self) in hooked:
            if sync_buffers:
                raise UnsupportedError(
                    "DistributedDataParallel called twice in one compiled step with "
                    "broadcast_buffers=True: the second forward would need rank 0's buffers "
                    "as updated by the first, computed inside the step. Use "
                    "broadcast_buffers=False, or one forward per compiled step")
            return
        hooked.add(id(self))
        if sync_buffers:  # as eager: rank 0's statistics at the start of the forward
            for b in self.module.buffers():
                trace.write(b, broadcast_op(trace.read(b), src=0))
        traced_backward = graph_module.trace_backward

        def backward_then_average(loss, gradient):
            traced_backward(loss, gradient)
            self._average_symbolic_grads()
        graph_module.trace_backward = backward_then_average

    def _average_symbolic_grads(self):
        average_symbolic_grads(self._params, "DistributedDataParallel", self.bucket_cap_mb)

    # ---- static graphs: graphc.compile(loss, inputs, updates=opt.updates(loss)) -----------------
    def _forward_static(self, args, kwargs):
        """The wrapped module on symbolic inputs, reading each parameter through
        `_MeanGradient` (the value itself; its gradient averaged over the ranks by an
        all_reduce node) and, with broadcast_buffers, each buffer through a `broadcast` from
        rank 0: graphc.grad, an optimizer's updates(loss) and graphc.compile then build the
        same step as graphc.jit does for this model."""
        if not self.require_backward_grad_sync:
            raise UnsupportedError(
                "DistributedDataParallel.no_sync() in a static graph: the compiled step would "
                "never communicate. Build the accumulation steps with the wrapped model "
                "(ddp.module) and the last micro-batch with the DDP model")
        reads = [(p, _MeanGradient.apply(variable_node(p), self.bucket_cap_mb))
                 for p in self._params]
        if self.broadcast_buffers and self._world_size > 1 and self.training:
            reads += [(b, broadcast_op(variable_node(b), src=0)) for b in self.module.buffers()]
        saved = [(t, t._variable) for t, _ in reads]
        try:
            for t, value in reads:  # what the module's forward reads for t (dispatch.variable_of)
                t._variable = value
            return self.module(*args, **kwargs)
        finally:
            for t, variable in saved:
                t._variable = variable

    def extra_repr(self):
        return f"world_size={self._world_size}, buckets={len(self._buckets)}"
