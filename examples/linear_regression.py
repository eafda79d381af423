"""Single-variable linear regression, y = 3x + 2 + noise, with nn.Linear(1, 1) and SGD.

    python examples/linear_regression.py --mode static
"""
import numpy as np

import graphc as torch
import graphc.nn as nn
import graphc.optim as optim
from graphc.utils.data import DataLoader, TensorDataset
from _common import compile_step, compile_target, parser, progress, save_plot


def main(argv=None):
    args = parser(__doc__, epochs=30).parse_args(argv)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    x = rng.uniform(-2, 2, (200, 1)).astype(np.float32)
    y = (3 * x + 2 + rng.normal(0, 0.3, x.shape)).astype(np.float32)
    loader = DataLoader(TensorDataset(torch.from_numpy(x), torch.from_numpy(y)),
                        batch_size=20, shuffle=True)
    model = nn.Linear(1, 1)
    criterion = nn.MSELoss()
    optimizer = optim.SGD(model.parameters(), lr=0.05)

    if args.mode == "static":
        xs = torch.placeholder((None, 1), name="x")
        ys = torch.placeholder((None, 1), name="y")
        loss = criterion(model(xs), ys)
        step = compile_step(loss, [xs, ys], compile_target(args.target),
                            updates=optimizer.updates(loss))
    else:
        def step(xb, yb):
            optimizer.zero_grad()
            loss = criterion(model(xb), yb)
            loss.backward()
            optimizer.step()
            return loss

    losses = []
    for _ in progress(range(args.epochs), desc=f"linear regression ({args.mode})"):
        total = sum(step(xb, yb).item() * len(xb) for xb, yb in loader)
        losses.append(total / len(x))

    w, b = model.weight.item(), model.bias.item()
    print(f"final loss {losses[-1]:.4f}; learned y = {w:.3f} x + {b:.3f} (true: 3 x + 2)")

    def draw(plt):
        plt.scatter(x[:, 0], y[:, 0], s=6, alpha=0.5, label="data")
        line = np.linspace(-2, 2, 2)
        plt.plot(line, w * line + b, "r", label=f"fit {w:.2f} x + {b:.2f}")
        plt.legend()
        plt.title(f"linear regression ({args.mode}); final loss {losses[-1]:.3f}")
    save_plot(args, "linear_regression", draw)
    return {"loss": losses[-1], "weight": w, "bias": b}


if __name__ == "__main__":
    main()
