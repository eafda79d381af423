"""The code emitter: lines of the program function, buffer addressing, loop nests.

Every value lives in a flat 1-D array (an input, a variable, an output, or a slot of a
constant or work arena); a layout (passes/layout.py) says where its elements are.

Two shapes of output (graphc/lower/program.py): a whole-step program, where every address
is a literal into the program's arrays, and separate kernels, where each step is emitted
between `begin_kernel` and `end_kernel`: the arrays a step touches become the kernel's
parameters (each a 1-D view starting where the value starts), so its text holds no offsets
relative to its operands and identical layers give identical kernels. Sizes a kernel takes
as arguments (`size`) let, e.g., every Adam update share one kernel.
"""
from __future__ import annotations

import itertools
import re

from ..ops import leaves
from .scalar import CTOR, literal


def sanitize(name, limit=24):
    """An identifier fragment made of [A-Za-z0-9_] only (user names never reach code raw)."""
    text = re.sub(r"[^A-Za-z0-9_]", "_", str(name or ""))[:limit]
    return text.strip("_")


def comment_text(text, limit=100):
    """Printable ASCII on one line: safe inside a # comment."""
    return "".join(c if 32 <= ord(c) < 127 else "?" for c in str(text))[:limit]


# Rows at least this wide take their width as a kernel argument (dense_rows).
DENSE_ROW_MIN_WIDTH = 4


class Emitter:
    def __init__(self, plan):
        self.plan = plan
        self.lines = []
        self.depth = 1
        self.tmp = itertools.count()
        self.array_names = {}   # root value -> (array name, base offset)
        self.errors = []        # error code - 1 -> (node, message)
        self.returns = ""       # ", out0, out1": what every return statement hands back
        self.parallel_kernels = []  # [(function name, body lines)]
        self.params = ""        # the program's array parameters, passed on to kernels
        self.kernel = None      # the KernelFrame being emitted (kernel mode), else None

    # ---- text ----------------------------------------------------------------------------
    def line(self, text):
        self.lines.append("    " * self.depth + text)

    def comment(self, text):
        self.line("# " + comment_text(text))

    def fresh(self, prefix="t"):
        name = f"{prefix}{next(self.tmp)}"
        return self.fresh(prefix) if name in _RESERVED else name

    def error(self, node, message, value, indent=0):
        """Return an error code (mapped to `node` by the runner) with an offending value.
        A kernel returns its own numbering (1, 2, ...): the program adds its first code."""
        self.errors.append((node, message))
        code = len(self.errors)
        if self.kernel is not None:
            code -= self.kernel.first_error
            self.kernel.raises = True
        self.line("    " * indent + f"return {code}, i64({value}){self.returns}")

    # ---- kernel mode ------------------------------------------------------------------------
    def begin_kernel(self):
        """Emit the next lines into a kernel of their own (see the module docstring)."""
        self.kernel = KernelFrame(self)
        self._saved = (self.lines, self.depth, self.tmp)
        self.lines, self.depth, self.tmp = self.kernel.lines, 1, itertools.count()

    def end_kernel(self):
        frame, self.kernel = self.kernel, None
        self.lines, self.depth, self.tmp = self._saved
        return frame

    def size(self, n):
        """A size in the code: a kernel's argument in kernel mode, else a literal."""
        if self.kernel is None or n == 1:
            return str(n)
        return self.kernel.argument(("size", int(n)), prefix="n")

    def bounds(self, shape):
        """Loop bounds for a nest over `shape`: the outermost one is a kernel argument (in a
        dense walk the strides never involve it, so one kernel serves every batch size and
        every length of a 1-D loop); inner bounds stay literals for LLVM's vectorizer."""
        return [self.size(shape[0])] + list(shape[1:]) if shape else []

    def dense_rows(self, cshape, stride_sets):
        """Bounds and strides for a collapsed loop nest. In a kernel, a 2-D nest takes both
        its bounds as arguments and writes a dim-0 stride equal to the row length as that
        argument (a dense row), so one kernel serves every width (a bias add, a column sum,
        a row softmax of any size); other nests, and rows narrower than
        DENSE_ROW_MIN_WIDTH, get `bounds` (a literal width of 2 or 3 is unrolled by LLVM:
        W2's (40401, 3) steps ran 2x slower with the width an argument)."""
        if self.kernel is None or len(cshape) != 2 or cshape[1] < DENSE_ROW_MIN_WIDTH:
            return self.bounds(cshape), stride_sets
        rows, width = self.size(cshape[0]), self.size(cshape[1])
        return [rows, width], [[width if s[0] == cshape[1] else s[0]] + list(s[1:])
                               for s in stride_sets]

    def layout(self, value):
        return self.plan.layouts[value]

    def array_of(self, value):
        """(array name, element offset of the value's first element). In kernel mode the
        array is a kernel parameter: a view that starts at the lowest element the value
        reaches, so that the same op on another slice of a buffer (time step t of a
        sequence, layer k of a stack) has the same text."""
        lay = self.layout(value)
        name, base = self.array_names[lay.root]
        if self.kernel is None:
            return name, base + lay.offset
        low = lay.offset + sum(st * (d - 1) for st, d in zip(lay.strides, lay.shape)
                               if st < 0 and d > 0)
        param = self.kernel.argument(("array", name, base + low, lay.root.type.numel() - low,
                                      value.dtype.name))
        return param, lay.offset - low

    def address(self, value, index):
        """index: one expression per dim of the value (broadcast dims may be anything)."""
        lay = self.layout(value)
        name, base = self.array_of(value)
        return f"{name}[{_linear(base, lay.strides, lay.shape, index)}]"

    def scalar_constant(self, value):
        """A literal for a one-element constant (read as a number, not from memory)."""
        lay = self.layout(value)
        node = lay.root.node
        if node.op is not leaves.constant or node.attrs["value"].size != 1:
            return None
        return literal(node.attrs["value"].reshape(()).item(), value.dtype.name)

    def load(self, value, index):
        return self.scalar_constant(value) or self.address(value, index)

    def view2d(self, value, offset_expr, rows, cols, row_stride, col_stride, sizes=None):
        """A 2-D array expression over a value's buffer (C order or a transposed C block).
        sizes: the (rows, cols) expressions to write, when they are kernel arguments."""
        view = matrix_view(rows, cols, row_stride, col_stride)
        if view is None:
            return None
        name, _ = self.array_of(value)
        r, c = sizes or (rows, cols)
        n = f"{r} * {c}" if sizes else rows * cols
        if view[1]:  # transposed
            return f"{name}[{offset_expr}:{offset_expr} + {n}].reshape(({c}, {r})).T"
        return f"{name}[{offset_expr}:{offset_expr} + {n}].reshape(({r}, {c}))"

    # ---- loops -----------------------------------------------------------------------------------
    def loops(self, sizes, names=None, parallel=False):
        """Open a loop nest over `sizes` (literal); returns the index variable names.
        parallel: the outermost loop is a prange (only inside a parallel kernel)."""
        names = names or [self.fresh("i") for _ in sizes]
        for k, (n, s) in enumerate(zip(names, sizes)):
            loop = "prange" if parallel and k == 0 else "range"
            self.line(f"for {n} in {loop}({s}):")
            self.depth += 1
        return names

    def separate(self, name):
        """Emit into a module-level function `name` until `end_separate` (a parallel kernel,
        compiled with parallel=True apart from the program, which it is called from).
        In kernel mode the kernel itself is compiled with parallel=True."""
        if self.kernel is not None:
            self.kernel.parallel = True
            return
        self._saved_parallel = (self.lines, self.depth)
        self.lines, self.depth = [], 1
        self.parallel_kernels.append((name, self.lines))

    def end_separate(self, call_args):
        if self.kernel is not None:
            return
        name = self.parallel_kernels[-1][0]
        self.lines, self.depth = self._saved_parallel
        self.line(f"{name}({call_args})")

    def close(self, count):
        self.depth -= count


