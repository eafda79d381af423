"""Code generation switches of the cpu target (apart from the code generator, so that a
program loaded whole from the cache needs none of it: graphc/backends/program_cache.py)."""
from __future__ import annotations


class Options:
    """Code generation switches. strict: libm transcendental functions, no fast-math.
    parallel_min: elementwise loops of at least this many elements run on all threads
    (None: never; the default when only one thread is configured)."""

    def __init__(self, strict=False, parallel_min=None):
        self.strict = strict
        self.parallel_min = parallel_min

    @property
    def fastmath(self):
        # reassociation lets LLVM vectorize reductions; no nnan/ninf: NaN and Inf propagate
        return "False" if self.strict else '{"reassoc", "contract"}'

    def key(self):
        return f"strict={self.strict}|parallel_min={self.parallel_min}"
