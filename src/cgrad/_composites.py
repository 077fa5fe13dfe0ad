"""PyTorch's top-level functions that are compositions of cgrad's ops:
stacking, tensordot, var_mean/std_mean, searchsorted and isin, integration
and a few index-building creators. Gradients come from the ops composed."""
import itertools
import math

import numpy as np

import cgrad
from cgrad._C import Tensor, bool_, float32, float64, int64
from cgrad._dtypes import _promote, _result_type
from cgrad.autograd.grad_mode import no_grad

__all__ = [
    "atleast_1d", "atleast_2d", "atleast_3d", "hstack", "vstack", "row_stack", "dstack", "column_stack",
    "block_diag", "cartesian_prod", "combinations", "tensordot", "broadcast_shapes", "var_mean", "std_mean",
    "searchsorted", "bucketize", "isin", "trapezoid", "trapz", "cumulative_trapezoid", "vander", "logspace",
    "tril_indices", "triu_indices", "unravel_index",
]


def _tensor(x, fname, arg="input", pos=1):
    if not isinstance(x, Tensor):
        raise TypeError(f"{fname}(): argument '{arg}' (position {pos}) must be Tensor, not {type(x).__name__}")
    return x


def _dim(dim, ndim):
    """dim wrapped into [0, ndim), or torch's IndexError."""
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {dim})")
    return dim % n


# ---- atleast_nd and the stacks ---------------------------------------------------------------

def _atleast(fname, fix, tensors):
    """One tensor in, one out; several (or one sequence) in, a tuple out."""
    if len(tensors) == 1 and isinstance(tensors[0], Tensor):
        return fix(tensors[0])
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tensors[0]
    return tuple(fix(_tensor(t, fname, "tensors")) for t in tensors)


def _1d(t):
    return t.reshape(1) if t.dim() == 0 else t


def _2d(t):
    return t.reshape(1, 1) if t.dim() == 0 else t.unsqueeze(0) if t.dim() == 1 else t


def _3d(t):
    # a row becomes (1, n, 1), a matrix (m, n, 1): numpy's convention
    if t.dim() == 0:
        return t.reshape(1, 1, 1)
    if t.dim() == 1:
        return t.unsqueeze(0).unsqueeze(-1)
    return t.unsqueeze(-1) if t.dim() == 2 else t


def atleast_1d(*tensors):
    return _atleast("atleast_1d", _1d, tensors)


def atleast_2d(*tensors):
    return _atleast("atleast_2d", _2d, tensors)


def atleast_3d(*tensors):
    return _atleast("atleast_3d", _3d, tensors)


def _tensor_list(tensors, fname):
    if not isinstance(tensors, (list, tuple)):
        raise TypeError(f"{fname}(): argument 'tensors' (position 1) must be tuple of Tensors, "
                        f"not {type(tensors).__name__}")
    for t in tensors:
        _tensor(t, fname, "tensors")
    if not tensors:
        raise RuntimeError(f"{fname} expects a non-empty TensorList")
    return tensors


def hstack(tensors):
    """Concatenated column-wise: along dim 0 for 1-D tensors, dim 1 otherwise."""
    ts = [_1d(t) for t in _tensor_list(tensors, "hstack")]
    return cgrad.cat(ts, 0 if ts[0].dim() == 1 else 1)


def vstack(tensors):
    """Concatenated row-wise, 1-D tensors as rows."""
    return cgrad.cat([_2d(t) for t in _tensor_list(tensors, "vstack")], 0)


def row_stack(tensors):
    """vstack's other name."""
    if not isinstance(tensors, (list, tuple)):
        _tensor_list(tensors, "row_stack")
    return vstack(tensors)


def dstack(tensors):
    """Concatenated depth-wise, along the third dim."""
    return cgrad.cat([_3d(t) for t in _tensor_list(tensors, "dstack")], 2)


def column_stack(tensors):
    """0-d and 1-D tensors as columns, concatenated with the others along dim 1."""
    ts = _tensor_list(tensors, "column_stack")
    return cgrad.cat([t.reshape(t.numel(), 1) if t.dim() <= 1 else t for t in ts], 1)


