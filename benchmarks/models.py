"""The benchmark models, written once per framework from the same initial weights.

Every builder returns `(step, compile_s)`: a zero-argument closure running one training step
(or forward pass) on data bound at build time, and the seconds spent before the first step
could run (tracing/compiling + the first call; 0 for eager systems).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .harness import timed


@dataclass
class MLPSpec:
    sizes: tuple            # (in, hidden..., out)
    activation: str         # "sigmoid" | "tanh" | "relu"
    loss: str               # "mse" | "cross_entropy"
    optimizer: str          # "sgd" | "adam"
    lr: float
    sigmoid_output: bool = False  # the XOR tutorial squashes the output too


@dataclass
class CNNSpec:
    image: int = 28         # 28 for MNIST; smaller for --quick
    classes: int = 10
    lr: float = 1.0         # Adadelta

    @property
    def flat(self):
        side = (self.image - 4) // 2
        return 64 * side * side


def mlp_weights(spec, seed=0):
    """PyTorch's default Linear init, drawn once with NumPy: [(W[out, in], b[out]), ...]."""
    rng = np.random.default_rng(seed)
    out = []
    for n_in, n_out in zip(spec.sizes[:-1], spec.sizes[1:]):
        bound = 1 / np.sqrt(n_in)
        out.append((rng.uniform(-bound, bound, (n_out, n_in)).astype(np.float32),
                    rng.uniform(-bound, bound, n_out).astype(np.float32)))
    return out


def cnn_weights(spec, seed=0):
    rng = np.random.default_rng(seed)

    def uni(fan_in, shape):
        bound = 1 / np.sqrt(fan_in)
        return rng.uniform(-bound, bound, shape).astype(np.float32)
    return [(uni(9, (32, 1, 3, 3)), uni(9, 32)), (uni(288, (64, 32, 3, 3)), uni(288, 64)),
            (uni(spec.flat, (128, spec.flat)), uni(spec.flat, 128)),
            (uni(128, (spec.classes, 128)), uni(128, spec.classes))]


# ---- graphc ----------------------------------------------------------------------------------------
def _graphc_mlp(spec, weights):
    import graphc as gc
    from graphc import nn
    layers = []
    act = {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "relu": nn.ReLU}[spec.activation]
    for i, (w, b) in enumerate(weights):
        lin = nn.Linear(w.shape[1], w.shape[0])
        with gc.no_grad():
            lin.weight.copy_(w)
            lin.bias.copy_(b)
        layers.append(lin)
        if i < len(weights) - 1:
            layers.append(act())
    if spec.sigmoid_output:
        layers.append(nn.Sigmoid())
    return nn.Sequential(*layers)


def _graphc_cnn(spec, weights):
    import graphc as gc
    from graphc import nn
    model = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.Conv2d(32, 64, 3), nn.ReLU(),
                          nn.MaxPool2d(2), nn.Dropout(0.25), nn.Flatten(),
                          nn.Linear(spec.flat, 128), nn.ReLU(), nn.Dropout(0.5),
                          nn.Linear(128, spec.classes))
    layers = [m for m in model if hasattr(m, "weight")]
    with gc.no_grad():
        for layer, (w, b) in zip(layers, weights):
            layer.weight.copy_(w)
            layer.bias.copy_(b)
    return model


def _graphc_loss(kind):
    from graphc.nn import functional as F
    return F.mse_loss if kind == "mse" else F.cross_entropy


def _graphc_opt(name, params, lr):
    from graphc import optim
    return {"sgd": optim.SGD, "adam": optim.Adam, "adadelta": optim.Adadelta}[name](params, lr=lr)


def graphc_static(model_kind, spec, weights, x, y, target, train=True):
    """define-and-run: placeholders, the loss, opt.updates(loss), graphc.compile."""
    import graphc as gc

    def build():
        model = _graphc_mlp(spec, weights) if model_kind == "mlp" else _graphc_cnn(spec, weights)
        xs = gc.placeholder(x.shape, gc.float32, name="x")
        if not train:
            model.eval()
            exe = gc.compile(model(xs), inputs=[xs], target=target)
            exe(x)
            return lambda: exe(x)
        ys = gc.placeholder(y.shape, gc.as_dtype(y.dtype), name="y")
        loss = _graphc_loss(spec.loss if model_kind == "mlp" else "cross_entropy")(model(xs), ys)
        opt = _graphc_opt(spec.optimizer if model_kind == "mlp" else "adadelta",
                          model.parameters(), spec.lr)
        updates = {**opt.updates(loss), **model.buffer_updates()}  # + dropout's seed
        exe = gc.compile(loss, inputs=[xs, ys], updates=updates, target=target)
        exe(x, y)

        def step():
            return exe(x, y)
        step.executable = exe  # for run_steps (k steps in one compiled call)
        return step
    return timed(build)


