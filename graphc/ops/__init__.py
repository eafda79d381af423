"""All primitive ops. Importing this package registers them in `REGISTRY`."""
from .registry import REGISTRY, Op, VJPContext, get_op  # noqa: F401
from . import leaves, elementwise, shape, reduce, linalg, scans, decompositions  # noqa: F401  (registration order)
from . import conv, pool, nn, loss, norm  # noqa: F401  (neural-network ops)
from . import collective  # noqa: F401  (data-parallel communication)
from . import nn_kernels  # noqa: F401,E402  (sets the eager kernels of conv, pool, nn ops)
