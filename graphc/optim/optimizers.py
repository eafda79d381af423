"""SGD, Adagrad, Adadelta, RMSprop, Adam and AdamW: hyperparameters and state; the
arithmetic is in rules.py."""
from __future__ import annotations

import numpy as np

from . import rules
from .optimizer import Optimizer, required

STEP = np.zeros(())  # a 0-d state entry (a step counter); floats fill arrays shaped like p


def _check(name, value, low=0.0):
    if value is not required and not value >= low:
        raise ValueError(f"Invalid {name}: {value}")


class SGD(Optimizer):
    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0,
                 nesterov=False, *, maximize=False, foreach=None, differentiable=False,
                 fused=None):
        for name, v in (("learning rate", lr), ("momentum value", momentum),
                        ("weight_decay value", weight_decay)):
            _check(name, v)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov,
                                      maximize=maximize))

    def init_state(self, p, group):
        return {"momentum_buffer": 0.0, "step": STEP} if group["momentum"] else {}

    def rule(self, p, g, state, lr, group):
        return rules.sgd(p, g, state, lr, group["momentum"], group["dampening"],
                         group["nesterov"], group["weight_decay"], group["maximize"])


class Adagrad(Optimizer):
    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0,
                 initial_accumulator_value=0, eps=1e-10, foreach=None, *, maximize=False,
                 differentiable=False, fused=None):
        for name, v in (("learning rate", lr), ("lr_decay value", lr_decay),
                        ("weight_decay value", weight_decay),
                        ("initial_accumulator_value", initial_accumulator_value),
                        ("epsilon value", eps)):
            _check(name, v)
        self.initial_accumulator_value = initial_accumulator_value
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      eps=eps, maximize=maximize))

    def init_state(self, p, group):
        return {"step": STEP, "sum": float(self.initial_accumulator_value)}

    def rule(self, p, g, state, lr, group):
        return rules.adagrad(p, g, state, lr, group["lr_decay"], group["weight_decay"],
                             group["eps"], group["maximize"])


class Adadelta(Optimizer):
    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *,
                 capturable=False, maximize=False, differentiable=False):
        for name, v in (("learning rate", lr), ("epsilon value", eps),
                        ("weight_decay value", weight_decay)):
            _check(name, v)
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay,
                                      maximize=maximize))

    def init_state(self, p, group):
        return {"step": STEP, "square_avg": 0.0, "acc_delta": 0.0}

    def rule(self, p, g, state, lr, group):
        return rules.adadelta(p, g, state, lr, group["rho"], group["eps"],
                              group["weight_decay"], group["maximize"])


class RMSprop(Optimizer):
    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
                 centered=False, capturable=False, foreach=None, maximize=False,
                 differentiable=False):
        for name, v in (("learning rate", lr), ("epsilon value", eps),
                        ("momentum value", momentum), ("weight_decay value", weight_decay),
                        ("alpha value", alpha)):
            _check(name, v)
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=centered, maximize=maximize))

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
    decoupled = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 amsgrad=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False, fused=None):
        for name, v in (("learning rate", lr), ("epsilon value", eps),
                        ("weight_decay value", weight_decay)):
            _check(name, v)
        for i, b in enumerate(betas):
            if not 0.0 <= b < 1.0:
                raise ValueError(f"Invalid beta parameter at index {i}: {b}")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps,
                                      weight_decay=weight_decay, amsgrad=amsgrad,
                                      maximize=maximize))

    def init_state(self, p, group):
        state = {"step": STEP, "exp_avg": 0.0, "exp_avg_sq": 0.0}
        if group["amsgrad"]:
            state["max_exp_avg_sq"] = 0.0
        return state

    def rule(self, p, g, state, lr, group):
        return rules.adam(p, g, state, lr, group["betas"], group["eps"], group["weight_decay"],
                          group["amsgrad"], group["maximize"], self.decoupled)


class AdamW(Adam):
    """Adam with decoupled weight decay (default 1e-2)."""
    decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, *, maximize=False, foreach=None, capturable=False,
                 differentiable=False, fused=None):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize)
