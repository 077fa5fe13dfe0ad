"""PyTorch's *_copy functions and the small top-level functions beside them (is_inference, adjoint).

Each *_copy op is its view op followed by a copy: a new contiguous tensor, differentiated by the view's
formula in one node named "<view node>_copy" as PyTorch names it (Note [Copies of views] in ops_shape.c).
"""
from cgrad import _C
from cgrad._C import Tensor, _copy_as

__all__ = [
    "adjoint", "alias_copy", "detach_copy", "diagonal_copy", "expand_copy", "is_inference", "permute_copy",
    "select_copy", "slice_copy", "split_copy", "split_with_sizes_copy", "squeeze_copy", "t_copy",
    "transpose_copy", "unbind_copy", "unfold_copy", "unsqueeze_copy",
]


def _tensor_arg(fname, input, arg="input"):
    if not isinstance(input, Tensor):
        raise TypeError(f"{fname}(): argument '{arg}' (position 1) must be Tensor, not {type(input).__name__}")


def is_inference(input):
    """False: cgrad's inference_mode works as no_grad and makes no inference tensors."""
    _tensor_arg("is_inference", input)
    return input.is_inference()


def adjoint(input):
    """The conjugate transpose of the last two dims, for real tensors the transpose: a view."""
    _tensor_arg("adjoint", input, "self")
    return input.adjoint()


def transpose_copy(input, dim0, dim1):
    return _copy_as(input.transpose(dim0, dim1), "TransposeBackward0_copy")


def permute_copy(input, dims):
    return _copy_as(input.permute(dims), "PermuteBackward0_copy")


def t_copy(input):
    return _copy_as(input.t(), "TBackward0_copy")


def expand_copy(input, size, *, implicit=False):
    return _copy_as(input.expand(size), "ExpandBackward0_copy")


def squeeze_copy(input, dim=None):
    # PyTorch's three overloads: all dims, one dim, a list of dims
    if dim is None:
        return _copy_as(input.squeeze(), "SqueezeBackward0_copy")
    if isinstance(dim, (list, tuple)):
        return _copy_as(input.squeeze(tuple(dim)), "SqueezeBackward2_copy")
    return _copy_as(input.squeeze(dim), "SqueezeBackward1_copy")


def unsqueeze_copy(input, dim):
    return _copy_as(input.unsqueeze(dim), "UnsqueezeBackward0_copy")


def select_copy(input, dim, index):
    return _copy_as(input.select(dim, index), "SelectBackward0_copy")


def slice_copy(input, dim=0, start=None, end=None, step=1):
    _tensor_arg("slice_copy", input, "self")
    n = max(input.ndim, 1)
    if not -n <= dim < n:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {dim})")
    if step <= 0:
        raise RuntimeError("slice step must be positive")
    d = dim + input.ndim if dim < 0 else dim
    return _copy_as(input[(slice(None),) * d + (slice(start, end, step),)], "SliceBackward0_copy")


def diagonal_copy(input, offset=0, dim1=0, dim2=1):
    return _copy_as(input.diagonal(offset, dim1, dim2), "DiagonalBackward0_copy")


def detach_copy(input):
    """A detached copy. (PyTorch's result keeps requires_grad with a node that refuses backward.)"""
    _tensor_arg("detach_copy", input, "self")
    return input.detach().clone()


def alias_copy(input):
    _tensor_arg("alias_copy", input, "self")
    return _copy_as(input[...], "AliasBackward0_copy")


def split_copy(tensor, split_size, dim=0):
    if not isinstance(split_size, int):
        raise TypeError(f"split_copy(): argument 'split_size' (position 2) must be int, not "
                        f"{type(split_size).__name__}")
    return tuple(_copy_as(p, "SplitBackward0_copy") for p in tensor.split(split_size, dim))


def split_with_sizes_copy(input, split_sizes, dim=0):
    return tuple(_copy_as(p, "SplitWithSizesBackward0_copy") for p in input.split(list(split_sizes), dim))


def unbind_copy(input, dim=0):
    return tuple(_copy_as(p, "UnbindBackward0_copy") for p in input.unbind(dim))


def unfold_copy(input, dimension, size, step):
    return _copy_as(input.unfold(dimension, size, step), "UnfoldBackward0_copy")