def block_diag(*tensors):
    """The tensors (each 0-d, 1-D or 2-D) as the blocks of a block diagonal matrix."""
    blocks = []
    for k, t in enumerate(tensors):
        _tensor(t, "block_diag", "tensors")
        if t.dim() > 2:
            raise RuntimeError(f"torch.block_diag: Input tensors must have 2 or fewer dimensions. "
                               f"Input {k} has {t.dim()} dimensions")
        blocks.append(_2d(t))
    if not blocks:
        return cgrad.zeros(1, 0)
    dt = _result_type(*tensors)
    width = sum(b.shape[1] for b in blocks)
    rows, left = [], 0
    for b in blocks:
        h, w = b.shape
        pad_left, pad_right = cgrad.zeros(h, left, dtype=dt), cgrad.zeros(h, width - left - w, dtype=dt)
        rows.append(cgrad.cat([pad_left, b.to(dt), pad_right], 1))
        left += w
    return cgrad.cat(rows, 0)


def cartesian_prod(*tensors):
    """The rows of all combinations of one element from each 1-D tensor."""
    for t in tensors:
        _tensor(t, "cartesian_prod", "tensors")
        if t.dim() != 1:
            raise RuntimeError(f"Expect a 1D vector, but got shape {list(t.shape)}")
    if len(tensors) == 1:
        return tensors[0]
    if not tensors:
        raise RuntimeError("meshgrid expects a non-empty TensorList")
    if any(t.dtype != tensors[0].dtype for t in tensors):
        raise RuntimeError("meshgrid expects all tensors to have the same dtype")
    return cgrad.stack([g.flatten() for g in cgrad.meshgrid(*tensors, indexing="ij")], 1)


def combinations(input, r=2, with_replacement=False):
    """The r-element combinations of a 1-D tensor's elements, one per row, in lexicographic order."""
    _tensor(input, "combinations")
    if input.dim() != 1:
        raise RuntimeError(f"Expect a 1D vector, but got shape {list(input.shape)}")
    if r < 0:
        raise RuntimeError(f"Expect a non-negative number, but got {r}")
    if r == 0:
        return cgrad.empty(0, dtype=input.dtype)
    pick = itertools.combinations_with_replacement if with_replacement else itertools.combinations
    idx = np.fromiter(itertools.chain.from_iterable(pick(range(input.shape[0]), r)), dtype=np.int64)
    return input[cgrad.from_numpy(idx.reshape(-1, r))]


# ---- tensordot and broadcast_shapes -------------------------------------------------------------

def _tensordot_dims(a, b, dims):
    """dims as two lists of dims, a's and b's, to contract."""
    if isinstance(dims, Tensor):
        if dims.numel() > 1:
            if dims.shape[0] != 2:
                raise AssertionError(f"dims tensor must have size 2 in first dimension, got {dims.shape[0]}")
            return dims[0].tolist(), dims[1].tolist()
        dims = int(dims.item())
    elif isinstance(dims, (list, tuple)):
        da, db = dims
        for arg, pos, d in (("dims_self", 3, da), ("dims_other", 4, db)):
            if not isinstance(d, (list, tuple)):
                raise TypeError(f"tensordot(): argument '{arg}' (position {pos}) must be tuple of ints, "
                                f"not {type(d).__name__}")
        return list(da), list(db)
    elif isinstance(dims, bool) or not isinstance(dims, int):
        raise RuntimeError("tensordot expects dims to be int or tuple[list[int], list[int]] or list[list[int]] "
                           f"containing two lists, but got dims={dims}")
    if dims < 0:
        raise RuntimeError(f"tensordot expects dims >= 0, but got dims={dims}")
    if dims > min(a.dim(), b.dim()):
        raise RuntimeError(f"tensordot expects dims < ndim_a or ndim_b, but got dims={dims}")
    return list(range(-dims, 0)), list(range(dims))


