"""AdaptiveLogSoftmaxWithLoss (Grave et al., 2016): a softmax over many classes split into a
frequent shortlist (in the head) and clusters (each a small two-layer tail).

PyTorch runs each tail only on the rows whose target falls in its cluster (rows picked with
nonzero(), a data-dependent size). Here every tail runs on every row and each row then takes
its own cluster's value (`where`), so the same code builds a static graph; the values and
gradients are PyTorch's (a row's gradient never reaches another cluster's tail), at the cost
of computing the tails for all rows. Targets out of range raise on eager tensors; on symbolic
values they cannot be checked (the gather of the head's log-probabilities goes out of range).
"""
from __future__ import annotations

from collections import namedtuple

from .. import functional as G
from ..indexing import gather, narrow, select
from ..ir.graph import Value
from . import functional as F
from .containers import ModuleList, Sequential
from .linear import Linear
from .module import Module

_ASMoutput = namedtuple("_ASMoutput", ["output", "loss"])


class AdaptiveLogSoftmaxWithLoss(Module):
    def __init__(self, in_features, n_classes, cutoffs, div_value=4.0, head_bias=False,
                 device=None, dtype=None):
        super().__init__()
        cutoffs = list(cutoffs)
        if len(cutoffs) == 0:
            raise ValueError("cutoffs should be a sequence of length larger than 0")
        if cutoffs != sorted(cutoffs) or min(cutoffs) <= 0 or max(cutoffs) > n_classes - 1 \
                or len(set(cutoffs)) != len(cutoffs) or any(int(c) != c for c in cutoffs):
            raise ValueError("cutoffs should be a sequence of unique, positive integers sorted "
                             "in an increasing order, where each value is between 1 and "
                             "n_classes-1")
        self.in_features, self.n_classes = in_features, n_classes
        self.cutoffs = cutoffs + [n_classes]
        self.div_value, self.head_bias = div_value, head_bias
        self.shortlist_size = self.cutoffs[0]
        self.n_clusters = len(self.cutoffs) - 1
        self.head_size = self.shortlist_size + self.n_clusters
        self.head = Linear(in_features, self.head_size, bias=head_bias, dtype=dtype)
        self.tail = ModuleList()
        for i in range(self.n_clusters):
            hsz = int(in_features // (div_value ** (i + 1)))
            osz = self.cutoffs[i + 1] - self.cutoffs[i]
            self.tail.append(Sequential(Linear(in_features, hsz, bias=False, dtype=dtype),
                                        Linear(hsz, osz, bias=False, dtype=dtype)))
        self._place(device)

    def reset_parameters(self):
        self.head.reset_parameters()
        for i2h, h2o in self.tail:
            i2h.reset_parameters()
            h2o.reset_parameters()

    def forward(self, input_, target_):
        if target_.ndim == 1:
            if input_.shape[0] != target_.shape[0]:
                raise RuntimeError("Input and target should have the same size in the batch "
                                   "dimension.")
            if input_.ndim != 2:
                raise RuntimeError(f"1D target tensor expects 2D input tensors, but found "
                                   f"inputs with size {list(input_.shape)}")
        elif target_.ndim == 0:
            if input_.ndim != 1:
                raise RuntimeError(f"0D target tensor expects 1D input tensors, but found "
                                   f"inputs with size {list(input_.shape)}")
        else:
            raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
        batched = target_.ndim > 0
        input = input_ if batched else G.unsqueeze(input_, 0)
        target = target_ if batched else G.unsqueeze(target_, 0)
        if not isinstance(target, Value):
            t = target.detach().cpu().numpy()
            if t.size and (t.min() < 0 or t.max() >= self.n_classes):
                raise RuntimeError(f"Target values should be in [0, {self.n_classes - 1}], but "
                                   f"values in range [{t.min()}, {t.max()}] were found. ")
        output = G.zeros_like(select(input, 1, 0))
        gather_inds = target
        for i in range(1, len(self.cutoffs)):
            low, high = self.cutoffs[i - 1], self.cutoffs[i]
            in_cluster = G.logical_and(G.ge(target, low), G.lt(target, high))
            gather_inds = G.where(in_cluster, self.shortlist_size + i - 1, gather_inds)
            relative = G.clamp(G.sub(target, low), 0, high - low - 1)  # (rows of others: unused)
            cluster_logprob = F.log_softmax(self.tail[i - 1](input), dim=1)
            local = G.squeeze(gather(cluster_logprob, 1, G.unsqueeze(relative, 1)), 1)
            output = G.where(in_cluster, local, output)
        head_logprob = F.log_softmax(self.head(input), dim=1)
        output = G.add(output, G.squeeze(gather(head_logprob, 1, G.unsqueeze(gather_inds, 1)),
                                         1))
        loss = G.mean(G.neg(output))
        return _ASMoutput(output if batched else G.squeeze(output, 0), loss)

    def _get_full_log_prob(self, input, head_output):
        head_logprob = F.log_softmax(head_output, dim=1)
        parts = [narrow(head_logprob, 1, 0, self.shortlist_size)]
        for i in range(self.n_clusters):
            cluster_logprob = F.log_softmax(self.tail[i](input), dim=1)
            parts.append(G.add(cluster_logprob,
                               narrow(head_logprob, 1, self.shortlist_size + i, 1)))
        return G.cat(parts, dim=1)

    def log_prob(self, input):
        """Log-probabilities of all n_classes classes: (N, n_classes)."""
        return self._get_full_log_prob(input, self.head(input))

    def predict(self, input):
        """The most likely class of each row: the head's choice when it is a shortlist class,
        else the argmax of the full log-probabilities (PyTorch's rule)."""
        head_output = self.head(input)
        choice = G.argmax(head_output, dim=1)
        full = G.argmax(self._get_full_log_prob(input, head_output), dim=1)
        return G.where(G.lt(choice, self.shortlist_size), choice, full)
