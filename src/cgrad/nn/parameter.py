"""Parameter: a Tensor that a Module registers as one of its parameters."""
from cgrad import _C
from cgrad._C import Tensor


def _rebuild_parameter(data, requires_grad):
    return Parameter(data, requires_grad)


class Parameter(Tensor):
    """A Tensor that is a module parameter: assigning one as a Module attribute
    registers it, and it requires grad unless told otherwise. It shares memory
    with the tensor it is made from."""

    def __new__(cls, data=None, requires_grad=True):
        if data is None:
            data = _C.empty(0)
        return Tensor._make_subclass(cls, data, requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        result = type(self)(self.detach().clone(), self.requires_grad)
        memo[id(self)] = result
        return result

    def __reduce_ex__(self, protocol):
        return (_rebuild_parameter, (self.detach(), self.requires_grad))


def _rebuild_buffer(data, persistent):
    return Buffer(data, persistent=persistent)


class Buffer(Tensor):
    """A Tensor that is a module buffer: assigning one as a Module attribute registers it as a buffer
    (persistent: in the state dict). It shares memory with the tensor it is made from."""

    def __new__(cls, data=None, *, persistent=True):
        if data is None:
            data = _C.empty(0)
        t = Tensor._make_subclass(cls, data.detach(), data.requires_grad)
        t.persistent = persistent
        t._is_buffer = True
        return t

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        result = Buffer(self.detach().clone().requires_grad_(self.requires_grad), persistent=self.persistent)
        memo[id(self)] = result
        return result

    def __reduce_ex__(self, protocol):
        return (_rebuild_buffer, (self.detach().requires_grad_(self.requires_grad), self.persistent))


class UninitializedTensorMixin:
    """A parameter or buffer of a lazy module whose shape is not known yet: it holds no data until
    materialize(shape) makes it an ordinary Parameter (Tensor) of that shape."""

    def materialize(self, shape, device=None, dtype=None):
        """Gives it data of shape (uninitialized values) and turns it into its ordinary class."""
        if isinstance(shape, int):
            shape = (shape,)
        self.data = _C.empty(*tuple(shape), dtype=self.dtype if dtype is None else dtype)
        self.__class__ = self.cls_to_become

    @property
    def shape(self):
        raise RuntimeError("Can't access the shape of an uninitialized parameter or buffer. This error usually "
                           "happens in `load_state_dict` when trying to load an uninitialized parameter into an "
                           "initialized one. Call `forward` to initialize the parameters before accessing their "
                           "attributes.")

    def share_memory_(self):
        raise RuntimeError("Can't share memory on an uninitialized parameter or buffer. Call `forward` to "
                           "initialize the parameters before calling `module.share_memory()`.")

    def __repr__(self):
        return f"<{self.__class__.__name__}>"

    def __reduce_ex__(self, protocol):
        return (self.__class__, (self.requires_grad,))


def is_lazy(param):
    """Whether param is an uninitialized parameter or buffer of a lazy module."""
    return isinstance(param, UninitializedTensorMixin)


class UninitializedParameter(UninitializedTensorMixin, Parameter):
    cls_to_become = Parameter

    def __new__(cls, requires_grad=True, device=None, dtype=None):
        return Tensor._make_subclass(cls, _C.empty(0, dtype=dtype) if dtype is not None else _C.empty(0),
                                     requires_grad)

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        result = type(self)(self.requires_grad, None, self.dtype)
        memo[id(self)] = result
        return result


class UninitializedBuffer(UninitializedTensorMixin, Tensor):
    cls_to_become = Tensor

    def __new__(cls, requires_grad=False, device=None, dtype=None):
        return Tensor._make_subclass(cls, _C.empty(0, dtype=dtype) if dtype is not None else _C.empty(0),
                                     requires_grad)
