"""graphc.autograd: PyTorch's torch.autograd for eager tensors.

grad and backward run the eager tape (graphc/eager/autograd.py); Function defines custom ops
with a hand-written backward (also traced by graphc.jit); functional holds jacobian,
hessian, vjp, jvp, hvp and vhp; detect_anomaly / set_detect_anomaly check backward for NaN.
"""
from ..eager.anomaly import (detect_anomaly, is_anomaly_check_nan_enabled, is_anomaly_enabled,
                             set_detect_anomaly)
from ..eager.autograd import backward, grad
from ..eager.grad_mode import enable_grad, no_grad, set_grad_enabled
from .function import Function, FunctionCtx, once_differentiable
from . import functional

__all__ = ["Function", "FunctionCtx", "once_differentiable", "backward", "grad", "functional",
           "detect_anomaly", "set_detect_anomaly", "is_anomaly_enabled",
           "is_anomaly_check_nan_enabled", "no_grad", "enable_grad", "set_grad_enabled"]
