"""Tensor methods and functions written in Python: element loops over Python callables, resize_,
new(), histogram, and small forms PyTorch has (rsub, fill, isreal, scalar_tensor, range, asarray)."""
import builtins
import collections.abc
import functools
import math
import operator
import warnings

import numpy as np

from cgrad import _C
from cgrad._C import Tensor
from cgrad._creation import tensor as _tensor
from cgrad.autograd.function import Function

__all__ = ["asarray", "fill", "histogram", "isreal", "range", "rsub", "scalar_tensor"]

histogram_result = collections.namedtuple("histogram", ["hist", "bin_edges"])


def _no_grad_inplace(self, name):
    if self.requires_grad:
        raise RuntimeError(f"Can't call {name}() on Variable that requires grad. Use var.detach().{name}() instead.")


def _python_values(t):
    return t.detach().numpy().reshape(-1).tolist()


def _store(self, values):
    """Writes values (a flat list, in self's element order) into self, in place."""
    with _C.no_grad():
        self.copy_(_tensor(values, dtype=self.dtype).reshape(self.shape) if values else self)
    return self


def apply_(self, callable):
    """Replaces each element x by callable(x), a Python call per element (slow, as PyTorch's)."""
    _no_grad_inplace(self, "apply_")
    return _store(self, [callable(v) for v in _python_values(self)])


def map_(self, tensor, callable):
    """self[i] = callable(self[i], tensor[i]), tensor broadcast to self's shape."""
    _no_grad_inplace(self, "map_")
    other = tensor.detach().broadcast_to(self.shape)
    return _store(self, [callable(a, b) for a, b in zip(_python_values(self), _python_values(other))])


def map2_(self, x, y, callable):
    """self[i] = callable(self[i], x[i], y[i]), x and y broadcast to self's shape."""
    _no_grad_inplace(self, "map2_")
    xs, ys = x.detach().broadcast_to(self.shape), y.detach().broadcast_to(self.shape)
    values = [callable(a, b, c) for a, b, c in zip(_python_values(self), _python_values(xs), _python_values(ys))]
    return _store(self, values)


def _sizes(args, fname):
    if len(args) == 1 and isinstance(args[0], (tuple, list, _C.Size)):
        args = tuple(args[0])
    for a in args:
        if isinstance(a, bool) or not isinstance(a, (int, np.integer)):
            raise TypeError(f"{fname}(): argument 'size' must be tuple of ints, but found element of type "
                            f"{type(a).__name__}")
        if a < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {a}: {list(args)}")
    return tuple(int(a) for a in args)


class Resize(Function):
    """The deprecated out-of-place resize: a reshape of a contiguous copy, one ResizeBackward node."""

    @staticmethod
    def forward(ctx, tensor, sizes):
        ctx.shape = tensor.shape
        return tensor.contiguous().view(sizes)

    @staticmethod
    def backward(ctx, grad):
        return grad.contiguous().view(ctx.shape), None


def _resize_out_of_place(self, sizes, fname):
    warnings.warn(f"non-inplace {fname} is deprecated", UserWarning, stacklevel=3)
    numel = functools.reduce(operator.mul, sizes)  # PyTorch's: a Size given whole is not multiplied out
    if numel != self.numel():
        shape = "x".join(str(d) for d in self.shape)
        raise RuntimeError(f"requested resize to {'x'.join(str(d) for d in sizes)} ({numel} elements in total), but "
                           f"the given tensor has a size of {shape} ({self.numel()} elements). autograd's resize can "
                           f"only change the shape of a given tensor, while preserving the number of elements. ")
    return Resize.apply(self, tuple(sizes))


def resize(self, *sizes):
    """Deprecated: self's elements in the shape sizes (of as many elements), a new tensor."""
    return _resize_out_of_place(self, sizes, "resize")


def resize_as(self, tensor):
    """Deprecated: self's elements in tensor's shape (of as many elements), a new tensor."""
    return _resize_out_of_place(self, tuple(tensor.shape), "resize_as")


