"""Gradient clipping; each call is one C pass over all the gradients."""
from cgrad import _C
from cgrad._C import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_"]


def _param_list(parameters):
    if isinstance(parameters, Tensor):
        return [parameters]
    return list(parameters)


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Scales the gradients in place so that their total norm (of order norm_type, over all of
    them together) is at most max_norm; returns the total norm before clipping."""
    params = _param_list(parameters)
    norm_type = float(norm_type)
    if not any(p.grad is not None for p in params):
        return _C.zeros(())
    return _C._clip_grad_norm(params, float(max_norm), norm_type, bool(error_if_nonfinite))


def clip_grad_value_(parameters, clip_value, foreach=None):
    """Clamps every gradient in place to [-clip_value, clip_value]."""
    _C._clip_grad_value(_param_list(parameters), float(clip_value))
