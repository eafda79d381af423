"""What the examples share: flags, a progress bar, the compile target, the loss plot."""
from __future__ import annotations

import argparse
import os
import sys
import time

import graphc


def parser(description, steps=None, epochs=None):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--mode", choices=("eager", "static"), default="eager",
                   help="eager: define-by-run with .backward(); static: one compiled step")
    p.add_argument("--target", default="cpu",
                   help="compile target for --mode static (falls back to 'reference' when "
                        "the target is not available)")
    if steps is not None:
        p.add_argument("--steps", type=int, default=steps, help="training steps")
    if epochs is not None:
        p.add_argument("--epochs", type=int, default=epochs, help="training epochs")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--plot", default=None, help="where to save the plot (PNG); default: "
                                                "<example>_<mode>.png")
    p.add_argument("--no-plot", action="store_true", help="do not draw the plot")
    return p


def compile_target(name):
    """`name` if that compile target loads, else 'reference' (with a note)."""
    try:
        graphc.backends.get_target(name)
        return name
    except Exception as e:  # a missing optional target must not stop an example
        print(f"note: compile target {name!r} is not available ({e}); using 'reference'",
              file=sys.stderr)
        return "reference"


def compile_step(outputs, inputs, target, updates=None):
    """graphc.compile on `target`. Targets may compile at the first call (specialized to its
    shapes); if `target` cannot lower some op of this graph yet, say so and run the same
    graph on 'reference' instead."""
    exe = graphc.compile(outputs, inputs=inputs, updates=updates, target=target)
    if target == "reference":
        return exe
    state = {"exe": exe, "checked": False}

    def step(*args):
        if state["checked"]:
            return state["exe"](*args)
        try:
            result = state["exe"](*args)
        except graphc.UnsupportedError as e:  # raised while lowering, before anything ran
            first = str(e).splitlines()[0]
            print(f"note: target {target!r} cannot compile this graph ({first}); using "
                  f"'reference'", file=sys.stderr)
            state["exe"] = graphc.compile(outputs, inputs=inputs, updates=updates,
                                          target="reference")
            result = state["exe"](*args)
        state["checked"] = True
        return result
    return step


def progress(iterable, total=None, desc=""):
    """tqdm when it is installed, else a one-line bar on stderr."""
    try:
        from tqdm import tqdm
        return tqdm(iterable, total=total, desc=desc, leave=False)
    except ImportError:
        return _Bar(iterable, total, desc)


class _Bar:
    def __init__(self, iterable, total, desc):
        self.iterable, self.desc = iterable, desc
        self.total = total if total is not None else len(iterable)
        self.postfix = ""

    def set_postfix_str(self, text):
        self.postfix = text

    def __iter__(self):
        start, last = time.perf_counter(), 0.0
        live = sys.stderr.isatty()  # in a log, one line at the end instead of redraws
        for i, item in enumerate(self.iterable, 1):
            yield item
            now = time.perf_counter()
            if (live and now - last > 0.2) or i == self.total:
                last = now
                done = int(30 * i / max(self.total, 1))
                sys.stderr.write(f"\r{self.desc} [{'#' * done}{'.' * (30 - done)}] {i}/"
                                 f"{self.total} {now - start:.1f}s {self.postfix}")
                sys.stderr.flush()
        sys.stderr.write("\n")


def save_plot(args, name, draw):
    """Call draw(plt) and save the figure, when matplotlib is installed and plots are on."""
    if args.no_plot:
        return None
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("note: matplotlib is not installed; no plot", file=sys.stderr)
        return None
    path = args.plot or f"{name}_{args.mode}.png"
    fig = plt.figure(figsize=(6, 4))
    draw(plt)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    print(f"plot saved to {os.path.abspath(path)}")
    return path


def loss_curve(losses, title):
    def draw(plt):
        plt.plot(losses)
        plt.xlabel("step")
        plt.ylabel("loss")
        plt.yscale("log")
        plt.title(title)
    return draw
