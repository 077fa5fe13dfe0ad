"""chain_matmul, the unsafe splits, index_reduce, nonzero_static, gradient and histogramdd: PyTorch's
functions written as compositions of cgrad's ops, with torch's values, gradients, node names and errors.
Tensor's methods of these names call the functions here."""
import builtins
import collections
import math
import warnings

import numpy as np

import cgrad
from cgrad import _C
from cgrad._C import Tensor, bool_, float32, float64, int64
from cgrad._stats import _SCATTER_GRADS, _scatter_reduce_value, _tensor, _type_name, _wrap_dim
from cgrad.autograd.function import Function

__all__ = ["chain_matmul", "gradient", "histogramdd", "index_reduce", "nonzero_static", "unsafe_chunk",
           "unsafe_split", "unsafe_split_with_sizes"]

_warned = set()  # the warnings torch gives once per process


def _warn_once(key, message):
    if key not in _warned:
        _warned.add(key)
        warnings.warn(message, UserWarning, stacklevel=3)


# ---- chain_matmul -----------------------------------------------------------------------------

def _chain_order(mats):
    """split[i][j]: where the cheapest product of mats[i..j] splits (the textbook dynamic program)."""
    n = len(mats)
    p = [m.shape[0] for m in mats] + [mats[-1].shape[1]]
    cost = [[0] * n for _ in range(n)]
    split = [[0] * n for _ in range(n)]
    for length in range(1, n):
        for i in range(n - length):
            j = i + length
            cost[i][j] = None
            for k in range(i, j):
                q = cost[i][k] + cost[k + 1][j] + p[i] * p[k + 1] * p[j + 1]
                if cost[i][j] is None or q < cost[i][j]:
                    cost[i][j], split[i][j] = q, k
    return split


def _chain_product(mats):
    """The product of 2-D mats in the order torch's multi_dot picks: the cheaper bracketing of three,
    the optimal one of more."""
    if len(mats) == 2:
        return mats[0].mm(mats[1])
    if len(mats) == 3:
        a, b, c, d = mats[0].shape[0], mats[1].shape[0], mats[2].shape[0], mats[2].shape[1]
        if a * c * (b + d) > b * d * (a + c):
            return mats[0].mm(mats[1].mm(mats[2]))
        return mats[0].mm(mats[1]).mm(mats[2])
    split = _chain_order(mats)

    def product(i, j):  # depth is the bracketing's, at most len(mats)
        if i == j:
            return mats[i]
        return product(i, split[i][j]).mm(product(split[i][j] + 1, j))
    return product(0, len(mats) - 1)


_DTYPE_NAMES = {float32: "float", float64: "double", int64: "long int", bool_: "bool"}


def chain_matmul(*matrices, out=None):
    """The product of the 2-D matrices, in the cheapest order (deprecated: linalg.multi_dot)."""
    _warn_once("chain_matmul", "torch.chain_matmul is deprecated and will be removed in a future PyTorch release. "
               "Use torch.linalg.multi_dot instead, which accepts a list of two or more tensors rather than "
               "multiple parameters.")
    for k, m in enumerate(matrices):
        _tensor(m, "chain_matmul", "matrices", 1)
        if m.dim() != 2:
            raise RuntimeError(f"Tensor dimension is {m.dim()}, expected 2 instead.")
    if not matrices:
        raise RuntimeError("chain_matmul(): Expected one or more matrices")
    if len(matrices) == 1:
        result = matrices[0].clone()
    else:
        for i in range(1, len(matrices)):
            a, b = matrices[i - 1], matrices[i]
            if b.dtype != matrices[0].dtype:
                raise RuntimeError(f"multi_dot(): all tensors must have be the same dtype but tensor 0 is "
                                   f"{_DTYPE_NAMES[matrices[0].dtype]} and tensor {i} {_DTYPE_NAMES[b.dtype]}")
            if a.shape[1] != b.shape[0]:
                raise RuntimeError(f"multi_dot(): tensors {i - 1} and {i} with shapes {list(a.shape)} and "
                                   f"{list(b.shape)} cannot be multiplied")
        product = _chain_product(list(matrices))
        result = product.view(tuple(product.shape))  # torch's multi_dot ends with a view to the result's shape
    if out is None:
        return result
    with cgrad.no_grad():
        return out.resize_(tuple(result.shape)).copy_(result)


