"""cgrad: PyTorch's eager autograd, rebuilt as a compiled engine.

Tensors, graph nodes and the backward pass are C structs and C loops; this
package is the PyTorch-shaped face of them: `import cgrad as torch`.
"""


def _load_openblas():
    """Loads scipy-openblas32's library so the extension finds it wherever it is installed."""
    import ctypes
    import os

    try:
        import scipy_openblas32
    except ImportError:
        return
    libdir = scipy_openblas32.get_lib_dir()
    for name in sorted(os.listdir(libdir)):
        if name.startswith("libscipy_openblas") and ".so" in name:
            ctypes.CDLL(os.path.join(libdir, name), mode=ctypes.RTLD_GLOBAL)
            return


_load_openblas()

from cgrad import _C  # noqa: E402
from cgrad._C import *  # noqa: E402,F401,F403  (Tensor, dtypes, creation and op functions)
from cgrad._C import Tensor, float32, float64, int64  # noqa: E402
from cgrad._creation import (  # noqa: E402
    as_tensor, empty_like, full_like, normal, ones_like, rand_like, randint_like, randn_like, tensor, zeros_like,
)
from cgrad._functions import *  # noqa: E402,F401,F403
from cgrad._einsum import einsum  # noqa: E402
from cgrad._composites import *  # noqa: E402,F401,F403
from cgrad._dtypes import can_cast, finfo, iinfo, promote_types, result_type  # noqa: E402
from cgrad._stats import (  # noqa: E402
    bincount, corrcoef, cov, histc, nanmedian, nanquantile, prelu, quantile, scatter_reduce, unique_consecutive,
)
from cgrad import autograd  # noqa: E402
from cgrad import linalg, nn, optim, special, utils  # noqa: E402
from cgrad._linalg_legacy import *  # noqa: E402,F401,F403
from cgrad import distributions  # noqa: E402
from cgrad import random  # noqa: E402
from cgrad import func  # noqa: E402
from cgrad.func import vmap  # noqa: E402
from cgrad.random import get_rng_state, initial_seed, seed, set_rng_state  # noqa: E402
from cgrad.nn._rnn import gru, gru_cell, lstm, lstm_cell, rnn_relu, rnn_relu_cell, rnn_tanh, rnn_tanh_cell  # noqa: E402
# PyTorch's top-level pooling functions (torch.adaptive_max_pool1d returns the indices too)
from cgrad.nn.functional import (  # noqa: E402
    adaptive_avg_pool1d, avg_pool1d, max_pool1d, max_pool1d_with_indices, max_pool2d, max_pool3d,
)
from cgrad.nn.functional import adaptive_max_pool1d_with_indices as adaptive_max_pool1d  # noqa: E402
from cgrad.nn.functional import conv1d, conv2d, conv3d, conv_tbc  # noqa: E402
from cgrad.nn.functional import conv_transpose1d, conv_transpose2d, conv_transpose3d  # noqa: E402
from cgrad.serialization import load, save  # noqa: E402
from cgrad._nn_toplevel import *  # noqa: E402,F401,F403
from cgrad.nn.utils.weight_norm import norm_except_dim  # noqa: E402
from cgrad._tensor_str import set_printoptions  # noqa: E402
from cgrad._settings import *  # noqa: E402,F401,F403
from cgrad._windows import *  # noqa: E402,F401,F403
from cgrad._tensor_extra import asarray, fill, histogram, isreal, rsub, scalar_tensor  # noqa: E402
from cgrad._tensor_extra import range  # noqa: E402,A004  (PyTorch's deprecated torch.range)
from cgrad._ops_more import *  # noqa: E402,F401,F403
from cgrad._view_copies import *  # noqa: E402,F401,F403
from cgrad.compile import compile  # noqa: E402,A001  (the function; the module stays in sys.modules)
from cgrad.autograd.grad_mode import (  # noqa: E402
    enable_grad,
    inference_mode,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
)
from cgrad import viz  # noqa: E402
from cgrad import testing  # noqa: E402
from cgrad.autograd.anomaly_mode import (  # noqa: E402
    is_anomaly_check_nan_enabled,
    is_anomaly_enabled,
    set_anomaly_enabled,
)
from cgrad._surface import *  # noqa: E402,F401,F403  (cond, while_loop, native_*, sym_*, complex helpers, ...)
from cgrad import functional, signal  # noqa: E402
from cgrad import fft  # noqa: E402
from cgrad.functional import istft, stft  # noqa: E402  (raise: their results are complex)
from cgrad._lowrank import pca_lowrank, svd_lowrank  # noqa: E402
from cgrad._lobpcg import lobpcg  # noqa: E402

# devices: the CPU is cgrad's one; PyTorch's device modules answer for the others
from cgrad import accelerator, amp, backends, cpu, cuda  # noqa: E402
from cgrad.amp import autocast  # noqa: E402
from cgrad.amp.autocast_mode import is_autocast_enabled  # noqa: E402

# storages: the bytes under tensors (Tensor.untyped_storage, Tensor.set_)
from cgrad import storage  # noqa: E402
from cgrad.storage import (  # noqa: E402,F401
    BoolStorage, DoubleStorage, FloatStorage, LongStorage, TypedStorage, UntypedStorage)

# PyTorch's legacy tensor types (cgrad.FloatTensor([1, 2]), isinstance(x, cgrad.LongTensor))
from cgrad._tensor_types import *  # noqa: E402,F401,F403

from cgrad import futures, jit, profiler  # noqa: E402  (eager TorchScript helpers; the range profiler)
from cgrad import _missing  # noqa: E402

# PyTorch functions not implemented yet (none at the moment): calling one raises
globals().update({_name: _missing.function(_name) for _name in _missing.FUNCTIONS})

__version__ = "0.1.0"

from math import e, inf, nan, pi  # noqa: E402  (PyTorch's constants: torch.pi is math.pi)
newaxis = None  # as numpy's: x[cgrad.newaxis] adds a dim

# PyTorch's dtype aliases; defined last because they shadow builtins here.
bool = _C.bool_  # noqa: A001
float = float32  # noqa: A001
double = float64
long = int64
int = int32  # noqa: A001
short = int16
half = float16
cfloat = complex64
cdouble = complex128
chalf = complex32
bit = uint1
