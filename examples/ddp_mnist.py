"""Data-parallel training of a small CNN on synthetic 28x28 "digits", on 1 or N processes.

Each process trains a replica on its share of every batch (DistributedSampler); the
gradients are averaged across processes (DistributedDataParallel), eagerly after each
`backward()` or inside one compiled step (--mode static: the eager step traced by
graphc.jit, or with --api compile the step's graph built on placeholders and compiled by
graphc.compile). N processes with batch B train the same numbers as one process with
batch N*B.

    pip install 'graphc[distributed]'                # mpi4py and the mpich wheel
    mpiexec -n 2 python examples/ddp_mnist.py --mode eager
    mpiexec -n 2 python examples/ddp_mnist.py --mode static
    mpiexec -n 2 python examples/ddp_mnist.py --mode static --api compile
    python examples/ddp_mnist.py                     # one process works too

The data are generated (the same on every rank, from --seed): class k is an image with a
bright stroke at a class-dependent position and angle, plus noise. No download needed.
"""
import sys

import numpy as np

import graphc as torch
import graphc.distributed as dist
import graphc.nn as nn
import graphc.optim as optim
from graphc.nn.parallel import DistributedDataParallel as DDP
from graphc.utils.data import DataLoader, DistributedSampler, TensorDataset
from _common import compile_target, parser


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 8, 3)        # 8 x 26 x 26
        self.pool = nn.MaxPool2d(2)           # 8 x 13 x 13
        self.fc = nn.Linear(8 * 13 * 13, 10)

    def forward(self, x):
        x = self.pool(torch.relu(self.conv(x)))
        return self.fc(torch.flatten(x, 1))


def synthetic_digits(n, seed):
    """n images 1 x 28 x 28 in [0, 1] and their labels 0..9."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n)
    yy, xx = np.mgrid[0:28, 0:28].astype(np.float32)
    images = rng.normal(0.0, 0.3, (n, 1, 28, 28)).astype(np.float32)
    for k in range(10):
        angle = np.pi * k / 10
        offset = 4.0 + k * 0.6
        stroke = np.abs((xx - 14) * np.cos(angle) + (yy - 14) * np.sin(angle) - offset) < 1.5
        images[labels == k, 0] += stroke
    return np.clip(images, 0, 1), labels.astype(np.int64)


def main(argv=None):
    p = parser(__doc__.splitlines()[0], epochs=2)
    p.add_argument("--batch-size", type=int, default=32, help="per process")
    p.add_argument("--samples", type=int, default=2048)
    p.add_argument("--api", choices=("jit", "compile"), default="jit",
                   help="--mode static: trace the eager step (jit) or build its graph on "
                        "placeholders (compile)")
    args = p.parse_args(argv)
    dist.init_process_group("mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
    images, labels = synthetic_digits(args.samples, args.seed)
    dataset = TensorDataset(torch.from_numpy(images), torch.from_numpy(labels))
    sampler = DistributedSampler(dataset, shuffle=True, seed=args.seed, drop_last=True)
    loader = DataLoader(dataset, batch_size=args.batch_size, sampler=sampler, drop_last=True)

    torch.manual_seed(args.seed + rank)  # different on each rank: DDP broadcasts rank 0's
    model = DDP(Net())
    optimizer = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()

    def train_step(x, y):
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()   # eager: averaged across ranks here; compiled: all_reduce nodes
        optimizer.step()
        return loss

    step = train_step
    if args.mode == "static" and args.api == "jit":
        step = torch.jit(train_step, target=compile_target(args.target))
    elif args.mode == "static":  # define-and-run: the DDP model on placeholders
        x = torch.placeholder((None, 1, 28, 28), name="x")
        y = torch.placeholder((None,), torch.int64, name="y")
        loss = loss_fn(model(x), y)  # its gradients: averaged by all_reduce nodes
        step = torch.compile(loss, [x, y], updates=optimizer.updates(loss),
                             target=compile_target(args.target))
        # (with the plain Net instead of DDP: torch.compile(..., distributed=True))
    losses = []
    for epoch in range(args.epochs):
        sampler.set_epoch(epoch)
        for x, y in loader:
            loss = step(x, y).detach()
            dist.all_reduce(loss, op=dist.ReduceOp.AVG)  # the loss of the whole batch
            losses.append(float(loss.item()))
    with torch.no_grad():
        predicted = model(torch.from_numpy(images)).argmax(1).numpy()
    accuracy = float((predicted == labels).mean())
    if rank == 0:
        print(f"{world} process(es), mode {args.mode}: {len(losses)} steps of "
              f"{args.batch_size} x {world} samples, final loss {losses[-1]:.6f}, "
              f"accuracy {accuracy:.3f}")
    dist.destroy_process_group()
    return {"losses": losses, "accuracy": accuracy, "world": world}


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