# ---- unsafe_split, unsafe_chunk, unsafe_split_with_sizes --------------------------------------

class _UnsafeSplit(Function):
    """split whose pieces share the input's data without being its views: writing to a piece
    leaves the input's history alone (torch's UnsafeSplitBackward0)."""
    _node_name = "UnsafeSplitBackward0"

    @staticmethod
    def forward(ctx, x, sizes, dim):
        pieces = x.split(sizes, dim)
        ctx.args = (dim, [p.shape[dim] for p in pieces], tuple(x.shape), x.dtype)
        return tuple(p.detach() for p in pieces)

    @staticmethod
    def backward(ctx, *grads):
        # d piece_k / d x selects piece k's rows: the gradients joined back, zeros where none came
        dim, lengths, shape, dtype = ctx.args
        parts = []
        for g, n in zip(grads, lengths):
            if g is None:
                size = list(shape)
                size[dim] = n
                g = cgrad.zeros(size, dtype=dtype)
            parts.append(g)
        return cgrad.cat(parts, dim), None, None


class _UnsafeSplitWithSizes(_UnsafeSplit):
    _node_name = "UnsafeSplitWithSizesBackward0"


def _unsafe(kind, x, sizes, dim, fname):
    _tensor(x, fname, "self")
    if isinstance(dim, bool) or not hasattr(dim, "__index__"):
        raise TypeError(f"{fname}(): argument 'dim' must be int, not {type(dim).__name__}")
    d = _wrap_dim(dim, x.dim(), fname) if x.dim() else dim.__index__()
    return kind.apply(x, sizes, d)


def unsafe_split(tensor, split_size, dim=0):
    """split without the checks that guard in-place writes to the pieces."""
    if hasattr(split_size, "__index__") and not isinstance(split_size, bool) and split_size.__index__() < 0:
        raise RuntimeError(f"split expects split_size be non-negative, but got split_size={split_size.__index__()}")
    return _unsafe(_UnsafeSplit, tensor, split_size, dim, "unsafe_split")


def unsafe_split_with_sizes(input, split_sizes, dim=0):
    """split_with_sizes without the checks that guard in-place writes to the pieces."""
    return _unsafe(_UnsafeSplitWithSizes, input, list(split_sizes), dim, "unsafe_split_with_sizes")