def _distinct_dims(dims, ndim):
    out = [_dim(d, ndim) for d in dims]
    for d in out:
        if out.count(d) > 1:
            raise RuntimeError(f"dim {d} appears multiple times in the list of dims")
    return out


def tensordot(a, b, dims=2, out=None):
    """Sums of products over dims of a and b paired up: a's free dims
    first, then b's. One matrix product after moving the pairs together."""
    _tensor(a, "tensordot", "a")
    _tensor(b, "tensordot", "b", 2)
    if out is not None:
        raise NotImplementedError("tensordot(): out= is not supported by cgrad")
    da, db = _tensordot_dims(a, b, dims)
    if len(da) != len(db):
        raise RuntimeError("both dimension lists should have same length")
    if a.dtype != b.dtype:
        raise RuntimeError("both inputs should have same dtype")
    given = list(zip(da, db))
    da, db = _distinct_dims(da, a.dim()), _distinct_dims(db, b.dim())
    for x, y, (gx, gy) in zip(da, db, given):
        if a.shape[x] != b.shape[y] and a.shape[x] != 1 and b.shape[y] != 1:
            raise RuntimeError(f"contracted dimensions need to match, but first has size {a.shape[x]} in dim {gx} "
                               f"and second has size {b.shape[y]} in dim {gy}")
    # a size-1 dim contracted with a longer one broadcasts, as in torch: summed away first
    ones_a = [x for x, y in zip(da, db) if a.shape[x] != b.shape[y] and a.shape[x] == 1]
    ones_b = [y for x, y in zip(da, db) if a.shape[x] != b.shape[y] and b.shape[y] == 1]
    a = a.sum([x for x, y in zip(da, db) if y in ones_b], keepdim=True) if ones_b else a
    b = b.sum([y for x, y in zip(da, db) if x in ones_a], keepdim=True) if ones_a else b
    free_a = [d for d in range(a.dim()) if d not in da]
    free_b = [d for d in range(b.dim()) if d not in db]
    m, k, p = (math.prod(a.shape[d] for d in free_a), math.prod(a.shape[d] for d in da),
               math.prod(b.shape[d] for d in free_b))
    lhs = a.permute(free_a + da).reshape(m, k)
    rhs = b.permute(db + free_b).reshape(k, p)
    return lhs.mm(rhs).reshape([a.shape[d] for d in free_a] + [b.shape[d] for d in free_b])


def broadcast_shapes(*shapes):
    """The shape tensors of the given shapes broadcast to, without making them."""
    out = []
    for k, shape in enumerate(shapes):
        if isinstance(shape, int) and not isinstance(shape, bool):
            shape = (shape,)
        elif not isinstance(shape, (list, tuple)):
            raise RuntimeError(f"Input shapes should be of type ints, a tuple of ints, or a list of ints, got {shape}")
        for n in shape:
            if isinstance(n, int) and n < 0:
                raise ValueError("Attempting to broadcast a dimension with negative length!")
        if len(shape) > len(out):
            out = [1] * (len(shape) - len(out)) + out
        for i in range(1, len(shape) + 1):
            n = shape[-i]
            if not isinstance(n, int) or (out[-i] not in (1, n) and n != 1):
                raise RuntimeError(f"Attempting to broadcast a dimension of length {n} at {-i}! Mismatching argument "
                                   f"at index {k} had {shape}; but expected shape should be broadcastable to {out}")
            if n != 1:
                out[-i] = n
    return cgrad.Size(out)


# ---- var_mean, std_mean ----------------------------------------------------------------------

def _moments(fname, input, dim, unbiased, keepdim, correction, root):
    _tensor(input, fname)
    if not input.is_floating_point():
        raise RuntimeError(f"{fname} only support floating point and complex dtypes")
    if isinstance(dim, bool):  # var_mean(input, unbiased): the overload without dim
        dim, unbiased = None, dim
    spread = input.std if root else input.var
    return spread(dim, unbiased, keepdim, correction=correction), input.mean(dim, keepdim)


