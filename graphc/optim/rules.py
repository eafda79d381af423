"""The update rules of the optimizers, each written once with graphc functions.

Each function takes the parameter `p`, its gradient `g`, the state values, the learning rate
(a 0-d value in p's dtype) and the hyperparameters, and returns the new values. The formulas
are PyTorch's (torch/optim/*.py, single-tensor path), step for step.
"""
from __future__ import annotations

from .. import functional as G


def _decay(g, p, weight_decay):
    return G.add(g, G.mul(p, weight_decay)) if weight_decay else g


def sgd(p, g, state, lr, momentum, dampening, nesterov, weight_decay, maximize):
    g = _decay(G.neg(g) if maximize else g, p, weight_decay)
    new = {}
    if momentum:
        # the first step copies the gradient into the buffer, later ones blend it in
        blended = G.add(G.mul(state["momentum_buffer"], momentum), G.mul(g, 1 - dampening))
        buf = G.where(G.eq(state["step"], 0), g, blended)
        new = {"momentum_buffer": buf, "step": G.add(state["step"], 1)}
        g = G.add(g, G.mul(buf, momentum)) if nesterov else buf
    return G.sub(p, G.mul(g, lr)), new


def adagrad(p, g, state, lr, lr_decay, weight_decay, eps, maximize):
    step = G.add(state["step"], 1)
    g = _decay(G.neg(g) if maximize else g, p, weight_decay)
    clr = G.div(lr, G.add(G.mul(G.sub(step, 1), lr_decay), 1))
    total = G.add(state["sum"], G.square(g))
    p = G.sub(p, G.mul(clr, G.div(g, G.add(G.sqrt(total), eps))))
    return p, {"step": step, "sum": total}


def adadelta(p, g, state, lr, rho, eps, weight_decay, maximize):
    g = _decay(G.neg(g) if maximize else g, p, weight_decay)
    square_avg = G.add(G.mul(state["square_avg"], rho), G.mul(G.square(g), 1 - rho))
    std = G.sqrt(G.add(square_avg, eps))
    delta = G.mul(G.div(G.sqrt(G.add(state["acc_delta"], eps)), std), g)
    acc_delta = G.add(G.mul(state["acc_delta"], rho), G.mul(G.square(delta), 1 - rho))
    return G.sub(p, G.mul(delta, lr)), {"square_avg": square_avg, "acc_delta": acc_delta,
                                        "step": G.add(state["step"], 1)}


def rmsprop(p, g, state, lr, alpha, eps, weight_decay, momentum, centered, maximize):
    g = _decay(G.neg(g) if maximize else g, p, weight_decay)
    square_avg = G.add(G.mul(state["square_avg"], alpha), G.mul(G.square(g), 1 - alpha))
    new = {"square_avg": square_avg, "step": G.add(state["step"], 1)}
    if centered:
        grad_avg = G.add(G.mul(state["grad_avg"], alpha), G.mul(g, 1 - alpha))
        avg = G.add(G.sqrt(G.sub(square_avg, G.square(grad_avg))), eps)
        new["grad_avg"] = grad_avg
    else:
        avg = G.add(G.sqrt(square_avg), eps)
    if momentum > 0:
        buf = G.add(G.mul(state["momentum_buffer"], momentum), G.div(g, avg))
        new["momentum_buffer"] = buf
        return G.sub(p, G.mul(buf, lr)), new
    return G.sub(p, G.mul(G.div(g, avg), lr)), new


def adam(p, g, state, lr, betas, eps, weight_decay, amsgrad, maximize, decoupled):
    """Adam; decoupled=True is AdamW (the decay scales p by 1 - lr * weight_decay)."""
    beta1, beta2 = betas
    g = G.neg(g) if maximize else g
    if decoupled:
        p = G.mul(p, G.sub(1, G.mul(lr, weight_decay))) if weight_decay else p
    else:
        g = _decay(g, p, weight_decay)
    step = G.add(state["step"], 1)
    exp_avg = G.add(G.mul(state["exp_avg"], beta1), G.mul(g, 1 - beta1))
    exp_avg_sq = G.add(G.mul(state["exp_avg_sq"], beta2), G.mul(G.square(g), 1 - beta2))
    new = {"step": step, "exp_avg": exp_avg, "exp_avg_sq": exp_avg_sq}
    step_size = G.div(lr, G.sub(1, G.pow(beta1, step)))
    bias_correction2_sqrt = G.sqrt(G.sub(1, G.pow(beta2, step)))
    second = exp_avg_sq
    if amsgrad:
        second = G.maximum(state["max_exp_avg_sq"], exp_avg_sq)
        new["max_exp_avg_sq"] = second
    denom = G.add(G.div(G.sqrt(second), bias_correction2_sqrt), eps)
    return G.sub(p, G.mul(G.div(exp_avg, denom), step_size)), new
