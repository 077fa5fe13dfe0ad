"""Creating tensors from Python data and numpy arrays."""
import warnings

import numpy as np

from cgrad import _C
from cgrad._C import Tensor


def _check_nesting(data):
    """PyTorch's error for a ragged or wrongly nested list, walking it level by level."""
    level, dim = [data], 0
    while level:
        seqs = [isinstance(x, (list, tuple, np.ndarray)) for x in level]
        if not any(seqs):
            return
        if not all(seqs):
            bad = level[seqs.index(False)]
            raise TypeError(f"not a sequence: expected a sequence at dim {dim}, got {type(bad).__name__}")
        n = len(level[0])
        for x in level:
            if len(x) != n:
                raise ValueError(f"expected sequence of length {n} at dim {dim} (got {len(x)})")
        level, dim = [y for x in level for y in x], dim + 1


def _check_elements(arr):
    """PyTorch's error for elements that are not numbers (or do not fit in 64 bits)."""
    for v in arr.flat:
        if isinstance(v, int) and not isinstance(v, bool) and not -2 ** 63 <= v < 2 ** 63:
            raise ValueError(f"Overflow when unpacking long long: {v} does not fit in 64 bits")
        if not isinstance(v, (bool, int, float, np.generic)):
            raise RuntimeError(f"Could not infer dtype of {type(v).__name__}")


def _infer_array(data, dtype=None):
    """data as a numpy array, with PyTorch's dtype rules for Python lists
    (floats become the default dtype, unless dtype asks for another); an
    array or a numpy scalar keeps its own."""
    try:
        arr = np.asarray(data)
    except ValueError:
        _check_nesting(data)
        raise
    if arr.dtype == object:
        _check_nesting(data)
        _check_elements(arr)
        raise ValueError("could not build a tensor from this data: expected a (nested) sequence of "
                         "numbers of regular shape")
    if dtype is None and not isinstance(data, (np.ndarray, np.generic)) and arr.dtype.kind == "f" and \
            not _holds_float64(data):
        arr = arr.astype(_C.get_default_dtype().numpy_dtype)
    return arr


def _holds_float64(data):
    """Whether a (nested) list holds a numpy float64 scalar or array: PyTorch
    infers a list's dtype from its elements', where a Python float counts as
    the default dtype and a numpy value as its own."""
    level = [data]
    while level:
        deeper = []
        for seq in level:
            kinds = set(map(type, seq))
            if np.float64 in kinds:
                return True
            if np.ndarray in kinds and any(isinstance(x, np.ndarray) and x.dtype == np.float64 for x in seq):
                return True
            if any(issubclass(k, (list, tuple)) for k in kinds):
                deeper.extend(x for x in seq if isinstance(x, (list, tuple)))
        level = deeper
    return False


def _no_float_tensor_elements(data):
    """PyTorch reads a tensor inside a list made into integers or booleans as an index: a
    floating one is refused."""
    level = [data]
    while level:
        deeper = []
        for seq in level:
            for x in seq:
                if isinstance(x, Tensor) and x.is_floating_point():
                    raise TypeError("only integer tensors of a single element can be converted to an index")
                if isinstance(x, (list, tuple)):
                    deeper.append(x)
        level = deeper


def tensor(data, dtype=None, requires_grad=False, device=None, pin_memory=False):
    """A new tensor holding a copy of data (a number, a nested list, an array or a tensor)."""
    _C._factory_options(None, device, pin_memory)
    if isinstance(data, Tensor):
        warnings.warn("To copy construct from a tensor, it is recommended to use sourceTensor.clone().detach() "
                      "or sourceTensor.clone().detach().requires_grad_(True), rather than "
                      "cgrad.tensor(sourceTensor).", UserWarning, stacklevel=2)
        t = data.detach().clone()
        t = t if dtype is None else t.to(dtype)
    elif isinstance(data, (bool, int, float)) and not isinstance(data, np.generic) and dtype is None:
        t = _C._scalar_tensor(data, dtype)
    else:  # with a dtype, values go straight to it (no rounding through the default dtype)
        arr = _infer_array(data, dtype)
        if dtype in (_C.int64, _C.bool_) and arr.dtype.kind == "f" and isinstance(data, (list, tuple)):
            _no_float_tensor_elements(data)
        with np.errstate(over="ignore"):  # beyond float32's range is inf, as in torch, without a warning
            t = _C._tensor_from_numpy_copy(arr, dtype)
    if requires_grad:
        _C._require_grad_of_new(t)
    return t