class KernelFrame:
    """What one kernel needs: its lines, and its arguments in order of first use, each an
    ("array", program array name, base offset, size, dtype) or ("size", n) description."""

    def __init__(self, em):
        self.lines = []
        self.args = []          # descriptions, in parameter order
        self.names = {}         # description -> parameter name
        self.first_error = len(em.errors)
        self.raises = False     # returns (code, value): some index check may fail
        self.parallel = False
        self.helpers = set()

    def argument(self, description, prefix="a"):
        name = self.names.get(description) if description[0] == "array" else None
        if name is None:
            name = f"{prefix}{len(self.args)}"
            self.args.append(description)
            if description[0] == "array":
                self.names[description] = name
        return name


_RESERVED = {"i8", "i16", "i32", "i64", "u8", "f32", "f64"}  # dtype names in generated code


def _linear(offset, strides, shape, index):
    terms = [str(offset)] if offset else []
    for i, st, d in zip(index, strides, shape):
        if st == 0 or d == 1:
            continue
        terms.append(i if st == 1 else f"{i} * {st}")
    return " + ".join(terms) or "0"


def matrix_view(rows, cols, row_stride, col_stride):
    """How a 2-D operand sits in its flat buffer: (shape to reshape to, transposed), or None
    when BLAS cannot read it (neither a C block nor a transposed one)."""
    if col_stride == 1 and (row_stride == cols or rows == 1):
        return (rows, cols), False
    if row_stride == 1 and (col_stride == rows or cols == 1):
        return (cols, rows), True
    return None


def aligned_strides(layout, shape):
    """The layout's strides over a (broadcast) loop shape: 0 where it is broadcast."""
    lead = len(shape) - len(layout.shape)
    out = [0] * lead
    for d, st, full in zip(layout.shape, layout.strides, shape[lead:]):
        out.append(0 if d == 1 and full != 1 else st)
    return out


def collapse(shape, stride_sets, classes=None):
    """Merge adjacent loop dims that every access walks as one (same class, dense)."""
    classes = classes or [0] * len(shape)
    dims = [i for i, d in enumerate(shape) if d != 1]
    if not dims:
        return [1], [[0] for _ in stride_sets], [classes[0] if classes else 0]
    out_shape, out_strides, out_classes = [], [[] for _ in stride_sets], []
    for i in dims:
        if out_shape and out_classes[-1] == classes[i] and all(
                ss[-1] == st[i] * shape[i] for ss, st in zip(out_strides, stride_sets)):
            out_shape[-1] *= shape[i]
            for ss, st in zip(out_strides, stride_sets):
                ss[-1] = st[i]
            continue
        out_shape.append(shape[i])
        out_classes.append(classes[i])
        for ss, st in zip(out_strides, stride_sets):
            ss.append(st[i])
    return out_shape, out_strides, out_classes


def ctor(value):
    return CTOR[value.dtype.name]
