"""Statistics, scatter_reduce, prelu, matrix_exp's node and the remaining
random fills, written as compositions of cgrad's ops: values and gradients are torch's, and the
grad_fn is the composition's last op. Tensor's methods of these names call
the functions here."""
import math
import warnings

import cgrad
from cgrad._C import (Tensor, _matrix_exp_pade, _scatter_reduce_raw, _stream_number as _num, _unique_consecutive_history, bool_,
                      float32, float64, int64, return_types)
from cgrad.autograd.function import Function

_NO = object()  # an argument not given

_TYPE_NAMES = {float32: "Float", float64: "Double", int64: "Long", bool_: "Bool"}


def _type_name(t):
    return _TYPE_NAMES[t.dtype]


def _tensor(x, fname, arg="input", pos=1):
    if not isinstance(x, Tensor):
        raise TypeError(f"{fname}(): argument '{arg}' (position {pos}) must be Tensor, not {type(x).__name__}")
    return x


def _wrap_dim(dim, ndim, fname):
    """dim in [0, ndim) (a 0-d tensor has one dim to name), or torch's errors."""
    if isinstance(dim, bool) or not hasattr(dim, "__index__"):
        raise TypeError(f"{fname}(): argument 'dim' must be int, not {type(dim).__name__}")
    dim, n = dim.__index__(), max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {dim})")
    return dim % n


# ---- quantile, nanquantile, nanmedian ------------------------------------------------------

_INTERPOLATIONS = ("linear", "lower", "higher", "midpoint", "nearest")


def _quantile_q(x, q):
    """q as a tensor of x's dtype (0-d or 1-D), after torch's checks."""
    if isinstance(q, Tensor):
        if q.dim() > 1:
            raise RuntimeError("quantile() q must be a scalar or 1D tensor")
        if x.dtype not in (float32, float64):
            raise RuntimeError("quantile() input tensor must be either float or double dtype")
        if q.dtype != x.dtype:
            raise RuntimeError("quantile() q tensor must be same dtype as the input tensor")
        if not bool(((q >= 0) & (q <= 1)).all()):
            raise RuntimeError("quantile() q values must be in the range [0, 1]")
        return q.detach()
    if x.dtype not in (float32, float64):
        raise RuntimeError("quantile() input tensor must be either float or double dtype")
    return cgrad.tensor(float(q), dtype=x.dtype)


def _ranks(s, q, ignore_nan, interpolation):
    """The fractional positions in the sorted slices s (..., n) of the
    quantiles q: (..., len(q)) or (..., 1). NaN slices point at a NaN."""
    nan = s.isnan()
    if ignore_nan:  # ranks among the numbers; all NaN: rank 0, a NaN
        ranks = q * ((~nan).sum(-1, keepdim=True) - 1)
        ranks = ranks.masked_fill(ranks < 0, 0)
    else:  # a slice with a NaN: the last position, where sorting put it
        last = s.shape[-1] - 1
        ranks = cgrad.where(nan.any(-1, keepdim=True), cgrad.tensor(float(last), dtype=s.dtype), q * last)
    if interpolation == "lower":
        ranks = ranks.floor()
    elif interpolation == "higher":
        ranks = ranks.ceil()
    elif interpolation == "nearest":
        ranks = ranks.round()
    return ranks