def _graphc_eager_step(model_kind, spec, weights):
    model = _graphc_mlp(spec, weights) if model_kind == "mlp" else _graphc_cnn(spec, weights)
    lossf = _graphc_loss(spec.loss if model_kind == "mlp" else "cross_entropy")
    opt = _graphc_opt(spec.optimizer if model_kind == "mlp" else "adadelta",
                      model.parameters(), spec.lr)

    def step(x, y):
        opt.zero_grad()
        loss = lossf(model(x), y)
        loss.backward()
        opt.step()
        return loss
    return model, step


def graphc_eager(model_kind, spec, weights, x, y, train=True):
    import graphc as gc
    model, step = _graphc_eager_step(model_kind, spec, weights)
    xt = gc.from_numpy(x)
    if not train:
        model.eval()

        def forward():
            with gc.no_grad():
                return model(xt)
        return forward, 0.0
    yt = gc.from_numpy(y)
    return (lambda: step(xt, yt)), 0.0


def graphc_jit(model_kind, spec, weights, x, y, target):
    """The eager training step, unchanged, under graphc.jit."""
    import graphc as gc
    _, step = _graphc_eager_step(model_kind, spec, weights)
    jitted = gc.jit(step, target=target)
    _, seconds = timed(lambda: jitted(x, y))
    return (lambda: jitted(x, y)), seconds


# ---- PyTorch ---------------------------------------------------------------------------------------
def _torch_model(torch, model_kind, spec, weights):
    nn = torch.nn
    if model_kind == "mlp":
        act = {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "relu": nn.ReLU}[spec.activation]
        layers = []
        for i, (w, _) in enumerate(weights):
            layers.append(nn.Linear(w.shape[1], w.shape[0]))
            if i < len(weights) - 1:
                layers.append(act())
        if spec.sigmoid_output:
            layers.append(nn.Sigmoid())
        model = nn.Sequential(*layers)
    else:
        model = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.Conv2d(32, 64, 3), nn.ReLU(),
                              nn.MaxPool2d(2), nn.Dropout(0.25), nn.Flatten(),
                              nn.Linear(spec.flat, 128), nn.ReLU(), nn.Dropout(0.5),
                              nn.Linear(128, spec.classes))
    with torch.no_grad():
        for layer, (w, b) in zip([m for m in model if hasattr(m, "weight")], weights):
            layer.weight.copy_(torch.from_numpy(w))
            layer.bias.copy_(torch.from_numpy(b))
    return model


def _torch_step(torch, model_kind, spec, weights):
    model = _torch_model(torch, model_kind, spec, weights)
    kind = spec.loss if model_kind == "mlp" else "cross_entropy"
    lossf = torch.nn.functional.mse_loss if kind == "mse" else torch.nn.functional.cross_entropy
    name = spec.optimizer if model_kind == "mlp" else "adadelta"
    opt = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam,
           "adadelta": torch.optim.Adadelta}[name](model.parameters(), lr=spec.lr)

    def step(x, y):
        opt.zero_grad(set_to_none=True)
        loss = lossf(model(x), y)
        loss.backward()
        opt.step()
        return loss
    return model, step


def torch_eager(torch, model_kind, spec, weights, x, y, train=True):
    model, step = _torch_step(torch, model_kind, spec, weights)
    xt = torch.from_numpy(x)
    if not train:
        model.eval()

        def forward():
            with torch.no_grad():
                return model(xt)
        return forward, 0.0
    yt = torch.from_numpy(y)
    return (lambda: step(xt, yt)), 0.0


def torch_compiled(torch, model_kind, spec, weights, x, y, train=True):
    model, step = _torch_step(torch, model_kind, spec, weights)
    xt = torch.from_numpy(x)
    if not train:
        model.eval()
        compiled_model = torch.compile(model)

        def forward():
            with torch.no_grad():
                return compiled_model(xt)
        _, seconds = timed(forward)
        return forward, seconds
    yt = torch.from_numpy(y)
    compiled = torch.compile(step)
    _, seconds = timed(lambda: compiled(xt, yt))
    return (lambda: compiled(xt, yt)), seconds


