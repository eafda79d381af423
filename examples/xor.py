"""XOR with a 2-3-1 sigmoid MLP, MSE loss and SGD (lr 0.1), eagerly or as one compiled step.

    python examples/xor.py --mode eager
    python examples/xor.py --mode static --target cpu
"""
import graphc as torch
import graphc.nn as nn
import graphc.optim as optim
from _common import compile_step, compile_target, loss_curve, parser, progress, save_plot


def build(seed=0):
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(2, 3), nn.Sigmoid(), nn.Linear(3, 1), nn.Sigmoid())
    return model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.1, momentum=0.9)


def data():
    return (torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]),
            torch.tensor([[0.0], [1.0], [1.0], [0.0]]))


def train_step(target="cpu"):
    """The compiled training step, for `graphc dump|draw examples/xor.py:train_step`."""
    model, criterion, optimizer = build()
    xs, ys = torch.placeholder((None, 2), name="x"), torch.placeholder((None, 1), name="y")
    loss = criterion(model(xs), ys)
    return torch.compile(loss, [xs, ys], updates=optimizer.updates(loss),
                         target=compile_target(target))


def eager_loss():
    """One eager forward pass, for drawing its tape: `graphc draw examples/xor.py:eager_loss`."""
    model, criterion, _ = build()
    x, y = data()
    return criterion(model(x), y)


def main(argv=None):
    args = parser(__doc__, steps=3000).parse_args(argv)
    model, criterion, optimizer = build(args.seed)
    x, y = data()

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
    bar = progress(range(args.steps), desc=f"xor ({args.mode})")
    for i in bar:
        losses.append(step(x, y).item())
        if i % 100 == 0 and hasattr(bar, "set_postfix_str"):
            bar.set_postfix_str(f"loss {losses[-1]:.4f}")

    with torch.no_grad():
        out = model(x).numpy().ravel()
    print(f"final loss {losses[-1]:.5f}; outputs for (0,0) (0,1) (1,0) (1,1): "
          + " ".join(f"{v:.3f}" for v in out))
    save_plot(args, "xor", loss_curve(losses, f"XOR, {args.mode} mode"))
    return {"loss": losses[-1], "outputs": out.tolist()}


if __name__ == "__main__":
    main()