def _quantile(x, q, dim, keepdim, interpolation, ignore_nan):
    """quantile and nanquantile: the values at q of the sorted slices,
    interpolated between the two neighbours; the gradient goes to those two
    elements with the interpolation weights."""
    fname = "nanquantile" if ignore_nan else "quantile"
    _tensor(x, fname)
    if not isinstance(q, (Tensor, int, float)):
        raise TypeError(f"{fname}(): argument 'q' must be Tensor or float, not {type(q).__name__}")
    if not isinstance(q, Tensor) and not 0 <= q <= 1:
        raise RuntimeError(f"quantile() q must be in the range [0, 1] but got {float(q):g}")
    if interpolation not in _INTERPOLATIONS:
        raise RuntimeError("quantile() interpolation must be one of linear, lower, higher, midpoint or nearest, "
                           f"but got {interpolation}")
    if x.numel() == 0:
        raise RuntimeError("quantile() input tensor must be non-empty")
    qt = _quantile_q(x, q)
    # the ops PyTorch records, in its order: the slices sorted, viewed as the
    # reduced shape (keepdim's 1s included) by their length, the neighbours
    # gathered and interpolated in place, the quantiles' dim put first
    if dim is None:
        reduced = (1,) * x.dim() if keepdim else ()
        s = x.flatten().sort().values
    else:
        d = _wrap_dim(dim, x.dim(), fname)
        reduced = tuple(1 if k == d else n for k, n in enumerate(x.shape) if keepdim or k != d)
        s = x.sort().values if d == x.dim() - 1 else x.unsqueeze(-1).transpose(d, -1).sort().values
    s = s.view(reduced + (s.shape[-1],))
    ranks = _ranks(s, qt, ignore_nan, interpolation)
    below = ranks.long()
    out = s.gather(-1, below)
    if interpolation in ("linear", "midpoint"):
        weight = ranks - below if interpolation == "linear" else cgrad.full_like(ranks, 0.5)
        out.lerp_(s.gather(-1, ranks.ceil().long()), weight)
    if qt.dim() == 0:
        return out.squeeze_(-1)
    return out.unsqueeze_(0).transpose_(0, -1).squeeze_(-1)


def quantile(input, q, dim=None, keepdim=False, *, interpolation="linear"):
    return _quantile(input, q, dim, keepdim, interpolation, False)


def nanquantile(input, q, dim=None, keepdim=False, *, interpolation="linear"):
    return _quantile(input, q, dim, keepdim, interpolation, True)


