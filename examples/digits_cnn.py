"""A small CNN on scikit-learn's bundled 8x8 digit images (Conv2d, ReLU, MaxPool2d, Dropout,
Linear, LogSoftmax + NLL, Adadelta lr 0.5), eagerly or with one compiled training step.

    pip install scikit-learn        # an optional dependency of the examples
    python examples/digits_cnn.py --mode static
"""
import sys

import numpy as np

import graphc as torch
import graphc.nn as nn
import graphc.nn.functional as F
import graphc.optim as optim
from graphc.utils.data import DataLoader, TensorDataset
from _common import compile_step, compile_target, loss_curve, parser, progress, save_plot


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)   # 16 x 8 x 8
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)  # 32 x 4 x 4 after the first pool
        self.dropout1 = nn.Dropout(0.25)
        self.fc1 = nn.Linear(32 * 2 * 2, 64)
        self.dropout2 = nn.Dropout(0.5)
        self.fc2 = nn.Linear(64, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(self.dropout1(x), 1)
        x = self.dropout2(F.relu(self.fc1(x)))
        return F.log_softmax(self.fc2(x), dim=1)


def load_digits(seed):
    try:
        from sklearn.datasets import load_digits as sklearn_digits
    except ImportError:
        sys.exit("digits_cnn needs scikit-learn for its bundled digits: pip install scikit-learn")
    digits = sklearn_digits()
    images = (digits.images / 16.0).astype(np.float32)[:, None]  # N x 1 x 8 x 8 in [0, 1]
    labels = digits.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(labels))
    split = int(0.8 * len(order))
    train, test = order[:split], order[split:]
    return (torch.from_numpy(images[train]), torch.from_numpy(labels[train]),
            torch.from_numpy(images[test]), torch.from_numpy(labels[test]))


def train_step(target="cpu"):
    """The compiled training step, for `graphc dump|draw examples/digits_cnn.py:train_step`."""
    torch.manual_seed(0)
    model = Net()
    optimizer = optim.Adadelta(model.parameters(), lr=0.5)
    images = torch.placeholder((None, 1, 8, 8), name="images")
    labels = torch.placeholder((None,), torch.long, name="labels")
    loss = F.nll_loss(model(images), labels)
    return torch.compile(loss, [images, labels], target=compile_target(target),
                         updates={**optimizer.updates(loss), **model.buffer_updates()})


def eager_loss():
    """One eager forward pass on 4 images, for drawing its tape."""
    torch.manual_seed(0)
    model = Net()
    return F.nll_loss(model(torch.rand(4, 1, 8, 8)), torch.tensor([0, 1, 2, 3]))


def main(argv=None):
    p = parser(__doc__, epochs=12)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--limit", type=int, default=None, help="use only this many training "
                                                           "images (quick runs)")
    args = p.parse_args(argv)
    torch.manual_seed(args.seed)
    x_train, y_train, x_test, y_test = load_digits(args.seed)
    if args.limit:
        x_train, y_train = x_train[:args.limit], y_train[:args.limit]
    loader = DataLoader(TensorDataset(x_train, y_train), batch_size=args.batch_size,
                        shuffle=True)
    model = Net()
    optimizer = optim.Adadelta(model.parameters(), lr=0.5)

    if args.mode == "static":
        target = compile_target(args.target)
        images = torch.placeholder((None, 1, 8, 8), name="images")
        labels = torch.placeholder((None,), torch.long, name="labels")
        loss = F.nll_loss(model(images), labels)
        # parameters + Adadelta's state + the dropout seed: all updated by the one program
        step = compile_step(loss, [images, labels], target,
                            updates={**optimizer.updates(loss), **model.buffer_updates()})
        model.eval()
        predict = compile_step(model(images).argmax(1), [images], target,
                               what="the prediction step")
        model.train()
    else:
        def step(xb, yb):
            optimizer.zero_grad()
            loss = F.nll_loss(model(xb), yb)
            loss.backward()
            optimizer.step()
            return loss

        def predict(xb):
            with torch.no_grad():
                return model(xb).argmax(1)

    losses = []
    bar = progress(range(args.epochs), desc=f"digits ({args.mode})")
    for epoch in bar:
        model.train()
        total = sum(step(xb, yb).item() * len(yb) for xb, yb in loader)
        losses.append(total / len(y_train))
        model.eval()
        accuracy = float((predict(x_test).numpy() == y_test.numpy()).mean())
        if hasattr(bar, "set_postfix_str"):
            bar.set_postfix_str(f"loss {losses[-1]:.3f} test accuracy {accuracy:.3f}")

    print(f"final training loss {losses[-1]:.4f}; test accuracy {100 * accuracy:.2f}% "
          f"({len(y_test)} held-out images)")
    save_plot(args, "digits_cnn", loss_curve(losses, f"digits CNN, {args.mode} mode", xlabel="epoch"))
    return {"loss": losses[-1], "accuracy": accuracy}


if __name__ == "__main__":
    main()
