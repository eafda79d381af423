"""A small ResNet (BasicBlocks: conv-BN-ReLU-conv-BN plus the identity or a strided 1x1
projection, global average pooling) classifies the orientation of noisy stripe images, with
SGD + momentum, weight decay and a MultiStepLR schedule; eagerly or as one compiled step
(BatchNorm's running statistics are part of the compiled updates).

    python examples/resnet_blocks.py --mode static

Metric: accuracy on held-out images in eval mode (> 0.95).
"""
import numpy as np

import graphc as torch
import graphc.nn as nn
import graphc.optim as optim
from _common import compile_step, compile_target, loss_curve, parser, progress, save_plot

SIDE, CLASSES = 8, 4


def stripes(rng, count):
    """Horizontal, vertical, diagonal or anti-diagonal stripes with noise (one class each)."""
    labels = rng.integers(0, CLASSES, count)
    i, j = np.meshgrid(np.arange(SIDE), np.arange(SIDE), indexing="ij")
    pattern = [i, j, i + j, i - j]  # lines every 3 pixels, in four directions
    phase = rng.integers(0, 3, count)
    images = np.stack([((pattern[c] + p) % 3 == 0).astype(np.float32)
                       for c, p in zip(labels, phase)])
    images += rng.normal(0, 0.3, images.shape).astype(np.float32)
    return images[:, None], labels


class BasicBlock(nn.Module):
    def __init__(self, inplanes, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or inplanes != planes:
            self.downsample = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride, bias=False),
                                            nn.BatchNorm2d(planes))

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class ResNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1, bias=False),
                                  nn.BatchNorm2d(8), nn.ReLU(inplace=True))
        self.layers = nn.Sequential(BasicBlock(8, 8), BasicBlock(8, 16, stride=2))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(16, CLASSES)

    def forward(self, x):
        x = self.pool(self.layers(self.stem(x)))
        return self.fc(torch.flatten(x, 1))


def main(argv=None):
    args = parser(__doc__.splitlines()[0], steps=120).parse_args(argv)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    model = ResNet()
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4)
    scheduler = optim.lr_scheduler.MultiStepLR(optimizer, milestones=[80, 100], gamma=0.3)

    if args.mode == "static":
        xs = torch.placeholder((None, 1, SIDE, SIDE), name="images")
        ys = torch.placeholder((None,), torch.int64, name="labels")
        loss = criterion(model(xs), ys)
        updates = {**optimizer.updates(loss), **model.buffer_updates()}
        step = compile_step(loss, [xs, ys], compile_target(args.target), updates=updates)
    else:
        def step(x, y):
            optimizer.zero_grad()
            loss = criterion(model(x), y)
            loss.backward()
            optimizer.step()
            return loss

    losses = []
    for _ in progress(range(args.steps), desc=f"resnet ({args.mode})"):
        images, labels = stripes(rng, 32)
        losses.append(step(torch.from_numpy(images), torch.from_numpy(labels)).item())
        scheduler.step()

    images, labels = stripes(np.random.default_rng(args.seed + 1), 400)
    model.eval()
    with torch.no_grad():
        accuracy = float((model(torch.from_numpy(images)).numpy().argmax(1) == labels).mean())
    print(f"final loss {losses[-1]:.4f}; held-out accuracy {accuracy:.3f}")
    save_plot(args, "resnet_blocks", loss_curve(losses, "training loss"))
    return {"loss": losses[-1], "losses": losses, "accuracy": accuracy,
            "running_mean": model.stem[1].running_mean.numpy().copy()}


if __name__ == "__main__":
    main()
