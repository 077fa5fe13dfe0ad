"""PyTorch's legacy Variable: since tensors carry autograd themselves, Variable(t) is a tensor, and every
tensor is an instance of Variable."""
import warnings

from cgrad import _C


class VariableMeta(type):
    def __instancecheck__(cls, other):
        return isinstance(other, _C.Tensor)


_ARGS = ("data", "requires_grad", "volatile", "_grad_fn", "name")


class Variable(metaclass=VariableMeta):
    """Variable(data=None, requires_grad=False, volatile=False, _grad_fn=None, name=None): a new leaf tensor
    sharing data's storage (an empty one without data), requiring grad as asked."""

    def __new__(cls, *args, **kwargs):
        if len(args) > len(_ARGS):
            raise TypeError(f"Variable() takes at most {len(_ARGS)} arguments ({len(args)} given)")
        values = dict(zip(_ARGS, args))
        for key, value in kwargs.items():
            if key not in _ARGS:
                raise TypeError(f"'{key}' is an invalid keyword argument for this function")
            values[key] = value
        data, requires_grad = values.get("data"), values.get("requires_grad", False)
        name, grad_fn = values.get("name"), values.get("_grad_fn")
        if name is not None and not isinstance(name, str):
            raise TypeError(f"argument 5 must be str or None, not {type(name).__name__}")
        if isinstance(requires_grad, str):
            raise TypeError(f"'{type(requires_grad).__name__}' object cannot be interpreted as an integer")
        if grad_fn is not None:
            raise TypeError(f"_grad_fn has to be a Function object or None, but got {type(grad_fn).__name__}")
        if values.get("volatile"):
            warnings.warn("volatile was removed and now has no effect. Use `with torch.no_grad():` instead.",
                          UserWarning, stacklevel=2)
        if data is None:
            data = _C.empty(0)
        elif not isinstance(data, _C.Tensor):
            raise TypeError(f"Variable data has to be a tensor, but got {type(data).__name__}")
        if requires_grad and not data.is_floating_point():
            raise RuntimeError("Only Tensors of floating point and complex dtype can require gradients")
        result = _C.Tensor.detach(data)
        return result.requires_grad_() if requires_grad else result
