"""Ops whose tests live with the nn ops (tests/ops/test_nn_ops.py, test_batch_norm_op.py,
test_linear_op.py), not in the core op table."""
import graphc as gc

NN_OPS = {name for name, op in gc.ops_registry.items()
          if getattr(op, "__module__", "") == "graphc.ops.nn" or name.startswith(
              ("conv", "max_pool", "avg_pool", "adaptive", "dropout", "batch_norm"))}
NN_OPS.add("linear")  # eager-only (symbolic code uses matmul + add): no cpu lowering