def reinforce(self, reward):
    raise RuntimeError("reinforce() was removed.\nUse cgrad.distributions instead.\nSee "
                       "https://pytorch.org/docs/main/distributions.html\n\nInstead of:\n\nprobs = "
                       "policy_network(state)\naction = probs.multinomial()\nnext_state, reward = env.step(action)\n"
                       "action.reinforce(reward)\naction.backward()\n\nUse:\n\nprobs = policy_network(state)\n"
                       "# NOTE: categorical is equivalent to what used to be called multinomial\nm = "
                       "cgrad.distributions.Categorical(probs)\naction = m.sample()\nnext_state, reward = "
                       "env.step(action)\nloss = -m.log_prob(action) * reward\nloss.backward()\n")


def resize_(self, *sizes, memory_format=None):
    """Gives self the shape sizes in place: its elements, in order, fill the new shape as far as they
    go; when it grows, the rest are left uninitialized (here zero), as PyTorch's storage leaves them.
    A memory_format lays the shape out in that order over the same elements (row-major: self's)."""
    return _resize(self, _sizes(sizes, "resize_"), memory_format, "resize_")


def _resize(self, shape, memory_format, fname):
    if self.requires_grad:
        raise RuntimeError("cannot resize variables that require grad")
    if memory_format is _C.preserve_format:
        raise RuntimeError("Unsupported memory formatPreserve")
    strides = None if memory_format is None else _C._format_strides(shape, memory_format, fname)
    numel = math.prod(shape)
    same = strides is None or all(a == b or n <= 1 for a, b, n in zip(self.stride(), strides, shape))
    if tuple(self.shape) == shape and same:
        return self
    flat = self.detach().reshape(-1)
    if numel <= flat.numel():
        values = flat[:numel].clone()
    else:
        values = _C.cat([flat, _C.zeros(numel - flat.numel(), dtype=self.dtype)])
    self.data = values.reshape(shape) if strides is None else values.as_strided(shape, strides)
    return self


def resize_as_(self, the_template, memory_format=None):
    """resize_ to the_template's shape; preserve_format takes the channels-last order of a template
    laid out so, else row-major."""
    if memory_format is _C.preserve_format:
        memory_format = _C.contiguous_format
        if not the_template.is_contiguous():
            for fmt in (_C.channels_last, _C.channels_last_3d):
                if the_template.is_contiguous(memory_format=fmt):
                    memory_format = fmt
    return _resize(self, tuple(the_template.shape), memory_format, "resize_as_")


def new(self, *args, **kwargs):
    """The legacy constructor, always of self's dtype (legacy_new)."""
    return legacy_new(self.dtype, args, kwargs)


_NEW_OVERLOADS = (" * (*, cgrad.device device = None)\n"
                  " * (cgrad.Storage storage)\n"
                  " * (Tensor other)\n"
                  " * (tuple of ints size, *, cgrad.device device = None)\n"
                  " * (object data, *, cgrad.device device = None)\n")
_STORAGE_NAMES = {"float32": "Float", "float64": "Double", "int64": "Long", "bool": "Bool"}


def _new_arg_name(v):
    if isinstance(v, Tensor):
        return "Tensor"
    if isinstance(v, _C.UntypedStorage) or hasattr(v, "_untyped_storage"):
        return "cgrad.storage." + type(v).__name__
    kind = type(v)
    return f"cgrad.{kind.__name__}" if kind.__module__.startswith("cgrad") else kind.__name__


def _size_item(v):
    """v as one size of new(sizes...), or None when it is not an int (a 0-d integer tensor is)."""
    if isinstance(v, Tensor):
        return int(v) if v.dim() == 0 and v.dtype == _C.int64 else None
    return None if isinstance(v, bool) or not isinstance(v, (int, np.integer)) else int(v)


def _legacy_device(device):
    if device is None or isinstance(device, str) and device == "cpu":
        return
    if isinstance(device, int) and not isinstance(device, bool):
        raise RuntimeError("Cannot access accelerator device when none is available.")
    kind = (device if isinstance(device, _C.device) else _C.device(device)).type
    if kind != "cpu":
        raise RuntimeError(f"legacy constructor expects device type: cpu but device type: {kind} was passed")