class _NanmedianAll(Function):
    """nanmedian(): d/dx_i = 1/k for the k elements equal to the result (the NaNs when it is NaN)."""
    _node_name = "NanmedianBackward0"

    @staticmethod
    def forward(ctx, x):
        numbers = ~x.isnan() if x.is_floating_point() else None
        out = x[numbers].median() if numbers is not None and bool(numbers.any()) else x.median()
        ctx.save_for_backward(x, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        x, out = ctx.saved_tensors
        picked = x.isnan() if bool(out.isnan()) else x == out
        return picked * (grad / picked.sum())


class _NanmedianDim(Function):
    """nanmedian(dim): the gradient goes to the picked index."""
    _node_name = "NanmedianBackward1"

    @staticmethod
    def forward(ctx, x, d, indices_box, shape):
        (indices,) = indices_box  # not an input: torch's node has one edge, x's
        ctx.d = d
        ctx.save_for_backward(indices)
        ctx.shape = tuple(x.shape)
        return x.gather(d, indices).reshape(shape)

    @staticmethod
    def backward(ctx, grad):
        (indices,) = ctx.saved_tensors
        grad = grad.reshape(tuple(indices.shape))
        return cgrad.zeros(ctx.shape, dtype=grad.dtype).scatter(ctx.d, indices, grad), None, None, None


def _all_nan_pick(n):
    """The index torch's nanmedian(dim) gives a slice of n NaNs: the one its
    selection of the first position leaves in front when all compare equal
    (introselect: swap the middle to the front and pair off the rest from
    both ends, on the front part, until three are left)."""
    idx, end = list(range(n)), n
    while end > 3:
        mid = end // 2
        idx[0], idx[mid] = idx[mid], idx[0]
        lo, hi = 1, end - 1
        while lo < hi:
            idx[lo], idx[hi] = idx[hi], idx[lo]
            lo, hi = lo + 1, hi - 1
        end = lo
    return idx[0]


def nanmedian(input, dim=_NO, keepdim=_NO):
    """nanmedian(): the lower middle of the numbers, ignoring NaNs (NaN when
    all are), with the gradient shared by the elements equal to it;
    nanmedian(dim, keepdim=False): (values, indices) along dim, the gradient
    going to the index."""
    x = _tensor(input, "nanmedian")
    if dim is _NO:
        if keepdim is not _NO:
            raise TypeError('nanmedian() missing 1 required positional arguments: "dim"')
        if x.dtype == bool_:
            raise NotImplementedError("\"median_cpu\" not implemented for 'Bool'")
        return _NanmedianAll.apply(x)
    keepdim = False if keepdim is _NO else bool(keepdim)
    if x.dtype == bool_:
        raise NotImplementedError("\"median_out\" not implemented for 'Bool'")
    d = _wrap_dim(dim, x.dim(), "nanmedian")
    s = x.reshape(1) if x.dim() == 0 else x
    if s.shape[d] == 0:
        raise IndexError(f"median(): Expected reduction dim {d} to have non-zero size.")
    with cgrad.no_grad():
        order = s.argsort(d)  # stable, NaN last: among equals the earlier position, as torch picks
        k = (((~s.isnan()).sum(d, keepdim=True) - 1) // 2).clamp(min=0)
        indices = order.gather(d, k)
        all_nan = s.isnan().all(d, keepdim=True)
        if bool(all_nan.any()):
            indices = indices.masked_fill(all_nan, _all_nan_pick(s.shape[d]))
    if x.dim() == 0 or not keepdim:
        indices_out = indices.reshape(()) if x.dim() == 0 else indices.squeeze(d)
    else:
        indices_out = indices
    return return_types.nanmedian(_NanmedianDim.apply(s, d, (indices,), tuple(indices_out.shape)), indices_out)


# ---- matrix_exp ----------------------------------------------------------------------------

class _MatrixExp(Function):
    """exp(A), one node as PyTorch's. d exp(A) applied backwards to g is the
    derivative of exp at A^T in the direction g: the upper right block of
    exp([[A^T, g], [0, A^T]]), itself differentiable the same way."""
    _node_name = "LinalgMatrixExpBackward0"

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return _matrix_exp_pade(a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        n, at = a.shape[-1], a.mT
        upper = cgrad.cat([at, grad], -1)
        lower = cgrad.cat([cgrad.zeros_like(at), at], -1)
        return matrix_exp(cgrad.cat([upper, lower], -2))[..., :n, n:]


def matrix_exp(a):
    return _MatrixExp.apply(a)


# ---- cov, corrcoef -------------------------------------------------------------------------

def _weight_check(w, kind, n):
    """fweights / aweights: torch's checks, in its order."""
    if w.dim() > 1:
        raise RuntimeError(f"cov(): expected {kind} to have one or fewer dimensions but got {kind} with "
                           f"{w.dim()} dimensions")
    integral = w.dtype in (int64, bool_)
    if kind == "fweights" and not integral:
        raise RuntimeError(f"cov(): expected fweights to have integral dtype but got fweights with "
                           f"{_type_name(w)} dtype")
    if kind == "aweights" and integral:
        raise RuntimeError(f"cov(): expected aweights to have floating point dtype but got aweights with "
                           f"{_type_name(w)} dtype")
    if w.numel() != n:
        raise RuntimeError(f"cov(): expected {kind} to have the same numel as there are observations in the "
                           f"input but got {w.numel()} != {n}")
    if n and not bool((w.min() >= 0).all()):
        raise RuntimeError(f"cov(): {kind} cannot be negative")


def cov(input, *, correction=1, fweights=None, aweights=None):
    """The covariance of the variables in input's rows (its observations in
    the columns), weighted by fweights * aweights, divided by the weight sum
    less correction (less correction * sum(w * aweights) / sum(w) with aweights)."""
    x = _tensor(input, "cov")
    if x.dim() > 2:
        raise RuntimeError(f"cov(): expected input to have two or fewer dimensions but got an input with "
                           f"{x.dim()} dimensions")
    if x.dtype == bool_:
        raise RuntimeError("cov(): bool dtype is not supported for input")
    if isinstance(correction, bool) or not isinstance(correction, int):
        raise TypeError(f"cov(): argument 'correction' must be int, not {type(correction).__name__}")
    x = x.reshape(1, -1) if x.dim() < 2 else x
    n = x.shape[1]
    w = None
    for kind, given in (("fweights", fweights), ("aweights", aweights)):
        if given is not None:
            _weight_check(_tensor(given, "cov", kind), kind, n)
            w = given if w is None else w * given
    w_sum = cgrad.tensor(n) if w is None else w.sum()
    if w is not None and not bool(w_sum != 0):
        raise RuntimeError("cov(): weights sum to zero, can't be normalized")
    avg = (x if w is None else x * w).sum(1) / w_sum
    if w is not None and aweights is not None and correction != 0:
        norm = w_sum - correction * (w * aweights).sum() / w_sum
    else:
        norm = w_sum - correction
    if bool(norm <= 0):
        warnings.warn("cov(): degrees of freedom is <= 0. Correction should be strictly less than the number "
                      "of observations.", UserWarning, stacklevel=3)
        norm = norm * 0
    x = x - avg.unsqueeze(1)
    return ((x @ (x if w is None else x * w).t()) / norm).squeeze()


def corrcoef(input):
    """Pearson's correlation coefficients of the variables in input's rows: cov
    over the outer product of the standard deviations, clipped to [-1, 1]."""
    x = _tensor(input, "corrcoef")
    if x.dim() > 2:
        raise RuntimeError(f"corrcoef(): expected input to have two or fewer dimensions but got an input with "
                           f"{x.dim()} dimensions")
    c = cov(x)
    if c.dim() == 0:  # one variable: 1, or NaN when its variance is 0, inf or NaN
        return c / c
    std = c.reshape(-1)[::c.shape[0] + 1].sqrt()
    c = c / std.reshape(-1, 1)
    c = c / std.reshape(1, -1)
    return c.clamp(-1, 1)


# ---- bincount, histc, unique_consecutive -----------------------------------------------------

def bincount(input, weights=None, minlength=0):
    """How often each value 0, 1, ... occurs in the 1-D non-negative int64
    input (the sum of its weights), at least minlength long. Not differentiable."""
    x = _tensor(input, "bincount")
    if x.dtype != int64:
        raise NotImplementedError(f"\"bincount_cpu\" not implemented for '{_type_name(x)}'")
    if isinstance(minlength, bool) or not isinstance(minlength, int):
        raise TypeError(f"bincount(): argument 'minlength' must be int, not {type(minlength).__name__}")
    if minlength < 0:
        raise RuntimeError("minlength should be >= 0")
    if x.dim() != 1 or (x.numel() and int(x.min()) < 0):
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    if weights is not None:
        weights = _tensor(weights, "bincount", "weights", 2)
        if weights.dim() != 1 or weights.shape[0] != x.shape[0]:
            raise RuntimeError("weights should be 1-d and have the same length as input")
    size = max(int(x.max()) + 1 if x.numel() else 0, minlength)
    with cgrad.no_grad():
        if weights is None:
            return cgrad.zeros(size, dtype=int64).scatter_add(0, x, cgrad.ones_like(x))
        w = weights.detach() if weights.is_floating_point() else weights.double()
        return cgrad.zeros(size, dtype=w.dtype).scatter_add(0, x, w)


def histc(input, bins=100, min=0, max=0):
    """The counts of input's elements in bins equal bins between min and max
    (the data's least and greatest when both are 0); elements outside and NaNs
    are not counted. Not differentiable."""
    x = _tensor(input, "histc")
    if isinstance(bins, bool) or not isinstance(bins, int):
        raise TypeError(f"histc(): argument 'bins' must be int, not {type(bins).__name__}")
    if not x.is_floating_point():
        raise NotImplementedError(f"\"histogram_cpu\" not implemented for '{_type_name(x)}'")
    if bins <= 0:
        raise RuntimeError(f"torch.histogram(): bins must be > 0, but got {bins} for dimension 0")
    x = x.detach().reshape(-1)
    lo, hi = float(min), float(max)
    if lo == hi and x.numel():
        lo, hi = float(x.min()), float(x.max())
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    lo, hi = (float(v) for v in cgrad.tensor([lo, hi], dtype=x.dtype).tolist())
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise RuntimeError(f"torch.histc: range of [{_num(lo)}, {_num(hi)}] is not finite")
    if lo > hi:
        raise RuntimeError("torch.histc: max must be larger than min")
    with cgrad.no_grad():
        x = x[(x >= lo) & (x <= hi)]
        pos = ((x - lo) * bins / (hi - lo)).long().clamp(max=bins - 1)
        return cgrad.zeros(bins, dtype=x.dtype).scatter_add(0, pos, cgrad.ones_like(x))


def unique_consecutive(input, return_inverse=False, return_counts=False, dim=None):
    """The elements of input (its slices along dim) with each run of equal
    ones kept once; where each element went and each run's length, if asked.
    NaNs equal nothing. Not differentiable: its node's backward fails."""
    x = _tensor(input, "unique_consecutive").detach()
    if dim is not None:
        if x.dim() == 0:
            raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
        d = _wrap_dim(dim, x.dim(), "unique_consecutive")
    flat = dim is None
    if flat:
        shape, x, d = tuple(x.shape), x.reshape(-1), 0
    elif x.numel() == 0 and x.shape[d] != 0:
        raise RuntimeError("There are 0 sized dimensions, and they aren't selected, so unique cannot be applied")
    n = x.shape[d]
    with cgrad.no_grad():
        y = x.movedim(d, 0).reshape(n, x.numel() // n if n else 0)
        new = cgrad.ones(n, dtype=bool_)
        if n > 1:
            new[1:] = (y[1:] != y[:-1]).any(1)
        starts = cgrad.arange(n)[new]
        out = x.index_select(d, starts)
        inverse = new.long().cumsum(0) - 1
        counts = cgrad.cat([starts[1:], cgrad.tensor([n])]) - starts
    out = _unique_consecutive_history(out, input)
    if flat:
        inverse = inverse.reshape(shape)
    if return_inverse and return_counts:
        return out, inverse, counts
    if return_inverse:
        return out, inverse
    if return_counts:
        return out, counts
    return out


# ---- prelu ----------------------------------------------------------------------------------

def _prelu_slope(x, weight):
    """The weight as it broadcasts over x: the result keeps x's shape, a 0-d x's too."""
    return weight.reshape(()) if x.dim() == 0 else weight


class _Prelu(Function):
    """prelu's gradients: d/dx = 1 where x > 0, else weight; d/dweight = x where x <= 0."""
    _node_name = "PreluKernelBackward0"

    @staticmethod
    def forward(ctx, x, weight):
        ctx.save_for_backward(x, weight)
        return cgrad.where(x > 0, x, _prelu_slope(x, weight) * x)

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        positive = x > 0
        grad_x = cgrad.where(positive, grad, _prelu_slope(x, weight) * grad)
        grad_w = cgrad.where(positive, cgrad.zeros((), dtype=grad.dtype), x * grad)
        if weight.dim() == x.dim() and x.dim() >= 2:  # (1, C, 1, ...), or all 1s: sum where it broadcast
            grad_w = grad_w.sum([k for k in range(x.dim()) if weight.shape[k] == 1], keepdim=True)
        else:
            grad_w = grad_w.sum()
        return grad_x, grad_w.reshape(tuple(weight.shape))


def prelu(input, weight):
    """x where x > 0, else weight * x, weight one number or one per channel (dim 1)."""
    x = _tensor(input, "prelu")
    w = _tensor(weight, "prelu", "weight", 2)
    if not x.is_floating_point():
        raise NotImplementedError(f"\"prelu_cpu\" not implemented for '{_type_name(x)}'")
    if x.dtype != w.dtype:
        raise RuntimeError(f"prelu: Type promoting not supported. Got {_type_name(x)} and {_type_name(w)}")
    channels = x.shape[1] if x.dim() >= 2 else 1
    if w.numel() != 1:
        if x.dim() == 0:
            raise RuntimeError("Not allow zero-dim input tensor.")
        if w.numel() != channels:
            raise RuntimeError(f"Mismatch of parameter numbers and input channel size. Found parameter numbers = "
                               f"{w.numel()} and channel size = {channels}.")
    if x.dim() >= 2:  # as torch: the weight viewed as (1, C, 1, ...) to broadcast over x
        w = w.reshape((1, w.numel()) + (1,) * (x.dim() - 2))
    return _Prelu.apply(x, w)


# ---- random fills: copies of fresh draws, as Tensor.normal_ and uniform_ ----------------------

def _continuous(t, dist):
    if not t.is_floating_point():
        raise RuntimeError(f"{dist} distribution is a continuous probability distribution. dtype must be a "
                           f"floating point but you specified {_type_name(t)}")


def _draws(t, generator):
    """Uniform draws in [0, 1) shaped as t, in t's dtype (float64 for integers)."""
    dtype = t.dtype if t.is_floating_point() else float64
    return cgrad.rand(tuple(t.shape), dtype=dtype, generator=generator)


def exponential_(self, lambd=1, *, generator=None):
    """Fills self with draws of the exponential distribution of rate lambd: -log(1 - u) / lambd."""
    if not lambd > 0:
        raise RuntimeError(f"exponential_ expects lambda > 0.0, but found lambda={_num(float(lambd))}")
    _continuous(self, "Exponential")
    return self.copy_(-(-_draws(self, generator)).log1p() / lambd)


def cauchy_(self, median=0, sigma=1, *, generator=None):
    """Fills self with draws of the Cauchy distribution: median + sigma * tan(pi (u - 1/2))."""
    if not sigma > 0:
        raise RuntimeError(f"cauchy_ expects sigma > 0.0, but found sigma={_num(float(sigma))}")
    if not self.is_floating_point():
        kind = "long int" if self.dtype == int64 else "bool"
        raise RuntimeError("Cauchy distribution is a continuous probability distribution. dtype must be a "
                           f"floating point but you specified {kind}")
    return self.copy_(((_draws(self, generator) - 0.5) * math.pi).tan() * sigma + median)


def geometric_(self, *args, generator=None, **kwargs):
    """Fills self with the number of Bernoulli(p) trials up to the first
    success: ceil(log(u) / log(1 - p)), u in (0, 1]; integers allowed."""
    if len(args) + len(kwargs) == 0:
        raise TypeError('geometric_() missing 1 required positional arguments: "p"')
    p = args[0] if args else kwargs.pop("p")
    if len(args) > 1 or kwargs:
        raise TypeError("geometric_() takes 1 positional argument (p) and the keyword generator")
    if not 0 < p < 1:
        raise RuntimeError(f"geometric_ expects p to be in (0, 1), but got p={_num(float(p))}")
    if self.dtype == bool_:
        raise NotImplementedError("\"geometric_cpu\" not implemented for 'Bool'")
    u = 1 - _draws(self, generator)
    return self.copy_((u.log() / math.log1p(-p)).ceil().clamp(min=1))


def log_normal_(self, mean=1, std=2, *, generator=None):
    """Fills self with exp of draws of N(mean, std^2)."""
    if not std > 0:
        raise RuntimeError(f"log_normal_ expects std > 0.0, but found std={_num(float(std))}")
    if not self.is_floating_point():
        raise NotImplementedError(f"\"log_normal_cpu\" not implemented for '{_type_name(self)}'")
    return self.copy_((cgrad.randn(tuple(self.shape), dtype=self.dtype, generator=generator) * std + mean).exp())


_RANDOM_TOP = {float32: 1 << 24, float64: 1 << 53, int64: (1 << 63) - 1, bool_: 1}  # random_()'s largest draw


def _random_args(args, kwargs):
    """(from, to) of random_(), random_(to), random_(from, to) and random_(to=)."""
    if "from" in kwargs or set(kwargs) - {"to"} or len(args) > 2 or (args and "to" in kwargs and len(args) > 1):
        raise TypeError("random_() received an invalid combination of arguments: expected (), (to) or "
                        f"(from, to), got {len(args)} positional and {sorted(kwargs)}")
    if len(args) == 2:
        low, high = args
    elif len(args) == 1 and "to" not in kwargs:
        low, high = 0, args[0]
    else:
        low, high = (args[0] if args else 0), kwargs.get("to")
    for v in (low, high):
        if v is not None and (isinstance(v, bool) or not isinstance(v, int)):
            raise TypeError(f"random_() received an invalid combination of arguments - got "
                            f"({type(v).__name__}), but expected (int from, int to)")
        if v is not None and not -(1 << 63) <= v < (1 << 63):
            raise ValueError("Overflow when unpacking long long")
    return low, high


def _bits63(shape, generator):
    """Uniform integers in [0, 2^63 - 1], from a 31-bit and a 32-bit draw."""
    high = cgrad.randint(0, 1 << 31, shape, generator=generator)
    return high * (1 << 32) + cgrad.randint(0, 1 << 32, shape, generator=generator)


def _random_range(self, low, high, generator):
    """Uniform integers in [low, high] (high inclusive), shaped as self."""
    shape = tuple(self.shape)
    if high - low < (1 << 63) - 1:
        return cgrad.randint(low, high + 1, shape, generator=generator)
    if low == 0:
        return _bits63(shape, generator)
    # [low, 2^63 - 1] with low < 0: the negative part in proportion to its size
    negative = cgrad.rand(shape, dtype=float64, generator=generator) < -low / (high - low + 1)
    return cgrad.where(negative, cgrad.randint(low, 0, shape, generator=generator), _bits63(shape, generator))


def random_(self, *args, generator=None, **kwargs):
    """Fills self with integers drawn uniformly from [from, to - 1]; without
    to, up to the largest integer self's dtype holds exactly (2^24 for
    float32, 2^53 for float64, 2^63 - 1 for int64, 1 for bool)."""
    low, high = _random_args(args, kwargs)
    top = _RANDOM_TOP[self.dtype]
    if high is None:
        high = top
        if low > high:
            raise RuntimeError(f"random_ expects 'from' casted to dtype to be less than or equal to 'to_inc' "
                               f"casted to dtype, but got from={low} > to_inc={high}")
    else:
        if low >= high:
            raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} >= to={high}")
        high -= 1
        _random_bounds(self, low, high, top)
    return self.copy_(_random_range(self, low, high, generator).to(self.dtype))


def _random_bounds(self, low, high, top):
    """torch's range checks of random_(from, to) for bool (errors) and floats (warnings)."""
    kind = {float32: "float", float64: "double"}.get(self.dtype)
    for name, v in (("from", low), ("to - 1", high)):
        if self.dtype == bool_ and not 0 <= v <= 1:
            raise RuntimeError(f"{name} is out of bounds for bool")
        if kind and not -top <= v <= top:
            digits = 24 if self.dtype == float32 else 53
            warnings.warn(f"{name} is out of bounds [-(2^{digits}), 2^{digits}]. Due to precision limitations "
                          f"{kind} can support discrete uniform distribution only within this range. This "
                          "warning will become an error in version 1.7 release, please fix the code in advance",
                          UserWarning, stacklevel=4)


# ---- scatter_reduce ---------------------------------------------------------------------------

_SCATTER_REDUCES = ("sum", "prod", "mean", "amax", "amin")


def _pad_to(t, shape, value):
    """t grown to shape, with value."""
    for k, size in enumerate(shape):
        if t.shape[k] < size:
            pad = list(t.shape)
            pad[k] = size - t.shape[k]
            t = cgrad.cat([t, cgrad.full(pad, value, dtype=t.dtype)], k)
    return t


def _slice_to(t, shape):
    """t's leading corner of the given shape."""
    for k, size in enumerate(shape):
        if t.shape[k] != size:
            t = t.narrow(k, 0, size)
    return t


def _scatter_reduce_value(x, d, index, src, reduce, include_self):
    """scatter_reduce's value, recording nothing: sum and mean through
    scatter_add, prod, amax and amin through their C loops."""
    ones = cgrad.ones(tuple(index.shape), dtype=int64)
    count = cgrad.zeros(tuple(x.shape), dtype=int64).scatter_add(d, index, ones)
    hit = count > 0
    if reduce in ("sum", "mean"):
        total = (x if include_self else x.masked_fill(hit, 0)).scatter_add(d, index, src)
        if reduce == "sum":
            return total
        count = count + int(include_self)
        count = count.masked_fill(count == 0, 1)
        return total / count if x.is_floating_point() else total // count
    if include_self:
        base = x
    elif reduce == "prod":
        base = x.masked_fill(hit, 1)
    else:  # one of the group's own values, which the group's maximum (minimum) then replaces
        base = x.scatter(d, index, src)
    return _scatter_reduce_raw(base, d, index, src, ("prod", "amax", "amin").index(reduce))


class _ScatterReduce(Function):
    """scatter_reduce with torch's gradients (ScatterReduceBackward0)."""
    _node_name = "ScatterReduceBackward0"

    @staticmethod
    def forward(ctx, x, src, d, index_box, reduce, include_self):
        (index,) = index_box  # not an input: torch's node has edges for x and src alone
        out = _scatter_reduce_value(x, d, index, src, reduce, include_self)
        ctx.args = (d, reduce, include_self)
        ctx.save_for_backward(x, index, src, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        x, index, src, out = ctx.saved_tensors
        d, reduce, include_self = ctx.args
        src_c = _slice_to(src, tuple(index.shape))
        grad_x, grad_src = _SCATTER_GRADS[reduce](grad, x, d, index, src_c, out, include_self)
        if not include_self:  # the positions that received values forgot x's
            grad_x = grad_x.scatter(d, index, 0)
        if tuple(src.shape) != tuple(index.shape):  # elements beyond index's shape took no part
            grad_src = _pad_to(grad_src, tuple(src.shape), 0)
        return grad_x, grad_src, None, None, None, None


def _scatter_reduce_node(x, d, index, src, reduce, include_self):
    return _ScatterReduce.apply(x, src, d, (index,), reduce, include_self)


def _sum_grads(grad, x, d, index, src, out, include_self):
    # d out / d x = 1, d out / d src_j = 1 at the position j went to
    return grad, grad.gather(d, index)


def _mean_grads(grad, x, d, index, src, out, include_self):
    # d out / d x = d out / d src_j = 1 / (number of values averaged there)
    n = cgrad.full_like(grad, float(include_self)).scatter_add(d, index, cgrad.ones_like(src))
    grad = grad / n.masked_fill(n == 0, 1)
    return grad, grad.gather(d, index)


def _prod_grads(grad, x, d, index, src, out, include_self):
    # d out / d v = the product of the other values; zeros are left out
    # of the division (one zero: the product of the others, recomputed)
    x1 = x.masked_fill(x == 0, 1)
    grad_x = grad * _scatter_reduce_node(x1, d, index, src, "prod", include_self) / x1
    zero = src == 0
    zeros_there = cgrad.zeros_like(grad).scatter_add(d, index, zero.to(grad.dtype)).gather(d, index)
    single = zero & (zeros_there == 1)
    without = _scatter_reduce_node(x, d, index, src.masked_fill(single, 1), "prod", include_self)
    grad_src = cgrad.where(single, (grad * without).gather(d, index),
                           (grad * out).gather(d, index) / src.masked_fill(zero, 1))
    return grad_x, grad_src


def _extreme_grads(grad, x, d, index, src, out, include_self):
    # d out / d v = 1 / (how many values equal the result) for those that do
    value = out.gather(d, index)
    x_is, src_is = x == out, src == value
    n = x_is.to(grad.dtype).scatter_add(d, index, src_is.to(grad.dtype))
    share = grad / n
    return x_is * share, src_is * share.gather(d, index)


_SCATTER_GRADS = {"sum": _sum_grads, "mean": _mean_grads, "prod": _prod_grads, "amax": _extreme_grads,
                  "amin": _extreme_grads}


def scatter_reduce(input, dim, index, src, reduce, *, include_self=True):
    """input with the src elements reduced into the positions index names
    along dim (with input's value there unless include_self=False); reduce is
    sum, prod, mean, amax or amin."""
    x = _tensor(input, "scatter_reduce")
    if not isinstance(src, Tensor):
        raise TypeError(f"scatter_reduce(): argument 'src' (position 3) must be Tensor, not {type(src).__name__}")
    with cgrad.no_grad():  # torch's checks of dim, index and src are scatter_add's
        x.scatter_add(dim, index, src)
    if reduce not in _SCATTER_REDUCES:
        raise RuntimeError(f"reduce argument must be either sum, prod, mean, amax or amin, got {reduce}")
    d = _wrap_dim(dim, x.dim(), "scatter_reduce")
    if x.dim() == 0:
        x1 = x.reshape(1)
        out = _scatter_reduce_node(x1, 0, index.reshape(1), src.reshape(1), reduce, bool(include_self))
        return out.reshape(())
    if x.dtype == bool_:
        out = _scatter_reduce_value(x.long(), d, index, src.long(), reduce, bool(include_self))
        return out != 0
    return _scatter_reduce_node(x, d, index, src, reduce, bool(include_self))


def scatter_reduce_(self, dim, index, src, reduce, *, include_self=True):
    """A copy into self (which may be a view), from a clone: the result's node saves its input."""
    return self.copy_(scatter_reduce(self.clone(), dim, index, src, reduce, include_self=include_self))
