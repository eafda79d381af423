"""A variational autoencoder on 6x6 binary "stroke" images, written as PyTorch's VAE example
writes its loss: BCE with the legacy size_average=False (a *sum* over the batch, exactly as
PyTorch maps it; issue 13's silent bug made it a mean) plus the KL term. Eagerly or as one
compiled step; the reparameterization noise is an input, so both modes see the same draws.

    python examples/vae.py --mode static

Metric: reconstruction BCE per image on held-out images (< 2 nats for 36 pixels).
"""
import warnings

import numpy as np

import graphc as torch
import graphc.nn as nn
import graphc.nn.functional as F
import graphc.optim as optim
from _common import compile_step, compile_target, loss_curve, parser, progress, save_plot

SIDE, LATENT = 6, 2


def strokes(rng, count):
    """One horizontal or vertical bar per image at a random row/column."""
    images = np.zeros((count, SIDE, SIDE), np.float32)
    where = rng.integers(0, SIDE, count)
    vertical = rng.random(count) < 0.5
    images[vertical, :, where[vertical]] = 1
    images[~vertical, where[~vertical], :] = 1
    return images.reshape(count, SIDE * SIDE)


class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(SIDE * SIDE, 32)
        self.fc21, self.fc22 = nn.Linear(32, LATENT), nn.Linear(32, LATENT)
        self.fc3, self.fc4 = nn.Linear(LATENT, 32), nn.Linear(32, SIDE * SIDE)

    def encode(self, x):
        h1 = F.relu(self.fc1(x))
        return self.fc21(h1), self.fc22(h1)

    def decode(self, z):
        return torch.sigmoid(self.fc4(F.relu(self.fc3(z))))

    def forward(self, x, eps):
        mu, logvar = self.encode(x)
        z = mu + eps * torch.exp(0.5 * logvar)
        return self.decode(z), mu, logvar


def loss_function(recon_x, x, mu, logvar):
    with warnings.catch_warnings():  # PyTorch's example uses the deprecated argument
        warnings.simplefilter("ignore")
        bce = F.binary_cross_entropy(recon_x, x, size_average=False)
    kld = -0.5 * torch.sum(1 + logvar - mu * mu - torch.exp(logvar))
    return bce + kld


def main(argv=None):
    args = parser(__doc__.splitlines()[0], steps=400).parse_args(argv)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    model = VAE()
    optimizer = optim.Adam(model.parameters(), lr=1e-2)

    if args.mode == "static":
        xs = torch.placeholder((None, SIDE * SIDE), name="x")
        es = torch.placeholder((None, LATENT), name="eps")
        recon, mu, logvar = model(xs, es)
        loss = loss_function(recon, xs, mu, logvar)
        step = compile_step(loss, [xs, es], compile_target(args.target),
                            updates=optimizer.updates(loss))
    else:
        def step(x, eps):
            optimizer.zero_grad()
            recon, mu, logvar = model(x, eps)
            loss = loss_function(recon, x, mu, logvar)
            loss.backward()
            optimizer.step()
            return loss

    losses = []
    for _ in progress(range(args.steps), desc=f"vae ({args.mode})"):
        batch = torch.from_numpy(strokes(rng, 32))
        eps = torch.from_numpy(rng.standard_normal((32, LATENT)).astype(np.float32))
        losses.append(step(batch, eps).item() / 32)  # (the summed loss, per image)

    test = torch.from_numpy(strokes(np.random.default_rng(args.seed + 1), 256))
    with torch.no_grad():
        mu, _ = model.encode(test)
        recon = model.decode(mu)
        bce = float(F.binary_cross_entropy(recon, test, reduction="sum")) / 256
    print(f"final loss per image {losses[-1]:.3f}; held-out reconstruction BCE {bce:.3f} nats")
    save_plot(args, "vae", loss_curve(losses, "loss per image (BCE sum + KL)"))
    return {"loss": losses[-1], "losses": losses, "bce": bce}


if __name__ == "__main__":
    main()
