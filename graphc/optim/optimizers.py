"""SGD, Adagrad, Adadelta, RMSprop, Adam, AdamW, SparseAdam, NAdam, RAdam, Adamax, Rprop and
ASGD:
hyperparameters and state; the arithmetic is in rules.py.

PyTorch's `foreach` and `fused` choose among implementations of the same arithmetic, and
they do here (kept per group, as PyTorch's): the group's update as one compiled call
(`fused=True`, or by default where it applies) or op by op (`foreach=False`, `fused=False`);
see compiled_step.py. `capturable` (CUDA graph capture) is accepted and has no effect.
`differentiable=True` (gradients through the step itself) is not supported and raises.
"""
from __future__ import annotations

import numpy as np

from ..errors import UnsupportedError
from . import rules
from .optimizer import Optimizer, required

STEP = np.zeros(())  # a 0-d state entry (a step counter); floats fill arrays shaped like p


def _check(name, value, low=0.0):
    if value is not required and not value >= low:
        raise ValueError(f"Invalid {name}: {value}")


def _not_differentiable(optimizer, differentiable):
    if differentiable:
        raise UnsupportedError(f"{optimizer}: differentiable=True (autograd through the "
                               f"optimizer step) is not supported")


def _choice(foreach, **fused):
    """PyTorch's implementation arguments (`fused` where PyTorch has it), kept in each group
    as PyTorch's are: compiled_step.py reads them."""
    if foreach and fused.get("fused"):
        raise RuntimeError("`fused` and `foreach` cannot be `True` together.")
    return {"foreach": foreach, **fused}


def _check_betas(betas):
    for i, b in enumerate(betas):
        if not 0.0 <= b < 1.0:
            raise ValueError(f"Invalid beta parameter at index {i}: {b}")


class SGD(Optimizer):
    compiled_rule = True

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0,
                 nesterov=False, *, maximize=False, foreach=None, differentiable=False,
                 fused=None):
        _not_differentiable("SGD", differentiable)
        for name, v in (("learning rate", lr), ("momentum value", momentum),
                        ("weight_decay value", weight_decay)):
            _check(name, v)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov,
                                      maximize=maximize,
                                      **_choice(foreach, fused=fused)))

    def init_state(self, p, group):
        return {"momentum_buffer": 0.0, "step": STEP} if group["momentum"] else {}

    def rule(self, p, g, state, lr, group):
        return rules.sgd(p, g, state, lr, group["momentum"], group["dampening"],
                         group["nesterov"], group["weight_decay"], group["maximize"])


class Adagrad(Optimizer):
    compiled_rule = True

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0,
                 initial_accumulator_value=0, eps=1e-10, foreach=None, *, maximize=False,
                 differentiable=False, fused=None):
        _not_differentiable("Adagrad", differentiable)
        for name, v in (("learning rate", lr), ("lr_decay value", lr_decay),
                        ("weight_decay value", weight_decay),
                        ("initial_accumulator_value", initial_accumulator_value),
                        ("epsilon value", eps)):
            _check(name, v)
        self.initial_accumulator_value = initial_accumulator_value
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      eps=eps, maximize=maximize,
                                      **_choice(foreach, fused=fused)))

    def init_state(self, p, group):
        return {"step": STEP, "sum": float(self.initial_accumulator_value)}

    def rule(self, p, g, state, lr, group):
        return rules.adagrad(p, g, state, lr, group["lr_decay"], group["weight_decay"],
                             group["eps"], group["maximize"])


class Adadelta(Optimizer):
    compiled_rule = True

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *,
                 capturable=False, maximize=False, differentiable=False):
        _not_differentiable("Adadelta", differentiable)
        for name, v in (("learning rate", lr), ("epsilon value", eps),
                        ("weight_decay value", weight_decay)):
            _check(name, v)
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay,
                                      maximize=maximize,
                                      **_choice(foreach)))

    def init_state(self, p, group):
        return {"step": STEP, "square_avg": 0.0, "acc_delta": 0.0}

    def rule(self, p, g, state, lr, group):
        return rules.adadelta(p, g, state, lr, group["rho"], group["eps"],
                              group["weight_decay"], group["maximize"])


