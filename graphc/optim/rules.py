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


def _lerp(a, b, weight):
    """a + weight (b - a): torch.lerp, which PyTorch uses for the first moments."""
    return G.add(a, G.mul(G.sub(b, a), weight))


def _weight_decay(p, g, lr, weight_decay, decoupled):
    """(p, g) after L2 (added to g) or decoupled (p scaled by 1 - lr wd) weight decay."""
    if not weight_decay:
        return p, g
    if decoupled:
        return G.mul(p, G.sub(1, G.mul(lr, weight_decay))), g
    return p, G.add(g, G.mul(p, weight_decay))


def nadam(p, g, state, lr, betas, eps, weight_decay, momentum_decay, decoupled, maximize):
    beta1, beta2 = betas
    g = G.neg(g) if maximize else g
    step = G.add(state["step"], 1)
    bias_correction2 = G.sub(1, G.pow(beta2, step))
    p, g = _weight_decay(p, g, lr, weight_decay, decoupled)
    mu = G.mul(G.sub(1, G.mul(G.pow(0.96, G.mul(step, momentum_decay)), 0.5)), beta1)
    mu_next = G.mul(G.sub(1, G.mul(G.pow(0.96, G.mul(G.add(step, 1), momentum_decay)), 0.5)),
                    beta1)
    mu_product = G.mul(state["mu_product"], mu)
    exp_avg = _lerp(state["exp_avg"], g, 1 - beta1)
    exp_avg_sq = G.add(G.mul(state["exp_avg_sq"], beta2), G.mul(G.square(g), 1 - beta2))
    denom = G.add(G.sqrt(G.div(exp_avg_sq, bias_correction2)), eps)
    mu_product_next = G.mul(mu_product, mu_next)
    p = G.add(p, G.mul(G.div(g, denom), G.div(G.mul(G.neg(lr), G.sub(1, mu)),
                                              G.sub(1, mu_product))))
    p = G.add(p, G.mul(G.div(exp_avg, denom), G.div(G.mul(G.neg(lr), mu_next),
                                                    G.sub(1, mu_product_next))))
    return p, {"step": step, "mu_product": mu_product, "exp_avg": exp_avg,
               "exp_avg_sq": exp_avg_sq}


def radam(p, g, state, lr, betas, eps, weight_decay, decoupled, maximize):
    """Rectified Adam: the adaptive step only once the variance estimate is tractable
    (rho_t > 5), plain bias-corrected momentum before."""
    beta1, beta2 = betas
    g = G.neg(g) if maximize else g
    step = G.add(state["step"], 1)
    p, g = _weight_decay(p, g, lr, weight_decay, decoupled)
    exp_avg = _lerp(state["exp_avg"], g, 1 - beta1)
    exp_avg_sq = G.add(G.mul(state["exp_avg_sq"], beta2), G.mul(G.square(g), 1 - beta2))
    bias_correction1 = G.sub(1, G.pow(beta1, step))
    bias_correction2 = G.sub(1, G.pow(beta2, step))
    corrected = G.div(exp_avg, bias_correction1)
    rho_inf = 2 / (1 - beta2) - 1
    rho_t = G.sub(rho_inf, G.div(G.mul(G.mul(step, 2), G.pow(beta2, step)), bias_correction2))
    if rho_inf <= 5:  # rho_t < rho_inf: the variance is never tractable
        return G.sub(p, G.mul(corrected, lr)), {"step": step, "exp_avg": exp_avg,
                                                "exp_avg_sq": exp_avg_sq}
    tractable = G.gt(rho_t, 5.0)
    rho_safe = G.where(tractable, rho_t, 6.0)  # (the other branch is unused; keep it finite)
    rect = G.sqrt(G.div(G.mul(G.mul(G.sub(rho_safe, 4), G.sub(rho_safe, 2)), rho_inf),
                        G.mul(rho_safe, (rho_inf - 4) * (rho_inf - 2))))
    adaptive_lr = G.div(G.sqrt(bias_correction2), G.add(G.sqrt(exp_avg_sq), eps))
    update = G.where(tractable, G.mul(G.mul(G.mul(corrected, lr), adaptive_lr), rect),
                     G.mul(corrected, lr))
    return G.sub(p, update), {"step": step, "exp_avg": exp_avg, "exp_avg_sq": exp_avg_sq}


def adamax(p, g, state, lr, betas, eps, weight_decay, maximize):
    beta1, beta2 = betas
    g = _decay(G.neg(g) if maximize else g, p, weight_decay)
    step = G.add(state["step"], 1)
    exp_avg = _lerp(state["exp_avg"], g, 1 - beta1)
    exp_inf = G.maximum(G.mul(state["exp_inf"], beta2), G.add(G.abs(g), eps))
    clr = G.div(lr, G.sub(1, G.pow(beta1, step)))
    return G.sub(p, G.mul(G.div(exp_avg, exp_inf), clr)), {"step": step, "exp_avg": exp_avg,
                                                          "exp_inf": exp_inf}


