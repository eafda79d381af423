"""Sine-wave sequence prediction with two LSTMCells trained by L-BFGS (strong-Wolfe line
search), after PyTorch's time_sequence_prediction example. In eager mode the closure runs
forward and backward eagerly; in static mode it calls one compiled function that returns
the loss and every gradient, and writes them into .grad for LBFGS.

    python examples/lbfgs_sequence.py --mode static

Metric: mean squared error of the one-step-ahead prediction on unseen waves, after a
warm-up of WARMUP steps (< 1e-3).
"""
import numpy as np

import graphc as torch
import graphc.nn as nn
import graphc.optim as optim
from _common import compile_step, compile_target, loss_curve, parser, save_plot

HIDDEN, LENGTH, WARMUP = 16, 40, 5


def waves(rng, count):
    """sin(t / 4 + phase) on LENGTH steps: inputs are steps 0..L-2, targets 1..L-1."""
    t = np.arange(LENGTH) + rng.integers(-20, 20, (count, 1))
    data = np.sin(t / 4.0)
    return torch.from_numpy(data[:, :-1]), torch.from_numpy(data[:, 1:])


class Sequence(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm1 = nn.LSTMCell(1, HIDDEN)
        self.lstm2 = nn.LSTMCell(HIDDEN, HIDDEN)
        self.linear = nn.Linear(HIDDEN, 1)

    def forward(self, input):
        outputs, state1, state2 = [], None, None
        for input_t in input.split(1, dim=1):
            state1 = self.lstm1(input_t, state1)
            state2 = self.lstm2(state1[0], state2)
            outputs.append(self.linear(state2[0]))
        return torch.cat(outputs, dim=1)


def main(argv=None):
    args = parser(__doc__.splitlines()[0], steps=6).parse_args(argv)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    inputs, targets = waves(rng, 16)
    model = Sequence().double()
    criterion = nn.MSELoss()
    optimizer = optim.LBFGS(model.parameters(), lr=0.8, max_iter=10,
                            line_search_fn="strong_wolfe")
    params = list(model.parameters())

    if args.mode == "static":
        x = torch.placeholder((None, LENGTH - 1), torch.float64, name="x")
        y = torch.placeholder((None, LENGTH - 1), torch.float64, name="y")
        loss = criterion(model(x), y)
        loss_and_grads = compile_step([loss] + torch.grad(loss, params), [x, y],
                                      compile_target(args.target))

        def closure():
            loss, *grads = loss_and_grads(inputs, targets)
            for p, g in zip(params, grads):
                p.grad = g
            return loss
    else:
        def closure():
            optimizer.zero_grad()
            loss = criterion(model(inputs), targets)
            loss.backward()
            return loss

    losses = []
    for i in range(args.steps):
        losses.append(float(optimizer.step(closure)))
        print(f"step {i}: loss {losses[-1]:.3e}")

    test_in, test_out = waves(np.random.default_rng(args.seed + 1), 4)
    with torch.no_grad():
        error = (model(test_in) - test_out).numpy()[:, WARMUP:]
    mse = float((error ** 2).mean())
    print(f"test MSE {mse:.2e}")
    save_plot(args, "lbfgs_sequence", loss_curve(losses, "loss after each L-BFGS step"))
    return {"loss": losses[-1], "losses": losses, "test_mse": mse}


if __name__ == "__main__":
    main()
