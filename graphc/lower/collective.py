"""Allreduce buckets in the kernel layout's program (plan.collectives, passes/memory.py).

The program is Python calling kernels in order, so communication is a few more Python
lines: after the step that writes the last gradient of a bucket, `ar_start` starts a
non-blocking allreduce of the bucket's arena slice, in place; while it is in flight each
following step is preceded by `ar_progress` (MPI moves bytes only inside MPI calls); just
before the first step that reads the averaged values, `ar_finish` waits for it (with the
process group's deadline) and divides by the number of ranks for a mean. The functions are
graphc/ops/collective.py's, installed by graphc.distributed.init_process_group.
"""
from __future__ import annotations

IMPORT = ("from graphc.ops.collective import start_allreduce as ar_start, "
          "progress_allreduce as ar_progress, finish_allreduce as ar_finish")


class CollectiveCalls:
    """Emits the start / progress / finish lines around the steps of one program."""

    def __init__(self, plan, argument):
        self.starts, self.waits = {}, {}
        self.buffers, self.mean = [], []
        for k, (c, ready, wait) in enumerate(plan.collective_schedule()):
            st = plan.storage[c.root]
            name = {"temp": f"w_{st.dtype.name}", "out": f"out{st.index}"}[st.kind]
            base = st.offset if st.kind == "temp" else 0
            self.buffers.append(argument(("array", name, base, c.size, c.dtype.name)))
            self.mean.append(c.reduce == "mean")
            self.starts.setdefault(ready + 1, []).append((k, c))
            self.waits.setdefault(wait, []).append(k)
        self.in_flight = []
        self.count = len(self.buffers)

    def acts_before(self, number):
        """Whether an allreduce starts or is waited for just before step `number` (the
        program must not hold that step's predecessors back in a pending kernel group)."""
        return number in self.starts or number in self.waits

    def before_step(self, em, number, progress=True):
        """Lines that go before step `number` (len(steps): the end of the program body);
        progress=False: no progress call here (steps are being grouped into one kernel)."""
        for k, c in self.starts.get(number, ()):
            em.line(f"ar{k} = ar_start({self.buffers[k]})  # allreduce ({c.reduce}) of "
                    f"{c.members} value(s), {c.size:,} {c.dtype.name}")
            self.in_flight.append(k)
        done = self.waits.get(number, ())
        for k in done:
            em.line(f"ar_finish(ar{k}, {self.buffers[k]}, {self.mean[k]})")
            self.in_flight.remove(k)
        if self.in_flight and not done and progress:
            em.line(f"ar_progress(ar{self.in_flight[0]})")

    def end(self, em, steps):
        self.before_step(em, steps)
        for k in list(self.in_flight):  # never read in the program: still done before return
            em.line(f"ar_finish(ar{k}, {self.buffers[k]}, {self.mean[k]})")
            self.in_flight.remove(k)