def rprop(p, g, state, lr, etas, step_sizes, maximize):
    """Resilient backprop: per-element step sizes grow while the gradient keeps its sign and
    shrink when it flips (and that element then skips its update)."""
    etaminus, etaplus = etas
    g = G.neg(g) if maximize else g
    product = G.mul(g, state["prev"])
    size = state["step_size"]  # (scaled by each branch: the etas keep size's dtype)
    step_size = G.clamp(G.where(G.gt(product, 0), G.mul(size, etaplus),
                                G.where(G.lt(product, 0), G.mul(size, etaminus), size)),
                        step_sizes[0], step_sizes[1])
    g = G.where(G.lt(product, 0), 0.0, g)
    return (G.sub(p, G.mul(G.sign(g), step_size)),
            {"step": G.add(state["step"], 1), "prev": g, "step_size": step_size})


def asgd(p, g, state, lr, lambd, alpha, t0, weight_decay, maximize):
    """Averaged SGD: p steps with a decaying eta; ax is the running average of p once
    step > t0 (mu = 1 / max(1, step - t0))."""
    g = _decay(G.neg(g) if maximize else g, p, weight_decay)
    step = G.add(state["step"], 1)
    eta, mu = state["eta"], state["mu"]
    p = G.sub(G.mul(p, G.sub(1, G.mul(eta, lambd))), G.mul(g, eta))
    ax = G.where(G.eq(mu, 1), p, G.add(state["ax"], G.mul(G.sub(p, state["ax"]), mu)))
    new_eta = G.div(lr, G.pow(G.add(G.mul(G.mul(lr, lambd), step), 1), alpha))
    new_mu = G.div(1.0, G.maximum(G.sub(step, t0), 1.0))
    return p, {"step": step, "eta": new_eta, "mu": new_mu, "ax": ax}


def adafactor(p, g, state, lr, beta2_decay, eps1, eps2, d, weight_decay, maximize, factored):
    """Adafactor as PyTorch's: factored second moments (row and column means) for matrices,
    a full one for vectors; relative step size alpha = max(eps2, RMS(p)) * min(lr, 1/sqrt(t));
    the update clipped so that its RMS is at most d."""
    g = G.neg(g) if maximize else g
    step = G.add(state["step"], 1)
    one_minus_beta2 = G.pow(step, beta2_decay)
    rho = G.minimum(lr, G.rsqrt(step))
    alpha = G.mul(G.maximum(G.div(G.sqrt(G.sum(G.square(p))), float(_numel(p)) ** 0.5), eps2),
                  rho)
    if weight_decay:
        p = G.mul(p, G.sub(1, G.mul(lr, weight_decay)))
    new = {"step": step}
    if factored:
        row_mean = G.div(G.sum(G.square(g), -1, keepdim=True), g.shape[-1])
        col_mean = G.div(G.sum(G.square(g), -2, keepdim=True), g.shape[-2])
        row_var = _lerp(state["row_var"], row_mean, one_minus_beta2)
        col_var = _lerp(state["col_var"], col_mean, one_minus_beta2)
        estimate = G.div(G.matmul(row_var, col_var),
                         G.clamp(G.mean(row_var, -2, keepdim=True), min=eps1))
        new.update(row_var=row_var, col_var=col_var)
    else:
        estimate = _lerp(state["variance"], G.square(g), one_minus_beta2)
        new["variance"] = estimate
    update = G.mul(G.rsqrt(G.clamp(estimate, min=eps1 * eps1)), g)
    rms = G.div(G.sqrt(G.sum(G.square(update))), float(_numel(update)) ** 0.5 * d)
    denom = G.maximum(rms, 1.0)
    return G.sub(p, G.mul(update, G.div(alpha, denom))), new


def _numel(x):
    n = 1
    for dim in x.shape:
        n *= dim
    return n


def sparse_adam(p, g, state, lr, betas, eps, maximize):
    """SparseAdam on a dense gradient: the rows (along dim 0; elements of a 1-D parameter)
    where g has a nonzero entry stand for the indices of PyTorch's sparse gradient; only their
    moments and values change (the step counts every call, as PyTorch's)."""
    beta1, beta2 = betas
    g = G.neg(g) if maximize else g
    step = G.add(state["step"], 1)
    nonzero = G.cast(G.ne(g, 0), g.dtype)
    present = G.gt(G.amax(nonzero, tuple(range(1, g.ndim)), keepdim=True), 0) \
        if g.ndim > 1 else G.gt(nonzero, 0)
    old_avg, old_sq = state["exp_avg"], state["exp_avg_sq"]
    exp_avg = G.add(old_avg, G.mul(G.sub(g, old_avg), 1 - beta1))
    exp_avg_sq = G.add(old_sq, G.mul(G.sub(G.square(g), old_sq), 1 - beta2))
    denom = G.add(G.sqrt(exp_avg_sq), eps)
    step_size = G.div(G.mul(lr, G.sqrt(G.sub(1, G.pow(beta2, step)))),
                      G.sub(1, G.pow(beta1, step)))
    new_p = G.sub(p, G.mul(G.div(exp_avg, denom), step_size))
    return G.where(present, new_p, p), {"step": step,
                                        "exp_avg": G.where(present, exp_avg, old_avg),
                                        "exp_avg_sq": G.where(present, exp_avg_sq, old_sq)}
