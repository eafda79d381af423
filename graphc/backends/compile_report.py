"""What a compile cost, phase by phase, and a progress line while a long one runs.

`exe.compile_report()` returns a CompileReport of the latest compiled signature: graphc's
passes and code generation, then Numba's work per kernel (typing and lowering apart from
LLVM, from each overload's own timers), and how many kernels came from the on-disk cache.
A program loaded whole from the cache (`program_cached`) ran no passes: its `codegen_s` is
the time to find and read its entry.
"""
from __future__ import annotations

import os
import sys
import time

# A compile that has run this long starts to say so (on a terminal only).
PROGRESS_AFTER_S = 1.0


class CompileReport:
    """Seconds per phase of one compile (see the module docstring)."""

    def __init__(self, layout):
        self.layout = layout      # "kernels" or "whole"
        self.passes_s = 0.0       # graphc's passes (specialize ... plan_memory)
        self.codegen_s = 0.0      # generating the source
        self.load_s = 0.0         # importing and compiling or loading the Numba functions
        self.typing_s = 0.0       # Numba typing + lowering to LLVM IR (compiled functions)
        self.llvm_s = 0.0         # LLVM optimization and machine code (compiled functions)
        self.functions = 0        # Numba functions the program runs (kernels, or 1)
        self.calls = 0            # kernel calls per step
        self.from_cache = 0       # kernel compilations loaded from the on-disk cache
        self.by_helper = 0        # ... compiled by a helper process (runtime/compile_worker)
        self.reused = 0           # ... already compiled in this process (another program)
        self.compiled = 0         # ... compiled now
        self.program_cached = False  # loaded whole from the cache: no passes, no codegen

    @property
    def total_s(self):
        return self.passes_s + self.codegen_s + self.load_s

    def as_dict(self):
        keys = ("layout", "passes_s", "codegen_s", "load_s", "typing_s", "llvm_s", "functions",
                "calls", "from_cache", "by_helper", "reused", "compiled", "program_cached",
                "total_s")
        return {k: getattr(self, k) for k in keys}

    def __repr__(self):
        how = (f"program from the cache {self.codegen_s:.3f}" if self.program_cached else
               f"passes {self.passes_s:.3f} + codegen {self.codegen_s:.3f}")
        return (f"CompileReport({self.layout} layout: {self.total_s:.3f} s = {how} + Numba "
                f"{self.load_s:.3f} (typing {self.typing_s:.3f}, LLVM {self.llvm_s:.3f}); "
                f"{self.functions} "
                f"functions for {self.calls} calls: {self.compiled} compiled, "
                f"{self.by_helper} by a helper process, {self.from_cache} from the disk cache, "
                f"{self.reused} already in memory)")


def numba_timers(dispatcher, signature):
    """(typing + lowering, LLVM) seconds Numba spent compiling one overload (0 if loaded)."""
    try:
        timers = dispatcher.get_metadata(signature).get("timers", {})
    except Exception:  # no metadata (e.g. loaded from the cache): nothing was compiled
        return 0.0, 0.0
    total, llvm = timers.get("compiler_lock", 0.0), timers.get("llvm_lock", 0.0)
    return max(0.0, total - llvm), llvm


class Progress:
    """One self-updating line on stderr once a compile has run PROGRESS_AFTER_S; silent when
    stderr is not a terminal (GRAPHC_PROGRESS=1 forces it on, 0 off)."""

    def __init__(self, total, what="kernels"):
        forced = os.environ.get("GRAPHC_PROGRESS", "")
        self.enabled = forced == "1" or (forced != "0" and sys.stderr.isatty())
        self.total, self.what = total, what
        self.start = time.perf_counter()
        self.shown = False

    def update(self, done, cached):  # cached: from the disk cache or already in memory
        elapsed = time.perf_counter() - self.start
        if self.enabled and elapsed >= PROGRESS_AFTER_S:
            self.shown = True
            sys.stderr.write(f"\rgraphc: compiling {done}/{self.total} {self.what} "
                             f"({cached} from cache) {elapsed:.1f} s")
            sys.stderr.flush()

    def close(self, done, cached):
        if self.shown:
            elapsed = time.perf_counter() - self.start
            sys.stderr.write(f"\rgraphc: compiled {done} {self.what} ({cached} from cache) in "
                             f"{elapsed:.1f} s\n")
            sys.stderr.flush()