def legacy_new(dtype, args, kwargs, constructor=False):
    """PyTorch's legacy constructor (Tensor.new, and when constructor, cgrad.Tensor(...) and
    cgrad.FloatTensor(...)): no argument an empty tensor; sizes (ints or a Size) an uninitialized
    one; a storage a tensor on its bytes; a tensor an alias of it; a sequence (a tuple too) or an
    array a tensor of its values; all of dtype, except an alias made by cgrad.Tensor (dtype None),
    which keeps its tensor's."""
    if any(k != "device" for k in kwargs):
        got = ", ".join([_new_arg_name(a) for a in args] +
                        [f"{k}={_new_arg_name(v)}" for k, v in reversed(kwargs.items())])
        raise TypeError(f"new() received an invalid combination of arguments - got ({got}), but expected one "
                        f"of:\n{_NEW_OVERLOADS}")
    _legacy_device(kwargs.get("device"))
    first = args[0] if args else None
    if len(args) == 1 and isinstance(first, Tensor):
        if "device" in kwargs:
            raise RuntimeError("Legacy tensor constructor of the form cgrad.Tensor(tensor, device=device) is not "
                               "supported.  Use cgrad.tensor(...) or cgrad.as_tensor(...) instead." if constructor
                               else "Legacy tensor new of the form tensor.new(tensor, device=device) is not "
                               "supported.  Use cgrad.as_tensor(...) instead.")
        if dtype is not None and first.dtype != dtype:
            raise TypeError(f"expected {_options(dtype)} (got {_options(first.dtype)})")
        return Tensor.__getitem__(first, Ellipsis)  # an alias, as PyTorch's (whatever a subclass's [...] does)
    dtype = dtype or _C.get_default_dtype()
    if not args:
        return _C.empty(0, dtype=dtype)
    if len(args) == 1 and (isinstance(first, _C.UntypedStorage) or hasattr(first, "_untyped_storage")):
        untyped = first if isinstance(first, _C.UntypedStorage) else first._untyped_storage
        if untyped is not first and first.dtype != dtype:
            raise RuntimeError(f"Expected a Storage of type {_STORAGE_NAMES[dtype.name]} or an UntypedStorage, but "
                               f"got type {_STORAGE_NAMES[first.dtype.name]} for argument 1 'storage'")
        return _C.empty(0, dtype=dtype).set_(untyped)
    sizes = args[0] if len(args) == 1 and isinstance(first, _C.Size) else args
    ints = [_size_item(v) for v in sizes]
    if None not in ints:
        for v in ints:
            if v < 0:
                raise RuntimeError(f"Trying to create tensor with negative dimension {v}: {ints}")
        return _C.empty(*ints, dtype=dtype) if ints else _C.empty(0, dtype=dtype)
    if len(args) == 1:
        if isinstance(first, str):
            raise TypeError("new(): invalid data type 'str'")
        if not isinstance(first, (collections.abc.Sequence, np.ndarray)):
            kind = type(first)
            shown = kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__name__}"
            raise TypeError(f"new(): data must be a sequence (got {shown})")
        return _tensor(first, dtype=dtype)
    if ints[0] is not None:  # sizes, one of which is not an int
        at = next(i for i, v in enumerate(ints) if v is None)
        raise TypeError(f"new(): argument 'size' failed to unpack the object at pos {at + 1} with error \"type "
                        f"must be tuple of ints,but got {type(args[at]).__name__}\"")
    got = ", ".join(_new_arg_name(a) for a in args)
    raise TypeError(f"new() received an invalid combination of arguments - got ({got}), but expected one of:\n"
                    f"{_NEW_OVERLOADS}")


def _options(dtype):
    """PyTorch's printing of a tensor's options, in new()'s dtype error."""
    cname = {"float32": "float", "float64": "double", "int64": "long int", "bool": "bool"}[dtype.name]
    return (f"TensorOptions(dtype={cname}, device=cpu, layout=Strided, requires_grad=false (default), "
            f"pinned_memory=false (default), memory_format=(nullopt))")


def hardshrink(self, lambd=0.5):
    from cgrad.nn import functional as F
    return F.hardshrink(self, lambd)


