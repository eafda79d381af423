"""Gradients of y = 2 x^2 + 2 over a range of x: y.sum().backward() eagerly, or
graphc.grad on a symbolic graph; dy/dx must be 4x.

    python examples/gradients.py --mode static
"""
import numpy as np

import graphc as torch
from _common import compile_step, compile_target, parser, save_plot


def main(argv=None):
    p = parser(__doc__)
    p.add_argument("--points", type=int, default=101)
    args = p.parse_args(argv)
    xs = np.linspace(-5, 5, args.points, dtype=np.float32)

    if args.mode == "eager":
        x = torch.tensor(xs, requires_grad=True)
        y = 2 * x ** 2 + 2
        y.sum().backward()
        y_values, dy_dx = y.detach().numpy(), x.grad.numpy()
    else:
        x = torch.placeholder((None,), name="x")
        y = 2 * x ** 2 + 2
        dy = torch.grad(y.sum(), x)  # reverse mode as a graph transform
        run = compile_step([y, dy], [x], compile_target(args.target), what="y and dy/dx")
        y_values, dy_dx = (t.numpy() for t in run(xs))

    error = float(np.abs(dy_dx - 4 * xs).max())
    print(f"max |dy/dx - 4x| = {error:.2e} over {len(xs)} points in [-5, 5]")

    def draw(plt):
        plt.plot(xs, y_values, label="y = 2x^2 + 2")
        plt.plot(xs, dy_dx, label="dy/dx")
        plt.axhline(0, color="gray", lw=0.5)
        plt.legend()
        plt.title(f"y and its gradient ({args.mode} mode)")
    save_plot(args, "gradients", draw)
    return {"max_error": error}


if __name__ == "__main__":
    main()
