"""The cpu target's rules: what lowers each op (the mechanism is graphc/ops/rules.py).

An op with a scalar function becomes (part of) a fused loop and an op with a Reduction trait a
single-pass reduction loop, whatever its name; the other ops have an emitter of their own
(lower/kernels.py), a runtime kernel call (lower/runtime_calls.py) or the scan lowering
(lower/scan.py), or a declared fallback. lower/steps.py's emit_step looks each step's op up
here; docs/ops.md's CPU column is generated from this table.
"""
from __future__ import annotations

from ..control_flow import scan_op
from ..ops import collective, leaves, linalg, reduce, scans
from ..ops.rules import TargetRules
from ..passes.fusion import FUSED
from ..passes.layout import VIEW_LAYOUTS
from .kernels import EMITTERS
from .loops import emit_elementwise, emit_fused, emit_reduce
from .runtime_calls import RUNTIME_OPS, emit_runtime_call
from .scan import emit_scan

CPU = TargetRules("cpu")

CPU.trait_rule("a fused elementwise loop (lower/loops.py)",
               lambda op: op.scalar is not None)(emit_elementwise)
CPU.trait_rule("a single-pass reduction loop (lower/loops.py)",
               lambda op: op.reduction is not None)(emit_reduce)
CPU.rule(FUSED)(emit_fused)
for _op, _emit in EMITTERS.items():
    CPU.rule(_op)(_emit)
CPU.rule(*RUNTIME_OPS)(emit_runtime_call)
# (called by lower/kernel_layout.py, which lowers a graph holding a scan in the kernel layout)
CPU.rule(scan_op)(emit_scan)

CPU.fallback("pass", "a strided view of its input: the memory plan (passes/layout.py)",
             *(op for op in VIEW_LAYOUTS if op not in EMITTERS))
CPU.fallback("pass", "a program argument or constant data (passes/memory.py)",
             leaves.placeholder, leaves.constant, leaves.variable)
CPU.fallback("pass", "a constant once shapes are known (passes/specialize.py)",
             reduce.shape_prod)
CPU.fallback("pass", "gradient buckets reduced while backward runs (passes/memory.py, "
             "lower/collective.py)", collective.all_reduce)
CPU.fallback("split", "graphc.compile broadcasts the variables before the program runs "
             "(graphc/distributed/compiled.py)", collective.broadcast)
CPU.fallback("unsupported", "no cpu kernel yet; the reference and cuda targets run it",
             scans.scatter_extreme)
CPU.fallback("unsupported", "eager mode's one-op Linear: graphs build matmul + add, which "
             "the cpu target fuses", linalg.linear)

__all__ = ["CPU"]
