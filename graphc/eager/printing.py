"""How eager tensors print: PyTorch's rules (torch/_tensor_str.py), so that output reads, and
diffs, like PyTorch's: 4 digits after the point for floats, integer-valued floats as `2.`,
scientific notation when the magnitudes span more than 1000x (or pass 1e8, or go under 1e-4),
right-aligned columns, rows wrapped at 80 characters, and more than 1000 elements summarized
with `...` around 3 edge items."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass
class PrintOptions:
    precision: int = 4
    threshold: int = 1000
    edgeitems: int = 3
    linewidth: int = 80
    sci_mode: bool | None = None


PRINT_OPTS = PrintOptions()


def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None,
                     profile=None, sci_mode=None):
    """torch.set_printoptions: profile "default", "short" or "full", or single options."""
    if profile is not None:
        presets = {"default": (4, 1000, 3, 80), "short": (2, 1000, 2, 80),
                   "full": (4, math.inf, 3, 80)}
        if profile not in presets:
            raise ValueError(f"set_printoptions: unknown profile {profile!r}; profiles: "
                             f"{', '.join(presets)}")
        (PRINT_OPTS.precision, PRINT_OPTS.threshold, PRINT_OPTS.edgeitems,
         PRINT_OPTS.linewidth) = presets[profile]
    for name, value in (("precision", precision), ("threshold", threshold),
                        ("edgeitems", edgeitems), ("linewidth", linewidth)):
        if value is not None:
            setattr(PRINT_OPTS, name, value)
    PRINT_OPTS.sci_mode = sci_mode


class _Formatter:
    """One width and notation for every element of a tensor (or of its summarized edges)."""

    def __init__(self, arr):
        self.floating = arr.dtype.kind == "f"
        self.int_mode, self.sci_mode, self.max_width = True, False, 1
        flat = arr.reshape(-1)
        if not self.floating:
            for v in flat.tolist():
                self.max_width = max(self.max_width, len(_plain(v)))
            return
        with np.errstate(all="ignore"):
            vals = flat[np.isfinite(flat) & (flat != 0)].astype(np.float64)
        p = PRINT_OPTS.precision
        if vals.size:
            absolute = np.abs(vals)
            lo, hi = float(absolute.min()), float(absolute.max())
            self.int_mode = bool(np.all(vals == np.ceil(vals)))
            if self.int_mode:
                self.sci_mode = hi / lo > 1000.0 or hi > 1.0e8
                widths = [len(f"{v:.{p}e}") if self.sci_mode else len(f"{v:.0f}") + 1
                          for v in vals.tolist()]
            else:
                self.sci_mode = hi / lo > 1000.0 or hi > 1.0e8 or lo < 1.0e-4
                widths = [len(f"{v:.{p}e}" if self.sci_mode else f"{v:.{p}f}")
                          for v in vals.tolist()]
            self.max_width = max(widths)
        if PRINT_OPTS.sci_mode is not None:
            self.sci_mode = PRINT_OPTS.sci_mode

    def format(self, value):
        p = PRINT_OPTS.precision
        if not self.floating:
            text = _plain(value)
        elif self.sci_mode:
            text = f"{value:{self.max_width}.{p}e}"
        elif self.int_mode:
            text = f"{value:.0f}" + ("" if math.isinf(value) or math.isnan(value) else ".")
        else:
            text = f"{value:.{p}f}"
        return " " * (self.max_width - len(text)) + text


def _plain(v):
    return str(v)  # ints, bools (True / False) as Python prints them


def _summarized(arr):
    """The edge items the formatter sees when the tensor is summarized."""
    e = PRINT_OPTS.edgeitems
    if arr.ndim == 0:
        return arr
    if arr.shape[0] > 2 * e:
        return np.concatenate([_summarized(arr[:e]), _summarized(arr[-e:])])
    return np.stack([_summarized(x) for x in arr]) if arr.ndim > 1 else arr


def _vector(arr, indent, summarize, fmt):
    element = fmt.max_width + 2
    per_line = max(1, int(math.floor((PRINT_OPTS.linewidth - indent) / element)))
    e = PRINT_OPTS.edgeitems
    if summarize and not e:
        data = ["..."]
    elif summarize and arr.shape[0] > 2 * e:
        data = ([fmt.format(v) for v in arr[:e].tolist()] + [" ..."]
                + [fmt.format(v) for v in arr[-e:].tolist()])
    else:
        data = [fmt.format(v) for v in arr.tolist()]
    lines = [", ".join(data[i:i + per_line]) for i in range(0, len(data), per_line)]
    return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"


def _nested(arr, indent, summarize, fmt):
    if arr.ndim == 0:
        return fmt.format(arr.item())
    if arr.ndim == 1:
        return _vector(arr, indent, summarize, fmt)
    e = PRINT_OPTS.edgeitems
    if summarize and arr.shape[0] > 2 * e:
        parts = ([_nested(arr[i], indent + 1, summarize, fmt) for i in range(e)] + ["..."]
                 + [_nested(arr[i], indent + 1, summarize, fmt)
                    for i in range(arr.shape[0] - e, arr.shape[0])])
    else:
        parts = [_nested(x, indent + 1, summarize, fmt) for x in arr]
    return "[" + ("," + "\n" * (arr.ndim - 1) + " " * (indent + 1)).join(parts) + "]"


def array_str(arr, indent):
    """The bracketed body of a tensor's repr (the part after `tensor(`)."""
    if arr.size == 0:
        return "[]"
    if arr.dtype == np.float16:
        arr = arr.astype(np.float32)
    summarize = arr.size > PRINT_OPTS.threshold
    fmt = _Formatter(_summarized(arr) if summarize else arr)
    return _nested(arr, indent, summarize, fmt)


def tensor_repr(arr, suffixes, prefix="tensor("):
    """PyTorch's layout: prefix, body, then `, suffix` items (wrapped at the line width)."""
    indent = len(prefix)
    if arr.size == 0 and arr.ndim != 1:
        suffixes = [f"size={tuple(arr.shape)}"] + list(suffixes)
    text = prefix + array_str(arr, indent)
    parts, last = [text], len(text) - text.rfind("\n") + 1
    for s in suffixes:
        if last + len(s) + 2 > PRINT_OPTS.linewidth:
            parts.append(",\n" + " " * indent + s)
            last = indent + len(s)
        else:
            parts.append(", " + s)
            last += len(s) + 2
    return "".join(parts) + ")"
