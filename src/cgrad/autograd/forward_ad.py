"""cgrad.autograd.forward_ad: PyTorch's forward-mode AD with dual tensors is not implemented in cgrad.

cgrad's graph is built for reverse mode; dual tensors would need a tangent carried through every op as it
runs. Each name exists, so code written for PyTorch finds it, and raises NotImplementedError when used.
Jacobian-vector products are available: cgrad.func.jvp, cgrad.func.jacfwd and
cgrad.autograd.functional.jvp compute them from the reverse-mode graph.
"""
from typing import NamedTuple

from cgrad._C import Tensor

__all__ = ["UnpackedDualTensor", "dual_level", "enter_dual_level", "exit_dual_level", "make_dual", "unpack_dual"]

_MESSAGE = ("forward-mode AD (cgrad.autograd.forward_ad) is not implemented in cgrad yet; cgrad.func.jvp and "
            "cgrad.func.jacfwd compute Jacobian-vector products")


class UnpackedDualTensor(NamedTuple):
    """What unpack_dual returns in PyTorch: the primal and the tangent."""
    primal: Tensor
    tangent: Tensor


def enter_dual_level():
    raise NotImplementedError(_MESSAGE)


def exit_dual_level(*, level=None):
    raise NotImplementedError(_MESSAGE)


def make_dual(tensor, tangent, *, level=None):
    raise NotImplementedError(_MESSAGE)


def unpack_dual(tensor, *, level=None):
    raise NotImplementedError(_MESSAGE)


class dual_level:
    """The context of forward-mode computations: raises NotImplementedError on entry."""

    def __enter__(self):
        raise NotImplementedError(_MESSAGE)

    def __exit__(self, *exc):
        return False
