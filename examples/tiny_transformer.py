"""A tiny causal transformer language model (Embedding + TransformerEncoder with a causal
mask + Linear) learns to continue a repeating character pattern, eagerly or as one compiled
step (forward, backward and AdamW with a OneCycle schedule).

    python examples/tiny_transformer.py --mode static

Metric: next-character accuracy on sequences starting at unseen offsets (> 0.95).
"""
import numpy as np

import graphc as torch
import graphc.nn as nn
import graphc.optim as optim
from _common import compile_step, compile_target, loss_curve, parser, progress, save_plot

TEXT = "graphc runs one op set two ways. "
VOCAB = sorted(set(TEXT))
CONTEXT = 12


def batches(rng, size):
    """(inputs, next characters) from random offsets into the repeating text."""
    ids = np.array([VOCAB.index(c) for c in TEXT * 4])
    starts = rng.integers(0, len(TEXT), size)
    windows = np.stack([ids[s:s + CONTEXT + 1] for s in starts])
    return torch.from_numpy(windows[:, :-1]), torch.from_numpy(windows[:, 1:])


class TinyLM(nn.Module):
    def __init__(self, vocab, d_model=32, nhead=4, layers=1):
        super().__init__()
        self.embed = nn.Embedding(vocab, d_model)
        self.position = nn.Parameter(torch.randn(1, CONTEXT, d_model) * 0.1)
        layer = nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward=64, dropout=0.0,
                                           batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.head = nn.Linear(d_model, vocab)
        self.register_buffer("causal", nn.Transformer.generate_square_subsequent_mask(CONTEXT),
                             persistent=False)

    def forward(self, tokens):
        x = self.embed(tokens) + self.position
        x = self.encoder(x, mask=self.causal, is_causal=True)
        return self.head(x)


def main(argv=None):
    args = parser(__doc__.splitlines()[0], steps=300).parse_args(argv)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    model = TinyLM(len(VOCAB))
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01)
    scheduler = optim.lr_scheduler.OneCycleLR(optimizer, max_lr=1e-2, total_steps=args.steps,
                                              cycle_momentum=False)

    def loss_of(tokens, targets):
        logits = model(tokens)
        return criterion(logits.reshape(-1, len(VOCAB)), targets.reshape(-1))

    if args.mode == "static":
        tokens = torch.placeholder((None, CONTEXT), torch.int64, name="tokens")
        targets = torch.placeholder((None, CONTEXT), torch.int64, name="targets")
        loss = loss_of(tokens, targets)
        step = compile_step(loss, [tokens, targets], compile_target(args.target),
                            updates=optimizer.updates(loss))
    else:
        def step(tokens, targets):
            optimizer.zero_grad()
            loss = loss_of(tokens, targets)
            loss.backward()
            optimizer.step()
            return loss

    losses = []
    for _ in progress(range(args.steps), desc=f"tiny transformer ({args.mode})"):
        losses.append(step(*batches(rng, 16)).item())
        scheduler.step()

    tokens, targets = batches(np.random.default_rng(args.seed + 1), 64)
    with torch.no_grad():
        predicted = model(tokens).numpy().argmax(-1)
    accuracy = float((predicted == targets.numpy()).mean())
    print(f"final loss {losses[-1]:.4f}; next-character accuracy {accuracy:.3f}")
    save_plot(args, "tiny_transformer", loss_curve(losses, "training loss"))
    return {"loss": losses[-1], "losses": losses, "accuracy": accuracy}


if __name__ == "__main__":
    main()
