"""torch.backends.cudnn's flags, for programs that set them: graphc has no cuDNN, so they
select nothing (its kernels are deterministic; there is no autotuner to benchmark)."""
from __future__ import annotations

enabled = True
benchmark = False
deterministic = False
allow_tf32 = True


def is_available():
    return False


def version():
    return None
