"""Helpers shared by the distributions: broadcasting, probs/logits, lazy properties, Cholesky."""
import numbers

import numpy as np

import cgrad
from cgrad.autograd import Function

__all__ = ["broadcast_all", "clamp_probs", "lazy_property", "logits_to_probs", "probs_to_logits"]

_TINY = {cgrad.float32: float(np.finfo(np.float32).tiny), cgrad.float64: float(np.finfo(np.float64).tiny)}
_EPS = {cgrad.float32: float(np.finfo(np.float32).eps), cgrad.float64: float(np.finfo(np.float64).eps)}


def tiny(dtype):
    """The smallest positive normal number of dtype."""
    return _TINY[dtype]


def eps(dtype):
    """The machine epsilon of dtype."""
    return _EPS[dtype]


def broadcast_all(*values):
    """values (tensors and numbers) as tensors broadcast to one shape; numbers
    take the dtype of the first tensor, or the default dtype."""
    if not all(isinstance(v, (cgrad.Tensor, numbers.Number)) for v in values):
        raise ValueError("Input arguments must all be instances of numbers.Number or cgrad.Tensor.")
    if not all(isinstance(v, cgrad.Tensor) for v in values):
        dtype = next((v.dtype for v in values if isinstance(v, cgrad.Tensor)), cgrad.get_default_dtype())
        values = [v if isinstance(v, cgrad.Tensor) else cgrad.tensor(v, dtype=dtype) for v in values]
    return cgrad.broadcast_tensors(*values)


def set_count_and_param(dist, total_count, probs, logits):
    """A counting distribution's total_count and its probs or logits, broadcast
    together, the count in the parameter's dtype; _param is the one given."""
    if (probs is None) == (logits is None):
        raise ValueError("Either `probs` or `logits` must be specified, but not both.")
    name, value = ("probs", probs) if probs is not None else ("logits", logits)
    count, param = broadcast_all(total_count, value)
    dist.total_count = count.type_as(param)
    setattr(dist, name, param)
    dist._param = param


def expand_probs_logits(dist, new, shape):
    """dist's probs and logits (those it has computed), expanded to shape, on new;
    new._param is the one expanded last, as dist's is one of them."""
    for name in ("probs", "logits"):
        if name in dist.__dict__:
            setattr(new, name, getattr(dist, name).expand(shape))
            new._param = getattr(new, name)


def expand_count_and_param(dist, new, batch_shape):
    """set_count_and_param's attributes of dist, expanded to batch_shape, on new."""
    new.total_count = dist.total_count.expand(batch_shape)
    expand_probs_logits(dist, new, batch_shape)


def standard_normal(shape, dtype):
    return cgrad.randn(tuple(shape), dtype=dtype)


def sum_rightmost(value, dim):
    """value summed over its dim rightmost dims."""
    if dim == 0:
        return value
    return value.reshape(tuple(value.shape[:-dim]) + (-1,)).sum(-1)


def logits_to_probs(logits, is_binary=False):
    """Probabilities from logits: sigmoid when binary, else softmax over the last dim."""
    if is_binary:
        return cgrad.sigmoid(logits)
    return cgrad.softmax(logits, dim=-1)


def clamp_probs(probs):
    """probs clamped to [eps, 1 - eps], so their logits are finite."""
    e = eps(probs.dtype)
    return probs.clamp(min=e, max=1 - e)


def probs_to_logits(probs, is_binary=False):
    """Logits from probabilities: log-odds when binary, else log."""
    clamped = clamp_probs(probs)
    if is_binary:
        return cgrad.log(clamped) - cgrad.log1p(-clamped)
    return cgrad.log(clamped)


class lazy_property:
    """A property computed on first access and then stored on the instance;
    on the class it acts as a property, so validation can tell it apart."""

    def __init__(self, wrapped):
        self.wrapped = wrapped
        self.__doc__ = wrapped.__doc__

    def __get__(self, instance, obj_type=None):
        if instance is None:
            return _LazyPropertyAndProperty(self.wrapped)
        with cgrad.enable_grad():
            value = self.wrapped(instance)
        setattr(instance, self.wrapped.__name__, value)
        return value


class _LazyPropertyAndProperty(lazy_property, property):
    """What a lazy_property is on its class: a property, still recognisable as lazy."""

    def __init__(self, wrapped):
        property.__init__(self, wrapped)


class _Cholesky(Function):
    """The lower Cholesky factor L of each symmetric positive-definite matrix A."""

    @staticmethod
    def forward(ctx, a):
        try:
            factor = np.linalg.cholesky(a.detach().numpy())
        except np.linalg.LinAlgError:
            raise cgrad.linalg.LinAlgError("linalg.cholesky: The factorization could not be completed because "
                                           "the input is not positive-definite.") from None
        lower = cgrad.tensor(factor, dtype=a.dtype)
        ctx.save_for_backward(lower)
        return lower

    @staticmethod
    def backward(ctx, grad):
        # dA = L^-T Phi(L^T dL) L^-1, symmetrized; Phi keeps the lower triangle with its diagonal halved
        (lower,) = ctx.saved_tensors
        phi = (lower.mT @ grad.tril()).tril()
        phi = phi - 0.5 * cgrad.diag_embed(phi.diagonal(dim1=-2, dim2=-1))
        inverse = cgrad.linalg.inv(lower)
        grad_a = inverse.mT @ phi @ inverse
        return 0.5 * (grad_a + grad_a.mT)


def cholesky(a):
    """The lower Cholesky factor of a (batched), differentiable; numpy computes
    the factor, the gradient is cgrad ops."""
    return _Cholesky.apply(a)