# ---- JAX -------------------------------------------------------------------------------------------
def _jax_forward(jax, model_kind, spec):
    jnp = jax.numpy
    if model_kind == "mlp":
        act = {"sigmoid": jax.nn.sigmoid, "tanh": jnp.tanh, "relu": jax.nn.relu}[spec.activation]

        def forward(params, x, key=None, train=True):
            for i, (w, b) in enumerate(params):
                x = x @ w.T + b
                if i < len(params) - 1:
                    x = act(x)
            return jax.nn.sigmoid(x) if spec.sigmoid_output else x
        return forward

    def conv(x, w, b):
        y = jax.lax.conv_general_dilated(x, w, (1, 1), "VALID",
                                         dimension_numbers=("NCHW", "OIHW", "NCHW"))
        return y + b[None, :, None, None]

    def dropout(x, p, key, train):
        if not train:
            return x
        keep = jax.random.bernoulli(key, 1 - p, x.shape)
        return jnp.where(keep, x / (1 - p), 0.0)

    def forward(params, x, key=None, train=True):
        (w1, b1), (w2, b2), (w3, b3), (w4, b4) = params
        k1, k2 = jax.random.split(key) if train else (None, None)
        x = jax.nn.relu(conv(x, w1, b1))
        x = jax.nn.relu(conv(x, w2, b2))
        x = jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")
        x = dropout(x, 0.25, k1, train).reshape(x.shape[0], -1)
        x = jax.nn.relu(x @ w3.T + b3)
        return dropout(x, 0.5, k2, train) @ w4.T + b4
    return forward


def _jax_loss(jax, kind):
    jnp = jax.numpy
    if kind == "mse":
        return lambda out, y: jnp.mean((out - y) ** 2)
    return lambda out, y: -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(out), y[:, None], 1))


def _jax_update(jax, name, lr):
    """(init(params) -> state, update(params, grads, state) -> (params, state)), PyTorch's
    formulas."""
    jnp, tree = jax.numpy, jax.tree_util.tree_map
    if name == "sgd":
        return (lambda p: ()), (lambda p, g, s: (tree(lambda a, b: a - lr * b, p, g), s))
    if name == "adam":
        b1, b2, eps = 0.9, 0.999, 1e-8

        def update(p, g, s):
            m, v, t = s
            t = t + 1
            m = tree(lambda m, g: b1 * m + (1 - b1) * g, m, g)
            v = tree(lambda v, g: b2 * v + (1 - b2) * g * g, v, g)
            c1, c2 = 1 - b1 ** t, 1 - b2 ** t
            p = tree(lambda p, m, v: p - lr / c1 * m / (jnp.sqrt(v) / jnp.sqrt(c2) + eps), p, m, v)
            return p, (m, v, t)
        return (lambda p: (tree(jnp.zeros_like, p), tree(jnp.zeros_like, p),
                           jnp.float32(0))), update
    rho, eps = 0.9, 1e-6  # adadelta

    def update(p, g, s):
        sq, acc = s
        sq = tree(lambda s, g: rho * s + (1 - rho) * g * g, sq, g)
        delta = tree(lambda s, a, g: jnp.sqrt(a + eps) / jnp.sqrt(s + eps) * g, sq, acc, g)
        acc = tree(lambda a, d: rho * a + (1 - rho) * d * d, acc, delta)
        return tree(lambda p, d: p - lr * d, p, delta), (sq, acc)
    return (lambda p: (tree(jnp.zeros_like, p), tree(jnp.zeros_like, p))), update


def jax_jit(jax, model_kind, spec, weights, x, y, train=True):
    jnp = jax.numpy
    forward = _jax_forward(jax, model_kind, spec)
    params = [(jnp.asarray(w), jnp.asarray(b)) for w, b in weights]
    xj = jnp.asarray(x)
    if not train:
        fwd = jax.jit(lambda p, x: forward(p, x, train=False))
        _, seconds = timed(lambda: fwd(params, xj).block_until_ready())
        return (lambda: fwd(params, xj)), seconds
    yj = jnp.asarray(y)
    lossf = _jax_loss(jax, spec.loss if model_kind == "mlp" else "cross_entropy")
    init, update = _jax_update(jax, spec.optimizer if model_kind == "mlp" else "adadelta",
                               spec.lr)

    @jax.jit
    def step(params, state, key, x, y):
        key, sub = jax.random.split(key)
        loss, grads = jax.value_and_grad(lambda p: lossf(forward(p, x, sub), y))(params)
        params, state = update(params, grads, state)
        return params, state, key, loss

    carry = [params, init(params), jax.random.PRNGKey(0)]

    def run():
        carry[0], carry[1], carry[2], loss = step(*carry, xj, yj)
        return loss
    _, seconds = timed(lambda: run().block_until_ready())
    return run, seconds
