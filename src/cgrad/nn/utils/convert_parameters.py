"""Parameters as one flat vector, and back."""
from cgrad import _C
from cgrad._C import Tensor

__all__ = ["parameters_to_vector", "vector_to_parameters"]


def parameters_to_vector(parameters):
    """The parameters' values, flattened and joined in order, in one 1-D tensor."""
    return _C.cat([p.reshape(-1) for p in parameters])


def vector_to_parameters(vec, parameters):
    """Makes each parameter's data the matching slice of vec (viewed in the parameter's shape), as PyTorch does:
    the parameters then share vec's memory."""
    if not isinstance(vec, Tensor):
        kind = type(vec)
        name = kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
        raise TypeError(f"expected torch.Tensor, but got: {name}")
    start = 0
    for p in parameters:
        n = p.numel()
        p.data = vec[start:start + n].view(tuple(p.shape)).data
        start += n
