"""graphc: one set of ops, two execution models.

Static (define-and-run): placeholders and ops build a graph; graphc.grad differentiates it;
graphc.compile turns it into a callable. Eager (define-by-run): the same ops run at once on
tensors, with a tape for .backward(). See docs/ for the architecture.
"""
from . import types as _types
from .types import (DType, bool_ as bool, uint8, int8, int16, int32, int64, float16, float32,
                    float64, as_dtype)
from . import dispatch as _dispatch  # installs the op dispatcher  # noqa: F401
from .functional import *  # noqa: F401,F403
from .functional import (abs, add, amax, amin, argmax, argmin, bmm, broadcast_to, cast, cat,
                         chunk, clamp, clip, concat, cos, div, elu, eq, erf, exp, flatten,
                         full_like, ge, gelu, gt, inverse, le, leaky_relu, log, log1p,
                         log_softmax, logical_and, logical_not, logical_or, logsumexp, lt, matmul,
                         max, maximum, mean, min, minimum, mm, mul, ne, neg, ones_like, pad,
                         permute, pow, relu, reshape, rsqrt, sigmoid, sign, sin, softmax,
                         softplus, split, sqrt, square, squeeze, stack, std, sub, sum, t, tanh,
                         transpose, unsqueeze, var, where, zeros_like)
from .pointwise import *  # noqa: F401,F403
from .reductions import *  # noqa: F401,F403
from .indexing import *  # noqa: F401,F403
from .rearrange import *  # noqa: F401,F403
from .products import *  # noqa: F401,F403
from . import linalg, special
from .linalg import det, slogdet, matrix_power
from .tensor_api import *  # noqa: F401,F403
from .sampling import *  # noqa: F401,F403
from .eager.tensor import Tensor
from .eager.grad_mode import no_grad, enable_grad, set_grad_enabled, is_grad_enabled
from .eager.creation import (tensor, as_tensor, from_numpy, zeros, ones, empty, full, eye,
                             arange, linspace, rand, randn, randint, randperm, empty_like,
                             rand_like, randn_like)
from .eager.random import manual_seed, initial_seed, Generator
from .eager.printing import set_printoptions
from . import autograd
from .eager.anomaly import is_anomaly_enabled, is_anomaly_check_nan_enabled
from . import debug
from .ir.graph import Graph, Node, Value
from .ir.build import placeholder, variable
from .ir.serialize import save_graph, load_graph
from .dispatch import constant
from .static_grad import grad
from .control_flow import scan
from .compile import compile, Executable
from runtime.threads import get_num_threads, set_num_threads
from runtime import threads as _threads
from .jit import jit
from .compare import compare
from .device import device, Device
from .errors import (GraphcError, ShapeError, DTypeError, FeedError, GraphFormatError,
                     UnsupportedError)
from .ops import REGISTRY as ops_registry
from .serialization import save, load
from . import cuda, nn, optim, data, utils  # the PyTorch-style namespace (nn sits above the core)
from . import accelerator
from .backends import cudnn as _cudnn, mps as _mps  # noqa: F401  (torch.backends.cudnn / mps)
from .device import get_default_device, set_default_device
from . import distributed  # MPI is imported only by distributed.init_process_group

float = float32
double = float64
half = float16
long = int64
int = int32

__version__ = "0.1.0"

_threads.configure()  # GRAPHC_NUM_THREADS governs BLAS in eager-only programs too
