"""The function forms of tensor methods: cgrad.exp(x) is x.exp()."""
from cgrad._C import Tensor
from cgrad._creation import tensor as _tensor


def _t(x):
    return x if isinstance(x, Tensor) else _tensor(x)


def add(input, other, *, alpha=1):
    return _t(input).add(other, alpha=alpha)


def sub(input, other, *, alpha=1):
    return _t(input).sub(other, alpha=alpha)


def mul(input, other):
    return _t(input) * other


def div(input, other):
    return _t(input) / other


def pow(input, exponent):
    if not isinstance(input, Tensor):
        return input ** exponent
    return input ** exponent


def neg(input):
    return -input


def matmul(input, other):
    return input @ other


def mm(input, mat2):
    return input.mm(mat2)


def bmm(input, mat2):
    return input.bmm(mat2)


def mv(input, vec):
    return input.mv(vec)


def dot(input, other):
    return input.dot(other)


def outer(input, vec2):
    return input.outer(vec2)


def exp(input):
    return input.exp()


def log(input):
    return input.log()


def tanh(input):
    return input.tanh()


def sigmoid(input):
    return input.sigmoid()


def relu(input):
    return input.relu()


def sum(input, dim=None, keepdim=False, *, dtype=None):
    return input.sum(dim, keepdim, dtype=dtype)


def mean(input, dim=None, keepdim=False, *, dtype=None):
    return input.mean(dim, keepdim, dtype=dtype)


def reshape(input, shape):
    return input.reshape(shape)


def transpose(input, dim0, dim1):
    return input.transpose(dim0, dim1)


def permute(input, dims):
    return input.permute(dims)


def unsqueeze(input, dim):
    return input.unsqueeze(dim)


def squeeze(input, dim=None):
    return input.squeeze(dim)


def clone(input):
    return input.clone()


def detach(input):
    return input.detach()


def numel(input):
    return input.numel()


def is_tensor(obj):
    return isinstance(obj, Tensor)
