"""graphc.autograd: PyTorch's torch.autograd for eager tensors.

grad and backward run the eager tape (graphc/eager/autograd.py); Function defines custom ops
with a hand-written backward (also traced by graphc.jit); functional holds jacobian,
hessian, vjp, jvp, hvp and vhp; gradcheck / gradgradcheck compare gradients with finite
differences; detect_anomaly / set_detect_anomaly check backward for NaN.
"""
from ..eager.anomaly import (detect_anomaly, is_anomaly_check_nan_enabled, is_anomaly_enabled,
                             set_detect_anomaly)
from ..eager.autograd import backward, grad
from ..eager.grad_mode import enable_grad, no_grad, set_grad_enabled
from ..errors import UnsupportedError
from .function import Function, FunctionCtx, once_differentiable
from .gradcheck import GradcheckError, gradcheck, gradgradcheck
from . import functional


def Variable(data, requires_grad=False, volatile=False):  # noqa: N802 (PyTorch's name)
    """The legacy torch.autograd.Variable: the tensor itself (requires_grad set if asked)."""
    if volatile:
        raise UnsupportedError("Variable(volatile=True) was removed from PyTorch; use no_grad()")
    return data.requires_grad_() if requires_grad else data

__all__ = ["Function", "FunctionCtx", "once_differentiable", "backward", "grad", "functional",
           "gradcheck", "gradgradcheck", "GradcheckError", "Variable",
           "detect_anomaly", "set_detect_anomaly", "is_anomaly_enabled",
           "is_anomaly_check_nan_enabled", "no_grad", "enable_grad", "set_grad_enabled"]