class RMSprop(Optimizer):
    compiled_rule = True

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
                 centered=False, capturable=False, foreach=None, maximize=False,
                 differentiable=False):
        _not_differentiable("RMSprop", differentiable)
        for name, v in (("learning rate", lr), ("epsilon value", eps),
                        ("momentum value", momentum), ("weight_decay value", weight_decay),
                        ("alpha value", alpha)):
            _check(name, v)
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=centered, maximize=maximize,
                                      **_choice(foreach)))

    def init_state(self, p, group):
        state = {"step": STEP, "square_avg": 0.0}
        if group["momentum"] > 0:
            state["momentum_buffer"] = 0.0
        if group["centered"]:
            state["grad_avg"] = 0.0
        return state

    def rule(self, p, g, state, lr, group):
        return rules.rmsprop(p, g, state, lr, group["alpha"], group["eps"],
                             group["weight_decay"], group["momentum"], group["centered"],
                             group["maximize"])


class Adam(Optimizer):
    compiled_rule = True
    decoupled = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 amsgrad=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False, fused=None, decoupled_weight_decay=False):
        _not_differentiable("Adam", differentiable)
        for name, v in (("learning rate", lr), ("epsilon value", eps),
                        ("weight_decay value", weight_decay)):
            _check(name, v)
        _check_betas(betas)
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps,
                                      weight_decay=weight_decay, amsgrad=amsgrad,
                                      maximize=maximize,
                                      decoupled_weight_decay=decoupled_weight_decay,
                                      **_choice(foreach, fused=fused)))

    def init_state(self, p, group):
        state = {"step": STEP, "exp_avg": 0.0, "exp_avg_sq": 0.0}
        if group["amsgrad"]:
            state["max_exp_avg_sq"] = 0.0
        return state

    def rule(self, p, g, state, lr, group):
        return rules.adam(p, g, state, lr, group["betas"], group["eps"], group["weight_decay"],
                          group["amsgrad"], group["maximize"],
                          self.decoupled or group["decoupled_weight_decay"])


class AdamW(Adam):
    """Adam with decoupled weight decay (default 1e-2)."""
    decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, *, maximize=False, foreach=None, capturable=False,
                 differentiable=False, fused=None):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize,
                         differentiable=differentiable, foreach=foreach, fused=fused)