def var_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """(variance, mean) over dim, with Bessel's correction unless told otherwise."""
    return _moments("var_mean", input, dim, unbiased, keepdim, correction, False)


def std_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """(standard deviation, mean) over dim, with Bessel's correction unless told otherwise."""
    return _moments("std_mean", input, dim, unbiased, keepdim, correction, True)


# ---- searchsorted, bucketize, isin --------------------------------------------------------------

def _ranks(x):
    """Each element's position in its row (last dim) after a stable sort."""
    order = x.argsort(dim=-1, stable=True)
    return cgrad.empty_like(order).scatter_(-1, order, cgrad.arange(order.shape[-1]).expand_as(order))


def _count_before(seq, values, right):
    """How many elements of each row of seq (..., n) are < each value of the
    row of values (..., m), or <= with right. A stable sort of the rows
    joined (values first for <, last for <=) puts each value after those,
    and after the values that precede it in a sort of the values alone."""
    n, m = seq.shape[-1], values.shape[-1]
    pos = _ranks(cgrad.cat([seq, values] if right else [values, seq], -1))
    return pos.narrow(-1, n if right else 0, m) - _ranks(values)


def _check_searchsorted(seq, values, scalar, side, right, sorter):
    if seq.dim() == 0:
        raise RuntimeError("torch.searchsorted(): boundaries tensor should have positive dimension, "
                           "but got 0 dimension")
    if scalar and seq.dim() != 1:
        raise RuntimeError("torch.searchsorted(): input value can be a scalar only when boundaries tensor dimension "
                           f"is 1, but we got boundaries tensor dim({seq.dim()}) and input value's dim(0) numel(1)")
    if seq.dim() > 1 and (values.dim() != seq.dim() or values.shape[:-1] != seq.shape[:-1]):
        raise RuntimeError("torch.searchsorted(): boundaries tensor should be 1 dimension or the first N-1 dimensions "
                           "of boundaries tensor and input value tensor must match, but we got boundaries tensor "
                           f"{list(seq.shape)} and input value tensor {list(values.shape)}")
    if side is not None and side not in ("left", "right"):
        raise RuntimeError(f"torch.searchsorted(): side can only be 'left' or 'right' but got {side}")
    if side is not None and right and side == "left":
        raise RuntimeError("torch.searchsorted(): side and right can't be set to opposites, got side of left "
                           "while right was True")
    if sorter is not None:
        _tensor(sorter, "searchsorted", "sorter")
        if sorter.dtype != int64:
            raise RuntimeError(f"torch.searchsorted(): sorter must be a tensor of long dtype but got dtype "
                               f"{_TYPE_NAMES[sorter.dtype]}")
        if sorter.shape != seq.shape:
            raise RuntimeError("torch.searchsorted(): boundary and sorter must have the same size, but got boundary "
                               f"tensor {list(seq.shape)}and got sorter tensor {list(sorter.shape)}")
        if sorter.numel() and (bool((sorter < 0).any()) or bool((sorter >= seq.shape[-1]).any())):
            raise RuntimeError("torch.searchsorted(): sorter index out of range")
    if seq.dtype == bool_ or values.dtype == bool_:
        raise NotImplementedError("\"searchsorted_out_cpu\" not implemented for 'Bool'")


_TYPE_NAMES = {float32: "Float", float64: "Double", int64: "Long", bool_: "Bool"}


