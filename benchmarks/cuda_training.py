"""Training steps on the GPU: graphc CUDA static vs graphc CUDA eager vs PyTorch CUDA eager.

- MLP 784-256-256-10 (ReLU, cross-entropy, Adam) at batch 128 and 1024;
- the MNIST CNN (conv 32, conv 64, max-pool, dropout, linear 128, linear 10; Adadelta) at
  batch 64.
Every system starts from the same weights; data and models live on the GPU (no transfers
per step). Compile time (build + first call) is reported apart from the median step time;
each sample ends with a synchronize. PyTorch is used when installed with CUDA.

    python -m benchmarks.cuda_training            # on a machine with an NVIDIA GPU
    python -m benchmarks.cuda_training --quick    # toy sizes (also in the simulator)
"""
from __future__ import annotations

import sys

import numpy as np

from .cuda_common import median_call_s, parse, synchronizer, table, timed, torch_cuda


def mlp_layers(sizes):
    return [("linear", n_in, n_out) for n_in, n_out in zip(sizes[:-1], sizes[1:])]


def cnn_layers(image, widths, classes=10):
    c1, c2, hidden = widths
    side = (image - 4) // 2
    return [("conv", 1, c1), ("conv", c1, c2), ("pool",), ("flatten",),
            ("linear", c2 * side * side, hidden), ("linear", hidden, classes)]


def weights(layers, seed=0):
    """PyTorch's default init, drawn once with NumPy: [(w, b)] per conv/linear layer."""
    rng = np.random.default_rng(seed)
    out = []
    for kind, *dims in layers:
        if kind in ("conv", "linear"):
            n_in, n_out = dims
            shape = (n_out, n_in, 3, 3) if kind == "conv" else (n_out, n_in)
            bound = 1 / np.sqrt(n_in * (9 if kind == "conv" else 1))
            out.append((rng.uniform(-bound, bound, shape).astype(np.float32),
                        rng.uniform(-bound, bound, n_out).astype(np.float32)))
    return out


def build(nn, layers, params, no_grad, to_tensor):
    """The same Sequential in graphc or PyTorch (their nn modules share names): ReLU after
    every conv and hidden linear, dropout as in the Keras MNIST example."""
    mods, linears = [], sum(kind == "linear" for kind, *_ in layers)
    for kind, *dims in layers:
        if kind == "conv":
            mods += [nn.Conv2d(dims[0], dims[1], 3), nn.ReLU()]
        elif kind == "pool":
            mods += [nn.MaxPool2d(2), nn.Dropout(0.25)]
        elif kind == "flatten":
            mods.append(nn.Flatten())
        else:
            linears -= 1
            mods.append(nn.Linear(*dims))
            if linears:
                mods.append(nn.ReLU())
                if any(k == "conv" for k, *_ in layers):
                    mods.append(nn.Dropout(0.5))
    model = nn.Sequential(*mods)
    with no_grad():
        for m, (w, b) in zip([m for m in model if hasattr(m, "weight")], params):
            m.weight.copy_(to_tensor(w))
            m.bias.copy_(to_tensor(b))
    return model


def graphc_systems(layers, params, x, y, optimizer, lr):
    import graphc as gc
    from graphc import nn, optim
    from graphc.nn import functional as F
    make_opt = {"adam": optim.Adam, "adadelta": optim.Adadelta}[optimizer]
    xd, yd = gc.tensor(x).cuda(), gc.tensor(y).cuda()

    def static():
        model = build(nn, layers, params, gc.no_grad, lambda a: a).cuda()
        xs = gc.placeholder(x.shape, gc.float32, name="x")
        ys = gc.placeholder(y.shape, gc.int64, name="y")
        loss = F.cross_entropy(model(xs), ys)
        opt = make_opt(model.parameters(), lr=lr)
        exe = gc.compile(loss, inputs=[xs, ys], target="cuda",
                         updates={**opt.updates(loss), **model.buffer_updates()})
        exe(xd, yd)
        return lambda: exe(xd, yd)

    def eager():
        model = build(nn, layers, params, gc.no_grad, lambda a: a).cuda()
        opt = make_opt(model.parameters(), lr=lr)

        def step():
            opt.zero_grad()
            loss = F.cross_entropy(model(xd), yd)
            loss.backward()
            opt.step()
            return loss
        step()
        return step
    return {"graphc CUDA static": static, "graphc CUDA eager": eager}


def torch_systems(torch, layers, params, x, y, optimizer, lr):
    make_opt = {"adam": torch.optim.Adam, "adadelta": torch.optim.Adadelta}[optimizer]
    xd, yd = torch.from_numpy(x).cuda(), torch.from_numpy(y).cuda()

    def eager():
        model = build(torch.nn, layers, params, torch.no_grad, torch.from_numpy).cuda()
        opt = make_opt(model.parameters(), lr=lr)

        def step():
            opt.zero_grad(set_to_none=True)
            loss = torch.nn.functional.cross_entropy(model(xd), yd)
            loss.backward()
            opt.step()
            return loss
        step()
        return step
    return {"torch CUDA eager": eager}


def workloads(quick):
    if quick:
        return [("MLP 16-8-8-10 b4", mlp_layers((16, 8, 8, 10)), (4, 16), "adam", 1e-3),
                ("CNN 6x6 (2, 2, 4) b2", cnn_layers(6, (2, 2, 4)), (2, 1, 6, 6), "adadelta",
                 1.0)]
    mlp = mlp_layers((784, 256, 256, 10))
    return [("MLP 784-256-256-10 b128", mlp, (128, 784), "adam", 1e-3),
            ("MLP 784-256-256-10 b1024", mlp, (1024, 784), "adam", 1e-3),
            ("MNIST CNN b64", cnn_layers(28, (32, 64, 128)), (64, 1, 28, 28), "adadelta", 1.0)]


def main(argv=None):
    args = parse(argv, __doc__.splitlines()[0])
    torch = torch_cuda(args)
    sync = synchronizer(torch)
    rng = np.random.default_rng(0)
    rows, results = [], {}
    for name, layers, x_shape, optimizer, lr in workloads(args.quick):
        if args.only not in name:
            continue
        params = weights(layers)
        x = rng.standard_normal(x_shape).astype(np.float32)
        y = rng.integers(0, 10, x_shape[0]).astype(np.int64)
        systems = graphc_systems(layers, params, x, y, optimizer, lr)
        if torch is not None:
            systems.update(torch_systems(torch, layers, params, x, y, optimizer, lr))
        systems = {k: v for k, v in systems.items() if args.systems in k}
        for system, make in systems.items():
            step, compile_s = timed(make, sync)
            step_s = median_call_s(step, sync, args.repeat)
            results[(name, system)] = (step_s, compile_s)
        base = results.get((name, "torch CUDA eager"), (None,))[0]
        for system in systems:
            step_s, compile_s = results[(name, system)]
            ratio = f"{step_s / base:.2f}x" if base else "-"
            rows.append([name, system, f"{step_s * 1e3:.3f}", ratio, f"{compile_s:.2f}"])
    print(table(rows, ["workload", "system", "ms/step (median)", "vs torch", "compile+first s"]))
    if torch is None:
        print("(PyTorch with CUDA not available: its rows are left out)")
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