def isreal(input):
    """True everywhere: every cgrad tensor is real."""
    if not isinstance(input, Tensor):
        raise TypeError(f"isreal(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    return _C.ones(input.shape, dtype=_C.bool_)


def _histogram_edges(x, bins, range):
    if isinstance(bins, Tensor):
        if bins.dim() != 1:
            raise RuntimeError(f"torch.histogramdd: bins tensor should have one dimension, but got {bins.dim()} "
                               f"dimensions in the bins tensor for dimension 0")
        if bins.dtype != x.dtype:
            raise RuntimeError(f"torch.histogramdd: input tensor and bins tensors should have the same dtype, but "
                               f"got input {x.dtype} and bins {bins.dtype}")
        if bins.numel() == 0:
            raise RuntimeError("torch.histogramdd: bins tensor should have at least 1 element, but got 0 elements "
                               "for dimension 0")
        return bins.detach().numpy().copy(), False
    if isinstance(bins, bool) or not isinstance(bins, int):
        raise TypeError(f"histogram(): argument 'bins' must be int or Tensor, not {type(bins).__name__}")
    if bins <= 0:
        raise RuntimeError(f"torch.histogram(): bins must be > 0, but got {bins} for dimension 0")
    values = x.detach().numpy().reshape(-1)
    if range is not None:
        lo, hi = float(range[0]), float(range[1])
    elif values.size:
        lo, hi = float(values.min()), float(values.max())
    else:
        lo, hi = 0.0, 1.0  # numpy's range for no values
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise RuntimeError(f"torch.histogramdd: dimension 0's range [{lo:g}, {hi:g}] is not finite")
    if lo > hi:
        raise RuntimeError(f"torch.histogramdd: min should not exceed max, but got min {_C._stream_number(lo)} max "
                           f"{_C._stream_number(hi)} for dimension 0")
    if lo == hi:
        lo, hi = lo - 0.5, hi + 0.5
    return _C.linspace(lo, hi, bins + 1, dtype=x.dtype).numpy(), True


def histogram(input, bins=100, *, range=None, weight=None, density=False):
    """The counts (or weight sums) of input's values in bins, and the bins' edges, as PyTorch's: an int
    bins splits [min, max] (or range) evenly; a tensor bins gives the edges. Each bin holds its left
    edge, the last its right edge too; values outside, and NaN, are not counted."""
    if not isinstance(input, Tensor):
        raise TypeError(f"histogram(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    if not input.dtype.is_floating_point:
        raise NotImplementedError(f"\"histogramdd\" not implemented for '{_C_TYPE_NAMES[input.dtype.name]}'")
    edges, even = _histogram_edges(input, bins, range)
    x = input.detach().numpy().reshape(-1)
    w = None
    if weight is not None:
        if tuple(weight.shape) != tuple(input.shape):
            raise RuntimeError("torch.histogram: if weight tensor is provided, it should have the same shape as "
                               "the input tensor excluding its innermost dimension")
        w = weight.detach().numpy().reshape(-1)
    nb = edges.size
    lo, hi = edges[0], edges[-1]
    keep = (x >= lo) & (x <= hi)
    xs = x[keep]
    if even and nb > 1:
        # PyTorch's linear interpolation, then a search among the neighbouring edges
        pos = ((xs - lo) * x.dtype.type(nb - 1) / (hi - lo)).astype(np.int64)
        out = np.empty_like(pos)
        for k, (p, v) in enumerate(zip(pos.tolist(), xs.tolist())):
            pmin, pmax = max(0, p - 1), min(p + 2, nb)
            out[k] = pmin + int(np.searchsorted(edges[pmin:pmax], v, side="right")) - 1
        pos = out
    else:
        pos = np.searchsorted(edges, xs, side="right") - 1
    pos[pos == nb - 1] -= 1
    hist = np.zeros(max(nb - 1, 0), dtype=x.dtype)
    if w is None:
        np.add.at(hist, pos, x.dtype.type(1))
    else:
        np.add.at(hist, pos, w[keep])
    if density:
        widths = np.diff(edges)
        hist = hist / (hist.sum(dtype=x.dtype) * widths)
    return histogram_result(_C.from_numpy(np.ascontiguousarray(hist.astype(x.dtype))),
                            _C.from_numpy(np.ascontiguousarray(edges)))


_C_TYPE_NAMES = {"int64": "Long", "bool": "Bool", "float32": "Float", "float64": "Double"}


def rsub(input, other, *, alpha=1):
    """other - alpha * input."""
    if not isinstance(input, Tensor):
        raise TypeError(f"rsub(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    if isinstance(other, Tensor):
        return other.sub(input, alpha=alpha)
    return other - (input if alpha == 1 else input * alpha)


def fill(input, value):
    """A new tensor of input's shape and dtype, every element value (a number or a 0-d tensor)."""
    if isinstance(value, Tensor):
        if value.dim() != 0:
            raise RuntimeError(f"fill_ only supports 0-dimension value tensor but got tensor with {value.dim()} "
                               f"dimensions.")
        return _C.zeros_like(input) + value.to(input.dtype) if input.requires_grad or value.requires_grad else \
            _C.full(tuple(input.shape), value.item(), dtype=input.dtype)
    return _C.full(tuple(input.shape), value, dtype=input.dtype)


def scalar_tensor(s, *, dtype=None, layout=None, device=None, pin_memory=None, requires_grad=False):
    """A 0-d tensor holding s, of dtype (the default dtype unless given)."""
    _C._factory_options(layout, device, pin_memory)
    if isinstance(s, Tensor):
        s = s.item()
    return _C.full((), s, dtype=_C.get_default_dtype() if dtype is None else dtype, requires_grad=requires_grad)


def range(start=0, end=None, step=1, *, dtype=None, layout=None, device=None, requires_grad=False):
    """Deprecated in PyTorch: values start, start + step, ... up to and including end, in the default
    dtype. Use arange."""
    _C._factory_options(layout, device)
    warnings.warn("torch.range is deprecated and will be removed in a future release because its behavior is "
                  "inconsistent with Python's range builtin. Instead, use torch.arange, which produces values in "
                  "[start, end).", UserWarning, stacklevel=2)
    if end is None:
        raise TypeError("range() missing required argument 'end' (pos 2)")
    start, end, step = (v.item() if isinstance(v, Tensor) else v for v in (start, end, step))
    if step == 0:
        raise RuntimeError("step must be nonzero")
    if not (math.isfinite(start) and math.isfinite(end)):
        raise RuntimeError(f"unsupported range: {start} -> {end}")
    if (step > 0 and start > end) or (step < 0 and start < end):
        raise RuntimeError("upper bound and lower bound inconsistent with step sign")
    dtype = _C.get_default_dtype() if dtype is None else dtype
    n = int(math.floor((end - start) / step)) + 1
    values = np.array([start + i * step for i in builtins.range(n)], dtype=np.float64)
    return _C.from_numpy(values.astype(dtype.numpy_dtype)).requires_grad_(requires_grad)


def asarray(obj, *, dtype=None, device=None, copy=None, requires_grad=False):
    """obj as a tensor, sharing memory where it can (a tensor of the asked dtype, a numpy array) unless
    copy is True; copy False raises when it cannot share."""
    _C._factory_options(None, device)
    if isinstance(obj, Tensor):
        out = obj
        if dtype is not None and dtype != obj.dtype:
            if copy is False:
                raise ValueError("can't alias tensor from a different dtype without copying")
            out = obj.to(dtype)
        elif copy:
            out = obj.clone()
    elif isinstance(obj, np.ndarray) and copy is not True and obj.dtype in (np.float32, np.float64, np.int64,
                                                                           np.bool_) and \
            (dtype is None or dtype.numpy_dtype == obj.dtype):
        out = _C.from_numpy(obj)
    else:
        if copy is False:
            raise ValueError(f"can't alias {type(obj).__name__} without copying")
        from cgrad._creation import tensor
        out = tensor(obj, dtype=dtype)
    if requires_grad:
        out = out.requires_grad_(True) if out.is_leaf else out
    return out


def storage(self):
    """The tensor's storage as a TypedStorage of its dtype (deprecated in PyTorch, as here)."""
    from cgrad.storage import typed_storage_of
    return typed_storage_of(self)


def storage_type(self):
    """The legacy storage class of the tensor's dtype (cgrad.FloatStorage, ...)."""
    from cgrad.storage import storage_type_of
    return storage_type_of(self)
