"""Regression of y = 2 * sqrt(x1^2 + x2^2) + noise on the 201 x 201 grid over [-10, 10]^2
with a 2-3-1 MLP (full-batch Adam), eagerly or as one compiled step.

    python examples/regression.py --mode static
"""
import numpy as np

import graphc as torch
import graphc.nn as nn
import graphc.optim as optim
from _common import compile_step, compile_target, loss_curve, parser, progress, save_plot


def make_data(seed):
    grid = np.linspace(-10, 10, 201, dtype=np.float32)
    x1, x2 = np.meshgrid(grid, grid)
    x = np.stack([x1.ravel(), x2.ravel()], axis=1)
    noise = np.random.default_rng(seed).normal(0, 0.5, len(x)).astype(np.float32)
    y = 2 * np.sqrt((x ** 2).sum(1)) + noise
    return torch.from_numpy(x), torch.from_numpy(y[:, None])


def main(argv=None):
    args = parser(__doc__, steps=1500).parse_args(argv)
    torch.manual_seed(args.seed)
    x, y = make_data(args.seed)
    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    criterion = nn.MSELoss()
    optimizer = optim.Adam(model.parameters(), lr=0.05)
    scheduler = optim.lr_scheduler.StepLR(optimizer, step_size=500, gamma=0.3)

    if args.mode == "static":
        xs = torch.placeholder((None, 2), name="x")
        ys = torch.placeholder((None, 1), name="y")
        loss = criterion(model(xs), ys)
        step = compile_step(loss, [xs, ys], compile_target(args.target),
                            updates=optimizer.updates(loss))
    else:
        def step(x, y):
            optimizer.zero_grad()
            loss = criterion(model(x), y)
            loss.backward()
            optimizer.step()
            return loss

    losses = []
    for _ in progress(range(args.steps), desc=f"regression ({args.mode})"):
        losses.append(step(x, y).item())
        scheduler.step()  # the lr lives in a variable: compiled steps see the schedule too

    with torch.no_grad():
        pred = model(x).numpy()
    target = y.numpy()
    r2 = 1 - ((pred - target) ** 2).sum() / ((target - target.mean()) ** 2).sum()
    print(f"final MSE {losses[-1]:.4f} (noise variance 0.25); R^2 {r2:.4f}")

    def draw(plt):
        plt.subplot(1, 2, 1)
        loss_curve(losses, "training loss")(plt)
        plt.subplot(1, 2, 2)
        plt.imshow(pred.reshape(201, 201), extent=(-10, 10, -10, 10), origin="lower")
        plt.title("prediction")
        plt.colorbar()
    save_plot(args, "regression", draw)
    return {"loss": losses[-1], "r2": float(r2)}


if __name__ == "__main__":
    main()