def unsafe_chunk(input, chunks, dim=0):
    """chunk without the checks that guard in-place writes to the pieces."""
    _tensor(input, "unsafe_chunk", "self")
    if chunks <= 0:
        raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    if input.dim() == 0:
        raise RuntimeError("chunk expects at least a 1-dimensional tensor")
    size = input.size(dim)
    if size == 0:  # chunks empty pieces, as PyTorch gives (through unsafe_split_with_sizes)
        return unsafe_split_with_sizes(input, [0] * chunks, dim)
    return _unsafe(_UnsafeSplit, input, -(-size // chunks), dim, "unsafe_chunk")


# ---- index_reduce -----------------------------------------------------------------------------

_INDEX_REDUCES = ("prod", "mean", "amax", "amin")


def _spread_index(index, source, d):
    """index (along d) as a scatter index of source's shape."""
    shape = [1] * source.dim()
    shape[d] = -1
    return index.reshape(shape).expand(tuple(source.shape))


class _IndexReduce(Function):
    """index_reduce with torch's gradients (IndexReduceBackward0): scatter_reduce's rules, the
    index spread over source's shape (a 0-d x and source taken as 1-D)."""
    _node_name = "IndexReduceBackward0"

    @staticmethod
    def forward(ctx, x, source, d, index_box, reduce, include_self):
        (index,) = index_box  # not an input: torch's node has edges for x and source alone
        shapes = (tuple(x.shape), tuple(source.shape))
        x, source = x.reshape(-1) if x.dim() == 0 else x, source.reshape(-1) if source.dim() == 0 else source
        out = _scatter_reduce_value(x, d, index, source, reduce, include_self).reshape(shapes[0])
        ctx.args = (d, reduce, include_self, shapes)
        ctx.save_for_backward(x, index, source, out)  # the output itself: double backward reaches through it
        return out

    @staticmethod
    def backward(ctx, grad):
        x, index, source, out = ctx.saved_tensors
        d, reduce, include_self, (x_shape, source_shape) = ctx.args
        grad, out = grad.reshape(tuple(x.shape)), out.reshape(tuple(x.shape))
        grad_x, grad_source = _SCATTER_GRADS[reduce](grad, x, d, index, source, out, include_self)
        if not include_self:  # the rows that received values forgot x's
            grad_x = grad_x.scatter(d, index, 0)
        return grad_x.reshape(x_shape), grad_source.reshape(source_shape), None, None, None, None


def _index_reduce_checks(x, d, index, source):
    """torch's checks of index_reduce's arguments, with its messages."""
    if index.dim() > 1:
        raise IndexError(f"index_reduce_(): Index is supposed to be a vector, but got dim: {index.dim()} with type: "
                         f"{_type_name(index)} and size: {list(index.shape)}")
    if index.dtype != int64:
        raise RuntimeError(f"index_reduce_(): Expected dtype int32/int64 for index but got: {_type_name(index)}")
    if x.dtype != source.dtype:
        raise RuntimeError(f"index_reduce_(): self ({_type_name(x)}) and source ({_type_name(source)}) must have "
                           "the same scalar type")
    if not (d == 0 or d < source.dim()):
        raise RuntimeError(f"index_reduce_(): Indexing dim {d} is out of bounds of the source tensor with dim "
                           f"{source.dim()}")
    n = 1 if source.dim() == 0 else source.shape[d]
    if index.numel() != n:
        raise RuntimeError(f"index_reduce_(): Number of indices ({index.numel()}) should be equal to "
                           f"source.size(dim): ({n}), for dim: {d}")
    x_rest, s_rest = list(x.shape), list(source.shape)
    if x.dim() and source.dim():
        del x_rest[d], s_rest[d]
    if x_rest != s_rest:
        raise RuntimeError("source tensor shape must match self tensor shape, excluding the specified dimension. "
                           f"Got self.shape = {list(x.shape)} source.shape = {list(source.shape)}")
    size = x.shape[d] if x.dim() else 1
    if index.numel() and not bool(((index >= 0) & (index < size)).all()):
        raise IndexError("index out of range in self")


def index_reduce(input, dim, index, source, reduce, *, include_self=True):
    """input with the slices of source reduced into the slices index names along dim (with input's
    own there unless include_self=False); reduce is prod, mean, amax or amin."""
    x = _tensor(input, "index_reduce", "input")
    _tensor(index, "index_reduce", "index", 3)
    _tensor(source, "index_reduce", "source", 4)
    _warn_once("index_reduce", "index_reduce() is in beta and the API may change at any time.")
    if reduce not in _INDEX_REDUCES:
        raise RuntimeError(f"index_reduce(): Expected reduce to be one of prod, mean, amax or amin but got {reduce}.")
    d = _wrap_dim(dim, x.dim(), "index_reduce")
    _index_reduce_checks(x, d, index, source)
    spread = _spread_index(index.reshape(-1), source.reshape(-1) if source.dim() == 0 else source, d)
    if x.dtype == bool_:
        x1, source1 = x.long().reshape(-1), source.long().reshape(-1) if source.dim() == 0 else source.long()
        return _scatter_reduce_value(x1 if x.dim() == 0 else x.long(), d, spread, source1, reduce,
                                     bool(include_self)).reshape(tuple(x.shape)) != 0
    return _IndexReduce.apply(x, source, d, (spread,), reduce, bool(include_self))


def index_reduce_(self, dim, index, source, reduce, *, include_self=True):
    """A copy into self (which may be a view), from a clone: the result's node saves its input, and a
    view's base gets the write in its history (so self's node is CopyBackwards, not torch's
    IndexReduceBackward0)."""
    return self.copy_(index_reduce(self.clone(), dim, index, source, reduce, include_self=include_self))


# ---- nonzero_static ---------------------------------------------------------------------------

def nonzero_static(input, *, size, fill_value=-1):
    """nonzero's (n, ndim) indices cut or padded with fill_value to exactly size rows."""
    _tensor(input, "nonzero_static")
    for name, v in (("size", size), ("fill_value", fill_value)):
        if isinstance(v, bool) or not hasattr(v, "__index__"):
            raise TypeError(f"nonzero_static(): argument '{name}' must be int, not {type(v).__name__}")
    size, fill_value = size.__index__(), fill_value.__index__()
    if size < 0:
        raise RuntimeError("nonzero_static: 'size' must be an non-negative integer")
    found = input.nonzero() if input.dim() else cgrad.zeros((0, 0), dtype=int64)
    n = found.shape[0]
    if n >= size:
        return found[:size].clone()
    pad = cgrad.full((size - n, input.dim()), fill_value, dtype=int64)
    return cgrad.cat([found, pad])


# ---- gradient ---------------------------------------------------------------------------------

def _int_list(v):
    return isinstance(v, (list, tuple)) and all(hasattr(e, "__index__") and not isinstance(e, bool) for e in v)


def _gradient_dims(x, dim):
    """The dims to differentiate along, and whether dim was given."""
    if dim is None:
        return list(range(x.dim())), False
    if isinstance(dim, (list, tuple)):
        wrapped = [_wrap_dim(k, x.dim(), "gradient") for k in dim]
        for k in wrapped:
            if wrapped.count(k) > 1:
                raise RuntimeError(f"dim {k} appears multiple times in the list of dims")
        return list(dim), True
    _wrap_dim(dim, x.dim(), "gradient")
    return [dim], True


def _gradient_checks(x, n_spacing, dims, dim_given, edge_order):
    if n_spacing is not None and not dim_given and n_spacing != x.dim():
        raise RuntimeError("torch.gradient expected spacing to be unspecified, a scalar, or a list of length equal "
                           f"to 'self.dim() = {x.dim()}', since dim argument was not given, but got a list of length "
                           f"{n_spacing}")
    if n_spacing is not None and dim_given and n_spacing != len(dims):
        raise RuntimeError("torch.gradient expected spacing to be unspecified, a scalar or it's spacing and dim "
                           f"arguments to have the same length, but got a spacing argument of length {n_spacing} "
                           f"and a dim argument of length {len(dims)}.")
    if edge_order not in (1, 2):
        raise RuntimeError("torch.gradient only supports edge_order=1 and edge_order=2.")
    for k in dims:
        if x.shape[k] < edge_order + 1:
            raise RuntimeError("torch.gradient expected each dimension size to be at least edge_order+1")


def _sl(x, d, start, stop=None):
    n = x.shape[d]
    start = start + n if start < 0 else start
    stop = n if stop is None else (stop + n if stop < 0 else stop)
    return x.narrow(d, start, max(stop - start, 0))


def _gradient_uniform(x, d, h, edge_order):
    """Central differences along d with step h, one-sided (first or second order) at the ends."""
    center = (_sl(x, d, 2) - _sl(x, d, 0, -2)) / h
    if edge_order == 1:
        first = (_sl(x, d, 1, 2) - _sl(x, d, 0, 1)) / h
        last = (_sl(x, d, -1) - _sl(x, d, -2, -1)) / h
    else:
        first = (_sl(x, d, 0, 1) * -1.5 + _sl(x, d, 1, 2) * 2 + _sl(x, d, 2, 3) * -0.5) / h
        last = (_sl(x, d, -3, -2) * 0.5 + _sl(x, d, -2, -1) * -2 + _sl(x, d, -1) * 1.5) / h
    return cgrad.cat([first, center / 2, last], d)


def _gradient_coordinates(x, d, coords, edge_order):
    """Second-order differences along d at the points coords (1-D), one-sided at the ends."""
    shape = [1] * x.dim()
    shape[d] = -1
    dx = coords.diff(1, 0)
    dx1, dx2 = _sl(dx, 0, 0, -1), _sl(dx, 0, 1)
    a = (-dx2 / (dx1 * (dx1 + dx2))).reshape(shape)
    b = ((dx2 - dx1) / (dx1 * dx2)).reshape(shape)
    c = (dx1 / (dx2 * (dx1 + dx2))).reshape(shape)
    center = a * _sl(x, d, 0, -2) + b * _sl(x, d, 1, -1) + c * _sl(x, d, 2)
    if edge_order == 1:
        first = (_sl(x, d, 1, 2) - _sl(x, d, 0, 1)) / dx[0]
        last = (_sl(x, d, -1) - _sl(x, d, -2, -1)) / dx[-1]
    else:
        h0, h1 = dx[0], dx[1]
        a = -(2.0 * h0 + h1) / (h0 * (h0 + h1))
        b = (h0 + h1) / (h0 * h1)
        c = (-h0) / (h1 * (h0 + h1))
        first = a * _sl(x, d, 0, 1) + b * _sl(x, d, 1, 2) + c * _sl(x, d, 2, 3)
        h0, h1 = dx[-1], dx[-2]
        a = h0 / (h1 * (h0 + h1))
        b = -(h0 + h1) / (h0 * h1)
        c = (2 * h0 + h1) / (h0 * (h0 + h1))
        last = a * _sl(x, d, -3, -2) + b * _sl(x, d, -2, -1) + c * _sl(x, d, -1)
    return cgrad.cat([first, center, last], d)


def gradient(input, *, spacing=1, dim=None, edge_order=1):
    """The derivative of input's samples along each dim (all, or those dim names), by central
    differences inside and one-sided ones of edge_order at the ends. spacing: one step for all dims,
    a step per dim, or a 1-D tensor of coordinates per dim."""
    x = _tensor(input, "gradient")
    if isinstance(edge_order, bool) or not hasattr(edge_order, "__index__"):
        raise TypeError(f"gradient(): argument 'edge_order' must be int, not {type(edge_order).__name__}")
    dims, dim_given = _gradient_dims(x, dim)
    if isinstance(spacing, Tensor):
        raise TypeError("gradient() received an invalid combination of arguments - got (Tensor, spacing=Tensor), "
                        "but expected one of:")
    n_spacing = None  # a single step serves every dim
    steps = [1.0 if spacing is None else spacing] * len(dims)
    if isinstance(spacing, (list, tuple)):
        n_spacing, steps = len(spacing), list(spacing)
        tensors = [isinstance(s, Tensor) for s in spacing]
        if any(tensors) and not all(tensors):
            bad = tensors.index(False)
            raise TypeError(f"expected Tensor as element {bad} in argument 1, but got {type(spacing[bad]).__name__}")
    _gradient_checks(x, n_spacing, dims, dim_given, int(edge_order))
    results = []
    for k, step in zip(dims, steps):
        d = k % x.dim()
        if isinstance(step, Tensor):
            if step.dim() != 1:
                raise RuntimeError("torch.gradient expected each element of spacing to have one dimension, but got "
                                   f"an element with {step.dim()} dimensions!")
            results.append(_gradient_coordinates(x, d, step, int(edge_order)))
        else:
            results.append(_gradient_uniform(x, d, step, int(edge_order)))
    return tuple(results)


# ---- histogramdd ------------------------------------------------------------------------------

histogramdd_result = collections.namedtuple("histogramdd", ["hist", "bin_edges"])


def _histogramdd_edges(x, bins, range, n):
    """Each dim's bin edges (numpy, x's dtype) and whether they came from counts (evenly spaced)."""
    if isinstance(bins, Tensor) or (isinstance(bins, (list, tuple)) and bins and isinstance(bins[0], Tensor)):
        bins = [bins] if isinstance(bins, Tensor) else list(bins)
        if len(bins) != n:
            raise RuntimeError(f"torch.histogramdd: expected {n} sequences of bin edges for a {n}-dimensional "
                               f"histogram but got {len(bins)}")
        for k, b in enumerate(bins):
            if b.dtype != x.dtype:
                raise RuntimeError("torch.histogramdd: input tensor and bins tensors should have the same dtype, "
                                   f"but got input with dtype {_DTYPE_NAMES[x.dtype]} and bins for dimension {k} "
                                   f"with dtype {_DTYPE_NAMES[b.dtype]}")
            if b.dim() != 1:
                raise RuntimeError("torch.histogramdd: bins tensor should have one dimension, but got "
                                   f"{b.dim()} dimensions in the bins tensor for dimension {k}")
            if b.numel() == 0:
                raise RuntimeError("torch.histogramdd: bins tensor should have at least 1 element, but got 0 "
                                   f"elements in the bins tensor for dimension {k}")
        return [b.detach().numpy().copy() for b in bins]
    counts = [bins] * n if hasattr(bins, "__index__") and not isinstance(bins, bool) else list(bins)
    lo, hi = [0.0] * n, [1.0] * n  # numpy's range for no values
    if range is not None:
        if len(range) != 2 * n:
            raise RuntimeError(f"torch.histogramdd: for a {n}-dimensional histogram range should have {2 * n} "
                               f"elements, but got {len(range)}")
        lo, hi = [float(v) for v in range[0::2]], [float(v) for v in range[1::2]]
    elif x.shape[0]:
        values = x.numpy()
        lo, hi = [float(v) for v in values.min(0)], [float(v) for v in values.max(0)]
    for k in builtins.range(n):
        if not (math.isfinite(lo[k]) and math.isfinite(hi[k])):
            raise RuntimeError(f"torch.histogramdd: dimension {k}'s range [{lo[k]:g}, {hi[k]:g}] is not finite")
        if lo[k] > hi[k]:
            raise RuntimeError(f"torch.histogramdd: min should not exceed max, but got min {_C._stream_number(lo[k])} "
                               f"max {_C._stream_number(hi[k])} for dimension {k}")
        if lo[k] == hi[k]:
            lo[k], hi[k] = lo[k] - 0.5, hi[k] + 0.5
    if len(counts) != n:
        raise RuntimeError("histogramdd: The size of bins must be equal to the innermost dimension of the input.")
    # torch's order: the edges' lengths (count + 1), then the counts themselves
    if any(c < -1 for c in counts):
        raise RuntimeError("number of steps must be non-negative")
    for k, c in enumerate(counts):
        if c == -1:
            raise RuntimeError("torch.histogramdd: bins tensor should have at least 1 element, but got 0 elements "
                               f"in the bins tensor for dimension {k}")
    for k, c in enumerate(counts):
        if c == 0:
            raise RuntimeError(f"torch.histogram(): bins must be > 0, but got {c} for dimension {k}")
    return [_C.linspace(lo[k], hi[k], counts[k] + 1, dtype=x.dtype).numpy() for k in builtins.range(n)]



def histogramdd(input, bins, *, range=None, weight=None, density=False):
    """The counts (or weight sums) of input's points (its last dim the coordinates) in the cells of a
    grid of bins, and each dim's bin edges. Each bin holds its left edge, the last its right edge too."""
    x = _tensor(input, "histogramdd")
    if x.dim() < 2:
        raise RuntimeError("torch.histogramdd: input tensor should have at least 2 dimensions")
    if not x.is_floating_point():
        raise NotImplementedError(f"\"histogramdd\" not implemented for '{_type_name(x)}'")
    n = x.shape[-1]
    points = x.detach().reshape(-1, n)
    edges = _histogramdd_edges(points, bins, range, n)
    if weight is not None:
        _tensor(weight, "histogramdd", "weight")
        if weight.dtype != x.dtype:
            raise RuntimeError("torch.histogramdd: if weight tensor is provided, input tensor and weight tensor "
                               f"should have the same dtype, but got input({_DTYPE_NAMES[x.dtype]}), and "
                               f"weight({_DTYPE_NAMES[weight.dtype]})")
        if tuple(weight.shape) != tuple(x.shape[:-1]):
            raise RuntimeError("torch.histogramdd: if weight tensor is provided it should have the same shape as the "
                               f"input tensor excluding its innermost dimension, but got input with shape "
                               f"{list(x.shape)} and weight with shape {list(weight.shape)}")
    values = points.numpy()
    keep = np.ones(values.shape[0], dtype=bool)
    cell = np.zeros(values.shape[0], dtype=np.int64)
    for k, e in enumerate(edges):
        v = values[:, k]
        keep &= (v >= e[0]) & (v <= e[-1])
        pos = np.searchsorted(e, v, side="right") - 1
        pos[pos == e.size - 1] -= 1  # the last bin holds its right edge
        cell = cell * max(e.size - 1, 1) + np.clip(pos, 0, None)
    hist = np.zeros(int(np.prod([max(e.size - 1, 0) for e in edges])), dtype=values.dtype)
    if weight is None:
        np.add.at(hist, cell[keep], values.dtype.type(1))
    else:
        np.add.at(hist, cell[keep], weight.detach().numpy().reshape(-1)[keep])
    hist = hist.reshape([max(e.size - 1, 0) for e in edges])
    if density:
        hist = hist / hist.sum(dtype=values.dtype)
        for k, e in enumerate(edges):
            shape = [1] * n
            shape[k] = -1
            hist = hist / np.diff(e).reshape(shape)
    return histogramdd_result(_C.from_numpy(np.ascontiguousarray(hist, dtype=values.dtype)),
                              tuple(_C.from_numpy(np.ascontiguousarray(e)) for e in edges))
