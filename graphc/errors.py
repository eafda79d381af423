"""Error types and the user's source location attached to graph nodes and messages."""
from __future__ import annotations

import os
import sys

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
_RUNTIME_DIR = os.path.join(os.path.dirname(_PACKAGE_DIR), "runtime")
_INTERNAL = (_PACKAGE_DIR + os.sep, _RUNTIME_DIR + os.sep)


class GraphcError(Exception):
    """Base class of graphc's own errors."""


class ShapeError(GraphcError, ValueError):
    """Shapes of an op's inputs do not fit together (raised when the graph is built)."""


class DTypeError(GraphcError, TypeError):
    """Dtypes of an op's inputs are not accepted."""


class FeedError(GraphcError, ValueError):
    """A compiled function was called with missing, extra or mistyped inputs."""


class GraphFormatError(GraphcError, ValueError):
    """A saved graph or checkpoint file is malformed or of an unknown version."""


class UnsupportedError(GraphcError, NotImplementedError):
    """The operation is not supported in this mode or on this target."""


class ConcretizationError(GraphcError, TypeError):
    """A symbolic value was used where a concrete one is needed (if, float(), .item())."""


class SourceLocation:
    __slots__ = ("filename", "lineno", "code")

    def __init__(self, filename, lineno, code=""):
        self.filename, self.lineno, self.code = filename, lineno, code

    def __str__(self):
        text = f"{os.path.basename(self.filename)}:{self.lineno}"
        return f"{text}: {self.code}" if self.code else text

    def to_json(self):
        return [self.filename, self.lineno, self.code]


def user_location() -> SourceLocation | None:
    """The innermost stack frame outside graphc and runtime: the user's line of code."""
    frame = sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename
        if not filename.startswith(_INTERNAL):
            code = ""
            try:
                import linecache
                code = linecache.getline(filename, frame.f_lineno).strip()
            except Exception:  # a missing source file is not worth an error of its own
                pass
            return SourceLocation(filename, frame.f_lineno, code)
        frame = frame.f_back
    return None


def op_error(cls, op_name: str, message: str, location=None):
    """Build an error naming the op and the user's line (found now if not given)."""
    location = location or user_location()
    where = f"\n  at {location}" if location else ""
    return cls(f"{op_name}: {message}{where}")
