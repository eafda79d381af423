"""Fused elementwise chain on the GPU against the memory system's limit.

sigmoid(a * b + c) * tanh(a) on 64M float32 (256 MB per array): the compiled "cuda" target
fuses it into one kernel that reads 3 arrays and writes 1, so at best it runs at the speed
of a device-to-device copy moving the same kind of bytes. Reported: GB/s of each system and
graphc static's fraction of the copy's GB/s (target >= 80%). Eager graphc runs 5 kernels
(no fusion); PyTorch eager as well, when installed with CUDA.

    python -m benchmarks.cuda_elementwise            # on a machine with an NVIDIA GPU
    python -m benchmarks.cuda_elementwise --quick    # toy size (also in the simulator)
"""
from __future__ import annotations

import sys

import numpy as np

from .cuda_common import median_call_s, parse, synchronizer, table, timed, torch_cuda


def chain(a, b, c):
    return (a * b + c).sigmoid() * a.tanh()


def main(argv=None):
    args = parse(argv, __doc__.splitlines()[0])
    import graphc as gc
    from runtime.cuda import memory

    n = 4096 if args.quick else 64 * 2 ** 20
    rng = np.random.default_rng(0)
    host = [rng.standard_normal(n, dtype=np.float32) for _ in range(3)]
    a, b, c = (gc.tensor(h).cuda() for h in host)
    torch = torch_cuda(args)
    sync = synchronizer(torch)
    results = {}  # system -> (seconds per call, bytes moved per call)

    src, dst = memory.to_device(host[0]), memory.empty((n,), np.float32)
    results["device-to-device copy"] = (median_call_s(lambda: memory.copy(dst, src), sync,
                                                      args.repeat), 2 * 4 * n)
    xs = [gc.placeholder((n,), gc.float32, name=k) for k in "abc"]
    exe, compile_s = timed(lambda: gc.compile(chain(*xs), inputs=xs, target="cuda"), sync)
    _, first_s = timed(lambda: exe(a, b, c), sync)  # specialization + kernel compile
    results["graphc static (fused)"] = (median_call_s(lambda: exe(a, b, c), sync,
                                                      args.repeat), 4 * 4 * n)
    results["graphc eager"] = (median_call_s(lambda: chain(a, b, c), sync, args.repeat),
                               4 * 4 * n)
    if torch is not None:
        ta, tb, tc = (torch.from_numpy(h).cuda() for h in host)
        results["torch eager"] = (median_call_s(lambda: chain(ta, tb, tc), sync, args.repeat),
                                  4 * 4 * n)

    expected = chain(*(gc.tensor(h) for h in host)).numpy()
    np.testing.assert_allclose(exe(a, b, c).cpu().numpy(), expected, rtol=1e-5, atol=1e-6)

    copy_gbs = results["device-to-device copy"][1] / results["device-to-device copy"][0] / 1e9
    rows = [[name, f"{s * 1e3:.3f}", f"{nbytes / s / 1e9:.1f}",
             f"{nbytes / s / 1e9 / copy_gbs:.0%}"] for name, (s, nbytes) in results.items()]
    print(f"sigmoid(a*b+c)*tanh(a), {n:,} float32 (useful bytes: 3 reads + 1 write)")
    print(table(rows, ["system", "ms/call", "GB/s", "of copy GB/s"]))
    fraction = results["graphc static (fused)"][1] / results["graphc static (fused)"][0] / 1e9 \
        / copy_gbs
    print(f"graphc static: {fraction:.0%} of a device-to-device copy's GB/s (target >= 80%); "
          f"compile {compile_s + first_s:.2f} s (first call {first_s:.2f} s)")
    return {"results": results, "fraction_of_copy": fraction,
            "compile_s": compile_s + first_s}


if __name__ == "__main__":
    main(sys.argv[1:])