def searchsorted(sorted_sequence, input, *, out_int32=False, right=False, side=None, sorter=None, out=None):
    """For each value of input, the index in sorted_sequence's innermost dim
    (sorted, or sorted by sorter) where inserting it keeps the order: before
    equal elements, or after them with right=True / side='right'."""
    _tensor(sorted_sequence, "searchsorted", "sorted_sequence")
    if out_int32:
        raise NotImplementedError("searchsorted(): out_int32=True needs the int32 dtype, which cgrad does not have")
    if out is not None:
        raise NotImplementedError("searchsorted(): out= is not supported by cgrad")
    scalar = not isinstance(input, Tensor)
    if scalar and (isinstance(input, bool) or not isinstance(input, (int, float))):
        raise TypeError(f"searchsorted(): argument 'input' (position 2) must be Tensor or Number, "
                        f"not {type(input).__name__}")
    dt = _result_type(sorted_sequence, input, fname="searchsorted")
    with no_grad():
        seq = sorted_sequence.detach()
        values = cgrad.tensor(input, dtype=dt) if scalar else input.detach()
        _check_searchsorted(seq, values, scalar, side, right, sorter)
        if sorter is not None:
            seq = seq.gather(-1, sorter)
        seq = seq.to(_promote(seq.dtype, dt))
        values = values.to(seq.dtype)
        right = right or side == "right"
        if seq.dim() == 1:  # every value searched in the one row
            return _count_before(seq.unsqueeze(0), values.reshape(1, -1), right).reshape(values.shape)
        return _count_before(seq, values, right)


def bucketize(input, boundaries, *, out_int32=False, right=False, out=None):
    """For each value of input, the index of the bucket of the 1-D boundaries it falls in."""
    _tensor(boundaries, "bucketize", "boundaries", 2)
    if boundaries.dim() != 1:
        raise RuntimeError(f"boundaries tensor must be 1 dimension, but got dim({boundaries.dim()})")
    return searchsorted(boundaries, input, out_int32=out_int32, right=right, out=out)


def isin(elements, test_elements, *, assume_unique=False, invert=False):
    """Whether each element of elements is in test_elements (or is not, with invert).
    assume_unique only allows a faster algorithm in torch; the answer is the same."""
    for k, x in enumerate((elements, test_elements)):
        if isinstance(x, bool) or isinstance(x, Tensor) and x.dtype == bool_:
            raise RuntimeError("Unsupported input type encountered for isin(): Bool")
        if not isinstance(x, (Tensor, int, float)):
            raise TypeError(f"isin(): argument '{('elements', 'test_elements')[k]}' (position {k + 1}) must be "
                            f"Tensor or Number, not {type(x).__name__}")
    if not isinstance(elements, Tensor) and not isinstance(test_elements, Tensor):
        raise TypeError("isin(): elements and test_elements are both numbers; one of them must be a Tensor")
    dt = _promote(*(x.dtype if isinstance(x, Tensor) else _result_type(x, fname="isin")
                    for x in (elements, test_elements)))
    with no_grad():
        e = (elements.detach() if isinstance(elements, Tensor) else cgrad.tensor(elements)).to(dt)
        test = (test_elements.detach() if isinstance(test_elements, Tensor) else cgrad.tensor(test_elements)).to(dt)
        test = test.flatten().sort().values
        if test.numel() == 0:
            found = cgrad.zeros(e.shape, dtype=bool_)
        else:
            at = searchsorted(test, e).clamp(max=test.numel() - 1)
            found = test[at] == e
    return ~found if invert else found


# ---- trapezoid, cumulative_trapezoid -------------------------------------------------------------

def _spacing(fname, y, x, dx, dim):
    """y, dim wrapped and the spacing: a number, or x's differences along dim
    shaped to broadcast against y's slices."""
    _tensor(y, fname, "y")
    if y.dim() == 0 and fname == "cumulative_trapezoid":
        raise IndexError("slice() cannot be applied to a 0-dim tensor.")
    if y.dim() == 0:
        raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
    dim = _dim(dim, y.dim())
    if y.dtype == bool_:
        raise RuntimeError(f"{fname}: received a bool input for `y`, but bool is not supported")
    if x is not None and (dx is not None or not isinstance(x, Tensor)):
        raise TypeError(f"{fname}() received an invalid combination of arguments: x must be a Tensor, "
                        "given without dx")
    if x is None:
        dx = 1 if dx is None else dx.item() if isinstance(dx, Tensor) and dx.numel() == 1 else dx
        if isinstance(dx, bool) or not isinstance(dx, (int, float)):
            raise RuntimeError(f"{fname}: Currently, we only support dx as a real number.")
        return y, float(dx), dim
    if x.dtype == bool_:
        raise RuntimeError(f"{fname}: received a bool input for `x`, but bool is not supported")
    if x.dim() == 1:
        if x.shape[0] != y.shape[dim]:
            raise RuntimeError(f"{fname}: There must be one `x` value for each sample point")
        x = x.reshape([x.shape[0] if d == dim else 1 for d in range(y.dim())])
    elif x.dim() < y.dim():
        x = x.reshape((1,) * (y.dim() - x.dim()) + tuple(x.shape))
    n = x.shape[dim]
    if n == 0:
        return y, x, dim
    return y, x.narrow(dim, 1, n - 1) - x.narrow(dim, 0, n - 1), dim


