"""Gradient clipping; each call is one C pass over all the gradients."""
from cgrad import _C
from cgrad._C import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_", "get_total_norm", "clip_grads_with_norm_", "clip_grad_norm"]


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


def get_total_norm(tensors, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """The norm of order norm_type of the tensors' norms: the norm of all their elements together."""
    from cgrad import linalg
    tensors = _param_list(tensors)
    norm_type = float(norm_type)
    if not tensors:
        return _C.zeros(())
    with _C.no_grad():
        total = linalg.vector_norm(_C.stack([linalg.vector_norm(t, norm_type) for t in tensors]), norm_type)
    if error_if_nonfinite and (total.isnan() | total.isinf()).item():
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, so it "
                           "cannot be clipped. To disable this error and scale the gradients by the non-finite norm "
                           "anyway, set `error_if_nonfinite=False`")
    return total


def clip_grads_with_norm_(parameters, max_norm, total_norm, foreach=None):
    """Scales the gradients by min(1, max_norm / (total_norm + 1e-6)), total_norm given (get_total_norm)."""
    grads = [p.grad for p in _param_list(parameters) if p.grad is not None]
    if not grads:
        return
    with _C.no_grad():
        coef = (float(max_norm) / (total_norm + 1e-6)).clamp(max=1.0)
        for g in grads:
            g.mul_(coef)


def clip_grad_norm(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Deprecated: clip_grad_norm_."""
    import warnings
    warnings.warn("`torch.nn.utils.clip_grad_norm` is now deprecated in favor of `torch.nn.utils.clip_grad_norm_`.",
                  FutureWarning, stacklevel=2)
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite, foreach)
