"""What the examples share: flags, a progress bar, the compile target, the loss plot."""
from __future__ import annotations

import argparse
import os
import sys
import time

import graphc


def parser(doc, steps=None, epochs=None):
    """The examples' shared flags; `doc` is the example's docstring (its first paragraph
    describes it, the rest shows how to run it)."""
    about, _, usage = doc.strip().partition("\n\n")
    p = argparse.ArgumentParser(description=about, epilog=usage or None,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mode", choices=("eager", "static"), default="eager",
                   help="eager: define-by-run with .backward(); static: one compiled step")
    p.add_argument("--target", default="cpu",
                   help="compile target for --mode static: cpu, cuda or reference (when it "
                        "is not available here, the best one that is, with a note)")
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
    """`name` if that compile target runs here, else the best one that does (with a note)."""
    from graphc.backends import default_target, unavailable_reason
    why = unavailable_reason(name)
    if why is None:
        return name
    fallback = default_target()  # a missing optional target must not stop an example
    print(f"note: compile target {name!r} is not available here ({why}); using {fallback!r}",
          file=sys.stderr)
    return fallback


def compile_step(outputs, inputs, target, updates=None, what="the training step"):
    """graphc.compile on `target`, saying so: targets compile at the first call (specialized
    to its shapes), which is timed and reported. If `target` cannot lower some op of this
    graph yet, say so and run the same graph on 'reference' instead."""
    exe = graphc.compile(outputs, inputs=inputs, updates=updates, target=target)
    if target == "reference":
        print(f"{what}: {len(exe.graph.nodes)} nodes, run node by node on NumPy (target "
              f"'reference': nothing to compile)", flush=True)
        return exe
    state = {"exe": exe, "checked": False}

    def step(*args):
        if state["checked"]:
            return state["exe"](*args)
        print(f"compiling {what} ({len(exe.graph.nodes)} nodes) for target {target!r} ...",
              flush=True)
        start = time.perf_counter()
        try:
            result = state["exe"](*args)
            print(f"compiled {what} in {time.perf_counter() - start:.1f} s (or loaded it from "
                  f"graphc's compile cache, which the next run of the same graph uses)",
                  flush=True)
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


def loss_curve(losses, title, xlabel="step"):
    def draw(plt):
        plt.plot(losses)
        plt.xlabel(xlabel)
        plt.ylabel("loss")
        plt.yscale("log")
        plt.title(title)
    return draw