def _zeros_without(y, dim):
    return cgrad.zeros([s for d, s in enumerate(y.shape) if d != dim], dtype=y.dtype)


def trapezoid(y, x=None, *, dx=None, dim=-1):
    """The integral of y along dim by the trapezoidal rule, at points x or dx apart (1 by default)."""
    y, step, dim = _spacing("trapezoid", y, x, dx, dim)
    n = y.shape[dim]
    if n == 0:
        return _zeros_without(y, dim)
    if isinstance(step, float):  # every inner sample counts once, the two ends half
        return (y.sum(dim) - (y.select(dim, 0) + y.select(dim, -1)) * 0.5) * step
    return (step * (y.narrow(dim, 1, n - 1) + y.narrow(dim, 0, n - 1))).sum(dim) / 2


def trapz(y, x=None, *, dx=None, dim=-1):
    """trapezoid's older name, which takes any dx that converts to a float."""
    if isinstance(dx, bool):
        dx = float(dx)
    return trapezoid(y, x, dx=dx, dim=dim)


def cumulative_trapezoid(y, x=None, *, dx=None, dim=-1):
    """The running integrals of y along dim by the trapezoidal rule: one fewer than y's samples."""
    y, step, dim = _spacing("cumulative_trapezoid", y, x, dx, dim)
    n = y.shape[dim]
    if n == 0:
        return y * (step / 2.0)
    return (step / 2.0 * (y.narrow(dim, 1, n - 1) + y.narrow(dim, 0, n - 1))).cumsum(dim)


# ---- creators: vander, logspace, tril/triu_indices, unravel_index -------------------------------

def vander(x, N=None, increasing=False):
    """The Vandermonde matrix of the 1-D x: columns x**(N-1), ..., x, 1 (reversed with increasing)."""
    _tensor(x, "vander", "x")
    if x.dim() != 1:
        raise RuntimeError("x must be a one-dimensional tensor.")
    n = x.shape[0] if N is None else N
    if n < 0:
        raise RuntimeError("N must be non-negative.")
    dt = _promote(x.dtype, int64)
    cols = [cgrad.ones(x.shape[0], min(n, 1), dtype=dt)]
    if n > 1:  # the powers as running products, as torch forms them (and differentiates them)
        cols.append(x.to(dt).unsqueeze(1).expand(x.shape[0], n - 1).cumprod(1))
    out = cgrad.cat(cols, 1) if len(cols) > 1 else cols[0]
    return out if increasing else out.flip(1)


def _number(v, fname, arg):
    if isinstance(v, Tensor):
        if v.numel() != 1:
            raise RuntimeError(f"{fname}() expects {arg} to be a 0-dimensional tensor, but got a tensor with "
                               f"{v.dim()} dimensions")
        return v.item()
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise TypeError(f"{fname}(): argument '{arg}' must be Number or Tensor, not {type(v).__name__}")
    return v