def as_tensor(data, dtype=None, device=None):
    """data as a tensor, sharing memory with a tensor or numpy array when the dtype allows."""
    _C._factory_options(None, device)
    if isinstance(data, Tensor):
        return data if dtype is None else data.to(dtype)
    if isinstance(data, np.ndarray) and data.dtype in (np.float32, np.float64, np.int64, np.bool_):
        t = _C.from_numpy(data)
        return t if dtype is None else t.to(dtype)
    return tensor(data, dtype=dtype)


def _like_arg(x, fname):
    if not isinstance(x, Tensor):
        raise TypeError(f"{fname}(): argument 'input' (position 1) must be Tensor, not {type(x).__name__}")


def _like(factory, fname, input, memory_format, dtype, layout, device, requires_grad, before=(), after=()):
    """factory(*before, input.shape, *after, ...): a new tensor of input's shape, laid out as
    memory_format asks (preserve_format, the default: as input where input is dense)."""
    _like_arg(input, fname)
    strides = _C._like_strides(input, memory_format, fname)
    out = factory(*before, input.shape, *after, dtype=dtype or input.dtype, layout=layout, device=device or _C._cpu,
                  requires_grad=requires_grad)
    if strides is None:
        return out
    with _no_grad():
        laid_out = _C.empty_strided(input.shape, strides, dtype=out.dtype).copy_(out)
    return laid_out.requires_grad_(out.requires_grad)


def zeros_like(input, *, dtype=None, layout=None, device=None, requires_grad=False, memory_format=None):
    return _like(_C.zeros, "zeros_like", input, memory_format, dtype, layout, device, requires_grad)


def ones_like(input, *, dtype=None, layout=None, device=None, requires_grad=False, memory_format=None):
    return _like(_C.ones, "ones_like", input, memory_format, dtype, layout, device, requires_grad)


def empty_like(input, *, dtype=None, layout=None, device=None, requires_grad=False, memory_format=None):
    return _like(_C.empty, "empty_like", input, memory_format, dtype, layout, device, requires_grad)


def full_like(input, fill_value, *, dtype=None, layout=None, device=None, requires_grad=False, memory_format=None):
    return _like(_C.full, "full_like", input, memory_format, dtype, layout, device, requires_grad,
                 after=(fill_value,))


def rand_like(input, *, dtype=None, layout=None, device=None, requires_grad=False, memory_format=None):
    return _like(_C.rand, "rand_like", input, memory_format, dtype, layout, device, requires_grad)


def randn_like(input, *, dtype=None, layout=None, device=None, requires_grad=False, memory_format=None):
    return _like(_C.randn, "randn_like", input, memory_format, dtype, layout, device, requires_grad)


def randint_like(input, low=0, high=None, *, dtype=None, layout=None, device=None, requires_grad=False,
                 memory_format=None):
    if high is None:
        low, high = 0, low
    return _like(_C.randint, "randint_like", input, memory_format, dtype, layout, device, requires_grad,
                 before=(low, high))


def normal(mean, std=1.0, size=None, *, generator=None, dtype=None, layout=None, device=None, pin_memory=False,
           requires_grad=False):
    """Samples of N(mean, std^2); mean and std may be tensors (broadcast) or numbers."""
    _C._factory_options(layout, device, pin_memory)
    if isinstance(mean, Tensor) or isinstance(std, Tensor):
        like = mean if isinstance(mean, Tensor) else std
        shape = like.shape if size is None else size
        if isinstance(mean, Tensor) and isinstance(std, Tensor):
            shape = (mean * 0 + std * 0).shape if size is None else size
        with _no_grad():
            noise = _C.randn(shape, generator=generator, dtype=dtype or like.dtype)
            out = noise * std + mean
        return out.requires_grad_(requires_grad)
    if size is None:
        raise TypeError("normal() missing required argument 'size' when mean and std are numbers")
    with _no_grad():
        out = _C.randn(size, generator=generator, dtype=dtype) * std + mean
    return out.requires_grad_(requires_grad)


def _no_grad():
    from cgrad.autograd.grad_mode import no_grad
    return no_grad()
