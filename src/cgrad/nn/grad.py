"""cgrad.nn.grad: the gradients of a convolution with respect to its input and to its weight.

Each is the backward of the convolution (the same C kernels): differentiable again when its tensor
arguments require grad, as PyTorch's convolution_backward is.
"""
from cgrad import _C
from cgrad.autograd import grad as _autograd_grad
from cgrad.autograd.grad_mode import enable_grad, is_grad_enabled
from cgrad.nn import functional as F

__all__ = ["conv1d_input", "conv1d_weight", "conv2d_input", "conv2d_weight", "conv3d_input", "conv3d_weight"]


def _ntuple(value, n):
    return tuple(value) if isinstance(value, (tuple, list)) else (value,) * n


def _backward(n, input, weight, grad_output, stride, padding, dilation, groups, wrt):
    """The gradient of conv{n}d(input, weight) against grad_output with respect to input or weight."""
    conv = (F.conv1d, F.conv2d, F.conv3d)[n - 1]
    create_graph = is_grad_enabled() and any(t.requires_grad for t in (input, weight, grad_output))
    with enable_grad():
        own = (input if wrt == 0 else weight).detach().requires_grad_()
        args = (own, weight) if wrt == 0 else (input, own)
        out = conv(*args, None, _ntuple(stride, n), _ntuple(padding, n), _ntuple(dilation, n), groups)
        result, = _autograd_grad(out, own, grad_output, create_graph=create_graph)
    return result


def _stand_in(grad_output, size):
    """A tensor of the given size standing for the argument whose gradient is asked (its values are
    not read: the gradient is linear in the others)."""
    return _C.zeros(tuple(size), dtype=grad_output.dtype)


def conv1d_input(input_size, weight, grad_output, stride=1, padding=0, dilation=1, groups=1):
    return _backward(1, _stand_in(grad_output, input_size), weight, grad_output, stride, padding, dilation, groups, 0)


def conv1d_weight(input, weight_size, grad_output, stride=1, padding=0, dilation=1, groups=1):
    return _backward(1, input, _stand_in(grad_output, weight_size), grad_output, stride, padding, dilation, groups, 1)


def conv2d_input(input_size, weight, grad_output, stride=1, padding=0, dilation=1, groups=1):
    return _backward(2, _stand_in(grad_output, input_size), weight, grad_output, stride, padding, dilation, groups, 0)


def conv2d_weight(input, weight_size, grad_output, stride=1, padding=0, dilation=1, groups=1):
    return _backward(2, input, _stand_in(grad_output, weight_size), grad_output, stride, padding, dilation, groups, 1)


def conv3d_input(input_size, weight, grad_output, stride=1, padding=0, dilation=1, groups=1):
    return _backward(3, _stand_in(grad_output, input_size), weight, grad_output, stride, padding, dilation, groups, 0)


def conv3d_weight(input, weight_size, grad_output, stride=1, padding=0, dilation=1, groups=1):
    return _backward(3, input, _stand_in(grad_output, weight_size), grad_output, stride, padding, dilation, groups, 1)
