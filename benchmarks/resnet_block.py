"""W9: an eager ResNet-18-style block stack, one SGD training step, graphc eager vs PyTorch
eager with the same weights.

stem (3x3 conv, BatchNorm, ReLU) -> `blocks` BasicBlocks (conv-BN-ReLU-conv-BN + identity,
ReLU) -> global average pool -> Linear -> cross-entropy. Both models are written with their
library's layers in the same order, so their parameters line up one to one and get the same
initial values. Full size: batch 64, 32x32 images, 16 channels (ResNet-18 CIFAR stage 1 is
64; 16 keeps one step near 0.1 s on the 2-core benchmark machine).
"""
from __future__ import annotations

import numpy as np

from .harness import EAGER, TORCH, guarded, measure, torch_module


def _size(settings):
    return dict(batch=4, image=8, channels=8, blocks=1) if settings.quick else \
        dict(batch=64, image=32, channels=16, blocks=2)


def _build(nn, channels, blocks, classes=10):
    """The stack with library `nn` (graphc.nn or torch.nn); forward written once."""
    class BasicBlock(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(channels)
            self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(channels)
            self.relu = nn.ReLU()

        def forward(self, x):
            out = self.relu(self.bn1(self.conv1(x)))
            return self.relu(self.bn2(self.conv2(out)) + x)

    class Stack(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Conv2d(3, channels, 3, padding=1, bias=False)
            self.bn = nn.BatchNorm2d(channels)
            self.relu = nn.ReLU()
            self.blocks = nn.Sequential(*[BasicBlock() for _ in range(blocks)])
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(channels, classes)

        def forward(self, x):
            x = self.blocks(self.relu(self.bn(self.stem(x))))
            return self.fc(self.pool(x).reshape(x.shape[0], -1))

    return Stack()


def _weights(model, seed):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(tuple(p.shape)).astype(np.float32) * 0.1
            for p in model.parameters()]


def _graphc_step(size, weights, x, y):
    import graphc as gc
    model = _build(gc.nn, size["channels"], size["blocks"])
    with gc.no_grad():
        for p, w in zip(model.parameters(), weights):
            p.copy_(gc.tensor(w))
    opt = gc.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    lossf = gc.nn.CrossEntropyLoss()
    xt, yt = gc.from_numpy(x), gc.from_numpy(y)

    def step():
        opt.zero_grad()
        loss = lossf(model(xt), yt)
        loss.backward()
        opt.step()
        return loss
    return step


def _torch_step(torch, size, weights, x, y):
    model = _build(torch.nn, size["channels"], size["blocks"])
    with torch.no_grad():
        for p, w in zip(model.parameters(), weights):
            p.copy_(torch.from_numpy(w))
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    lossf = torch.nn.CrossEntropyLoss()
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)

    def step():
        opt.zero_grad()
        loss = lossf(model(xt), yt)
        loss.backward()
        opt.step()
        return loss
    return step


def w9_resnet_blocks(settings):
    import graphc as gc
    size = _size(settings)
    rng = np.random.default_rng(9)
    x = rng.standard_normal((size["batch"], 3, size["image"], size["image"])).astype(np.float32)
    y = rng.integers(0, 10, size["batch"]).astype(np.int64)
    weights = _weights(_build(gc.nn, size["channels"], size["blocks"]), seed=9)
    out = [guarded("W9", EAGER, lambda: measure(
        "W9", EAGER, _graphc_step(size, weights, x, y), settings, "step"))]
    torch = torch_module(settings)
    if torch is not None:
        out.append(guarded("W9", TORCH, lambda: measure(
            "W9", TORCH, _torch_step(torch, size, weights, x, y), settings, "step")))
    return out
