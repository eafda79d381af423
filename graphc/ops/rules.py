"""Per-target rules: how each target implements each op, keyed by the `Op` object.

Each target (reference, cpu, cuda) owns one `TargetRules` table and fills it where its code
lives: a rule for named ops (`@RULES.rule(ops.matmul)`), a rule for every op with a trait
(`@RULES.trait_rule("fused loop", lambda op: op.scalar is not None)`: an elementwise op
added later needs no entry of its own), or a declared fallback for an op it does not
implement itself:

- "pass": a compiler pass resolves it before lowering (leaves become arguments, free views
  strides, shape queries constants) — the target has nothing to emit for it;
- "host": the op's NumPy reference runs on the CPU, with transfers around it (cuda);
- "split": `graphc.compile` runs it outside the compiled program (collectives);
- "unsupported": compiling it raises UnsupportedError, with the reason given here.

tests/ops/test_target_rules.py checks that every registered op has, on every target, a rule
or a fallback, and docs/ops.md's target columns are generated from these tables
(graphc/docs_gen.py). Nothing here imports a target: the tables are filled by the targets.
"""
from __future__ import annotations

from typing import Callable, NamedTuple

FALLBACKS = ("pass", "host", "split", "unsupported")


class Fallback(NamedTuple):
    how: str     # one of FALLBACKS
    reason: str  # one line, shown in docs and in errors


class Coverage(NamedTuple):
    """How a target handles one op: kind "rule" (with what implements it) or a fallback."""
    kind: str
    detail: str


class TargetRules:
    """One target's rules, keyed by Op object (never by name)."""

    def __init__(self, target: str):
        self.target = target
        self._rules: dict = {}
        self._trait_rules: list = []  # (description, predicate, rule), first match wins
        self._fallbacks: dict = {}

    def rule(self, *ops):
        """Decorator: `fn` implements each of `ops` on this target."""
        def register(fn):
            for op in ops:
                self._check_new(op)
                self._rules[op] = fn
            return fn
        return register

    def trait_rule(self, description: str, predicate: Callable):
        """Decorator: `fn` implements every op for which predicate(op) is true (and that has
        no rule of its own)."""
        def register(fn):
            self._trait_rules.append((description, predicate, fn))
            return fn
        return register

    def fallback(self, how: str, reason: str, *ops):
        """Declare that this target does not implement `ops` itself, and what happens."""
        if how not in FALLBACKS:
            raise ValueError(f"unknown fallback {how!r}; one of {FALLBACKS}")
        for op in ops:
            self._check_new(op)
            self._fallbacks[op] = Fallback(how, reason)

    def _check_new(self, op):
        if op in self._rules or op in self._fallbacks:
            raise ValueError(f"target {self.target!r}: op {op.name!r} has a rule already")

    def lookup(self, op):
        """The rule implementing `op`, or None (then see `fallback_of`)."""
        fn = self._rules.get(op)
        if fn is not None:
            return fn
        if op in self._fallbacks:
            return None
        for _, predicate, fn in self._trait_rules:
            if predicate(op):
                return fn
        return None

    def fallback_of(self, op):
        return self._fallbacks.get(op)

    def coverage(self, op):
        """Coverage of `op`, or None when the target neither implements nor declares it."""
        fn = self._rules.get(op)
        if fn is not None:
            return Coverage("rule", _describe(fn))
        found = self._fallbacks.get(op)
        if found is not None:
            return Coverage(found.how, found.reason)
        for description, predicate, fn in self._trait_rules:
            if predicate(op):
                return Coverage("rule", description)
        return None

    def __repr__(self):
        return f"<rules of target {self.target!r}: {len(self._rules)} ops, " \
               f"{len(self._trait_rules)} trait rules, {len(self._fallbacks)} fallbacks>"


def _describe(fn):
    doc = (getattr(fn, "__doc__", None) or "").strip().split("\n")[0]
    return doc or getattr(fn, "__name__", repr(fn))


__all__ = ["TargetRules", "Fallback", "Coverage", "FALLBACKS"]