def logspace(start, end, steps, base=10.0, *, dtype=None, layout=None, device=None, requires_grad=False):
    """steps values from base**start to base**end, their exponents evenly spaced."""
    cgrad._C._factory_options(layout, device)
    start, end = _number(start, "logspace", "start"), _number(end, "logspace", "end")
    if isinstance(steps, bool) or not isinstance(steps, int):
        raise TypeError(f"logspace(): argument 'steps' (position 3) must be int, not {type(steps).__name__}")
    if steps < 0:
        raise RuntimeError("number of steps must be non-negative")
    dt = cgrad.get_default_dtype() if dtype is None else dtype
    if dt == bool_:
        raise NotImplementedError("\"logspace_cpu\" not implemented for 'Bool'")
    if dt == int64:  # torch takes an integer dtype's ends as integers first
        start, end = int(start), int(end)
    # the two halves counted from either end, as torch does, so both ends are exact
    k = np.arange(steps, dtype=np.float64)
    step = (end - start) / (steps - 1) if steps > 1 else 0.0
    exps = np.where(k < max(steps // 2, 1), start + step * k, end - step * (steps - 1 - k))
    with np.errstate(over="ignore"):
        values = np.power(float(base), exps)
    if dt == int64:
        values = np.trunc(values)
    return cgrad.tensor(values, dtype=dt, requires_grad=requires_grad)


def _triangle_indices(fname, row, col, offset, dtype, lower):
    for name, v, pos in (("row", row, 1), ("col", col, 2), ("offset", offset, 3)):
        if isinstance(v, bool) or not isinstance(v, int):
            raise TypeError(f"{fname}(): argument '{name}' (position {pos}) must be int, not {type(v).__name__}")
    if dtype is cgrad.int32:  # PyTorch's other index dtype
        cgrad._C._supported_dtype(dtype)
    if dtype != int64:
        raise NotImplementedError(f"\"{fname}\" not implemented for '{getattr(dtype, '_type_name', dtype)}'")
    if row < 0:
        raise RuntimeError(f"row must be non-negative, got{row}")
    if col < 0:
        raise RuntimeError(f"col must be non-negative, got{col}")
    rows, cols = (np.tril_indices if lower else np.triu_indices)(row, offset, col)
    return cgrad.from_numpy(np.stack([rows, cols]).astype(np.int64).reshape(2, -1))


def tril_indices(row, col, offset=0, *, dtype=int64, layout=None, device=None):
    """The (row, column) indices of a row x col matrix's lower triangle, as a 2 x N tensor."""
    cgrad._C._factory_options(layout, device)
    return _triangle_indices("tril_indices", row, col, offset, dtype, True)


def triu_indices(row, col, offset=0, *, dtype=int64, layout=None, device=None):
    """The (row, column) indices of a row x col matrix's upper triangle, as a 2 x N tensor."""
    cgrad._C._factory_options(layout, device)
    return _triangle_indices("triu_indices", row, col, offset, dtype, False)


def unravel_index(indices, shape):
    """The coordinates in a tensor of the given shape of flat indices: one
    tensor per dim. Indices wrap around (-1 is the last element), as in torch."""
    _tensor(indices, "unravel_index", "indices")
    if indices.is_floating_point() or indices.dtype == bool_:
        raise TypeError(f"expected 'indices' to be integer dtype, but got {indices.dtype}")
    if isinstance(shape, int) and not isinstance(shape, bool):
        shape = (shape,)
    elif not isinstance(shape, (list, tuple)):
        raise TypeError(f"expected 'shape' to be int or sequence of ints, but got {type(shape)}")
    for n in shape:
        if isinstance(n, bool) or not isinstance(n, int):
            raise TypeError(f"expected 'shape' sequence to only contain ints, but got {type(n)}")
    if any(n < 0 for n in shape):
        raise ValueError(f"'shape' cannot have negative values, but got {tuple(shape)}")
    if 0 in shape:  # no element to point at: torch's integer division by zero, unless there is nothing to divide
        if indices.numel():
            raise RuntimeError("ZeroDivisionError")
        return tuple(cgrad.zeros(indices.shape, dtype=int64) for _ in shape)
    strides = [math.prod(shape[k + 1:]) for k in range(len(shape))]
    return tuple((indices // s) % n for s, n in zip(strides, shape))
