"""cgrad.nn: PyTorch's neural-network building blocks on cgrad tensors."""
from cgrad.nn.parameter import Buffer, Parameter, UninitializedBuffer, UninitializedParameter
from cgrad.nn.modules import *  # noqa: F401,F403
from cgrad.nn.modules import __all__ as _modules_all
from cgrad.nn import functional, init, utils  # noqa: E402
from cgrad.nn import attention  # noqa: E402

__all__ = ["Buffer", "Parameter", "UninitializedParameter", "UninitializedBuffer", "functional", "init",
           "utils"] + _modules_all