class SparseAdam(Optimizer):
    """Adam for embeddings: only the rows a gradient reaches change. graphc has no sparse
    tensors, so the gradient is dense (Embedding(sparse=True) gives a dense one) and its rows
    with a nonzero entry stand for the sparse gradient's indices: PyTorch's numbers, except
    for a row a batch looked up whose gradient is exactly zero (PyTorch still decays its
    moments and moves it)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, maximize=False):
        if not 0.0 < lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 < eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        _check_betas(betas)
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, maximize=maximize))

    def init_state(self, p, group):
        return {"step": STEP, "exp_avg": 0.0, "exp_avg_sq": 0.0}

    def rule(self, p, g, state, lr, group):
        return rules.sparse_adam(p, g, state, lr, group["betas"], group["eps"],
                                 group["maximize"])


class NAdam(Optimizer):
    compiled_rule = True

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 momentum_decay=4e-3, decoupled_weight_decay=False, *, foreach=None,
                 maximize=False, capturable=False, differentiable=False):
        _not_differentiable("NAdam", differentiable)
        for name, v in (("learning rate", lr), ("epsilon value", eps),
                        ("weight_decay value", weight_decay),
                        ("momentum_decay value", momentum_decay)):
            _check(name, v)
        _check_betas(betas)
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps,
                                      weight_decay=weight_decay, momentum_decay=momentum_decay,
                                      decoupled_weight_decay=decoupled_weight_decay,
                                      maximize=maximize,
                                      **_choice(foreach)))

    def init_state(self, p, group):
        return {"step": STEP, "mu_product": np.ones(()), "exp_avg": 0.0, "exp_avg_sq": 0.0}

    def rule(self, p, g, state, lr, group):
        return rules.nadam(p, g, state, lr, group["betas"], group["eps"], group["weight_decay"],
                           group["momentum_decay"], group["decoupled_weight_decay"],
                           group["maximize"])


class RAdam(Optimizer):
    compiled_rule = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 decoupled_weight_decay=False, *, foreach=None, maximize=False,
                 capturable=False, differentiable=False):
        _not_differentiable("RAdam", differentiable)
        for name, v in (("learning rate", lr), ("epsilon value", eps),
                        ("weight_decay value", weight_decay)):
            _check(name, v)
        _check_betas(betas)
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps,
                                      weight_decay=weight_decay,
                                      decoupled_weight_decay=decoupled_weight_decay,
                                      maximize=maximize,
                                      **_choice(foreach)))

    def init_state(self, p, group):
        return {"step": STEP, "exp_avg": 0.0, "exp_avg_sq": 0.0}

    def rule(self, p, g, state, lr, group):
        return rules.radam(p, g, state, lr, group["betas"], group["eps"], group["weight_decay"],
                           group["decoupled_weight_decay"], group["maximize"])


class Adamax(Optimizer):
    compiled_rule = True

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 foreach=None, *, maximize=False, differentiable=False, capturable=False):
        _not_differentiable("Adamax", differentiable)
        for name, v in (("learning rate", lr), ("epsilon value", eps),
                        ("weight_decay value", weight_decay)):
            _check(name, v)
        _check_betas(betas)
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps,
                                      weight_decay=weight_decay, maximize=maximize,
                                      **_choice(foreach)))

    def init_state(self, p, group):
        return {"step": STEP, "exp_avg": 0.0, "exp_inf": 0.0}

    def rule(self, p, g, state, lr, group):
        return rules.adamax(p, g, state, lr, group["betas"], group["eps"],
                            group["weight_decay"], group["maximize"])


class Rprop(Optimizer):
    compiled_rule = True

    def __init__(self, params, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), *,
                 capturable=False, foreach=None, maximize=False, differentiable=False):
        _not_differentiable("Rprop", differentiable)
        _check("learning rate", lr)
        if not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ValueError(f"Invalid eta values: {etas[0]}, {etas[1]}")
        super().__init__(params, dict(lr=lr, etas=tuple(etas), step_sizes=tuple(step_sizes),
                                      maximize=maximize,
                                      **_choice(foreach)))

    def init_state(self, p, group):
        # the step sizes start at the lr the group has when the state is created
        return {"step": STEP, "prev": 0.0, "step_size": float(group["lr"])}

    def rule(self, p, g, state, lr, group):
        return rules.rprop(p, g, state, lr, group["etas"], group["step_sizes"],
                           group["maximize"])


class ASGD(Optimizer):
    compiled_rule = True

    def __init__(self, params, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0,
                 foreach=None, maximize=False, differentiable=False, capturable=False):
        _not_differentiable("ASGD", differentiable)
        for name, v in (("learning rate", lr), ("weight_decay value", weight_decay)):
            _check(name, v)
        super().__init__(params, dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0,
                                      weight_decay=weight_decay, maximize=maximize,
                                      **_choice(foreach)))

    def init_state(self, p, group):
        return {"step": STEP, "eta": np.asarray(float(group["lr"])), "mu": np.ones(()),
                "ax": 0.0}

    def rule(self, p, g, state, lr, group):
        return rules.asgd(p, g, state, lr, group["lambd"], group["alpha"], group["t0"],
                          group["weight_decay"], group["maximize"])


class Adafactor(Optimizer):
    def __init__(self, params, lr=1e-2, beta2_decay=-0.8, eps=(None, 1e-3), d=1.0,
                 weight_decay=0.0, *, foreach=None, maximize=False):
        if not 0.0 <= lr:
            raise ValueError(f"Learning rate should be >= 0 but is: {lr}")
        if not 0.0 >= beta2_decay:
            raise ValueError(f"beta2_decay should be <= 0 but is: {beta2_decay}")
        if eps[0] is not None and not 0.0 <= eps[0]:
            raise ValueError(f"epsilon1 should be >= 0 but is: {eps[0]}")
        if not 0.0 <= eps[1]:
            raise ValueError(f"epsilon2 should be >= 0 but is: {eps[1]}")
        if not 1.0 <= d:
            raise ValueError(f"Clipping threshold d should be >= 1 but is: {d}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"weight_decay should be >= 0 but is: {weight_decay}")
        super().__init__(params, dict(lr=lr, beta2_decay=beta2_decay, eps=tuple(eps), d=d,
                                      weight_decay=weight_decay, maximize=maximize,
                                      **_choice(foreach)))

    def init_state(self, p, group):
        if p.ndim > 1:
            row, col = list(p.shape), list(p.shape)
            row[-1], col[-2] = 1, 1
            return {"step": STEP, "row_var": np.zeros(row), "col_var": np.zeros(col)}
        return {"step": STEP, "variance": 0.0}

    def rule(self, p, g, state, lr, group):
        eps1, eps2 = group["eps"]
        if eps1 is None:
            eps1 = float(np.finfo(p.dtype.np).eps)
        return rules.adafactor(p, g, state, lr, group["beta2_decay"], eps1, eps2, group["d"],
                               group["weight_decay"], group["maximize"], p.ndim > 1)
