"""The function forms of tensor methods: cgrad.exp(x) is x.exp()."""
from cgrad._C import Tensor, preserve_format
from cgrad._creation import tensor as _tensor


def _arg(x, fname):
    """x, which must be a Tensor: PyTorch's TypeError otherwise."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{fname}(): argument 'input' (position 1) must be Tensor, not {type(x).__name__}")
    return x


def _t(x):
    return x if isinstance(x, Tensor) else _tensor(x)


def add(input, other, *, alpha=1):
    return _t(input).add(other, alpha=alpha)


def sub(input, other, *, alpha=1):
    return _t(input).sub(other, alpha=alpha)


def mul(input, other):
    return _t(input) * other


def div(input, other, *, rounding_mode=None):
    return _t(input).div(other, rounding_mode=rounding_mode)


# PyTorch's other names for the same ops
subtract, multiply, divide = sub, mul, div


def true_divide(dividend, divisor):
    return _t(dividend) / divisor


# PyTorch's other names for functions: name -> the method it calls
_ALIASES = {
    "negative": "neg", "absolute": "abs", "arcsin": "asin", "arccos": "acos", "arctan": "atan",
    "greater": "gt", "greater_equal": "ge", "less": "lt", "less_equal": "le", "not_equal": "ne",
}


def pow(input, exponent):
    if not isinstance(input, Tensor):
        return input ** exponent
    return input ** exponent


def float_power(input, exponent):
    """input ** exponent computed in float64; either may be a number, not both."""
    if isinstance(input, Tensor):
        return input.float_power(exponent)
    if isinstance(exponent, Tensor):
        return input ** exponent.double()
    raise TypeError(f"float_power(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")


def neg(input):
    return -_arg(input, "neg")


def matmul(input, other):
    return _arg(input, "matmul") @ other


def mm(input, mat2):
    return _arg(input, "mm").mm(mat2)


def bmm(input, mat2):
    return _arg(input, "bmm").bmm(mat2)


def mv(input, vec):
    return _arg(input, "mv").mv(vec)


def dot(input, other):
    return _arg(input, "dot").dot(other)


def outer(input, vec2):
    return _arg(input, "outer").outer(vec2)


def exp(input):
    return _arg(input, "exp").exp()


def log(input):
    return _arg(input, "log").log()


def tanh(input):
    return _arg(input, "tanh").tanh()


def sigmoid(input):
    return _arg(input, "sigmoid").sigmoid()


def relu(input):
    return _arg(input, "relu").relu()


# In place, as the methods
def exp_(input):
    return _arg(input, "exp_").exp_()


def log_(input):
    return _arg(input, "log_").log_()


def tanh_(input):
    return _arg(input, "tanh_").tanh_()


def sigmoid_(input):
    return _arg(input, "sigmoid_").sigmoid_()


def relu_(input):
    return _arg(input, "relu_").relu_()


def neg_(input):
    return _arg(input, "neg_").neg_()


def negative_(input):
    return _arg(input, "negative_").negative_()


def sinc_(input):
    return _arg(input, "sinc_").sinc_()


def xlogy_(input, other):
    return _arg(input, "xlogy_").xlogy_(other)


def ldexp_(input, other):
    if not isinstance(other, Tensor):
        raise TypeError(f"ldexp_(): argument 'other' (position 2) must be Tensor, not {type(other).__name__}")
    return _arg(input, "ldexp_").ldexp_(other)


def addmv_(input, mat, vec, *, beta=1, alpha=1):
    return _arg(input, "addmv_").addmv_(mat, vec, beta=beta, alpha=alpha)


def sum(input, dim=None, keepdim=False, *, dtype=None):
    return _arg(input, "sum").sum(dim, keepdim, dtype=dtype)


def mean(input, dim=None, keepdim=False, *, dtype=None):
    return _arg(input, "mean").mean(dim, keepdim, dtype=dtype)


def reshape(input, shape):
    return _arg(input, "reshape").reshape(shape)


def transpose(input, dim0, dim1):
    return _arg(input, "transpose").transpose(dim0, dim1)


def t(input):
    return _arg(input, "t").t()


def permute(input, dims):
    return _arg(input, "permute").permute(dims)


def unsqueeze(input, dim):
    return _arg(input, "unsqueeze").unsqueeze(dim)


def squeeze(input, dim=None):
    return _arg(input, "squeeze").squeeze(dim)


def clone(input, *, memory_format=preserve_format):
    return _arg(input, "clone").clone(memory_format=memory_format)


def detach(input):
    return _arg(input, "detach").detach()


def numel(input):
    return _arg(input, "numel").numel()


def is_tensor(obj):
    return isinstance(obj, Tensor)


def sort(input, *args, **kwargs):
    """sort(input, dim=-1, descending=False) or sort(input, *, stable, dim=-1, descending=False)"""
    return _arg(input, "sort").sort(*args, **kwargs)


def argsort(input, *args, **kwargs):
    """argsort(input, dim=-1, descending=False) or argsort(input, *, stable, dim=-1, descending=False)"""
    return _arg(input, "argsort").argsort(*args, **kwargs)


def topk(input, k, dim=-1, largest=True, sorted=True):
    return _arg(input, "topk").topk(k, dim, largest, sorted)


def cumsum(input, dim, *, dtype=None):
    return _arg(input, "cumsum").cumsum(dim, dtype=dtype)


def cumprod(input, dim, *, dtype=None):
    return _arg(input, "cumprod").cumprod(dim, dtype=dtype)


def cummax(input, dim):
    return _arg(input, "cummax").cummax(dim)


def cummin(input, dim):
    return _arg(input, "cummin").cummin(dim)


def logcumsumexp(input, dim):
    return _arg(input, "logcumsumexp").logcumsumexp(dim)


def kthvalue(input, k, dim=-1, keepdim=False):
    return _arg(input, "kthvalue").kthvalue(k, dim, keepdim)


def median(input, *args, **kwargs):
    """median(input) or median(input, dim, keepdim=False)"""
    return _arg(input, "median").median(*args, **kwargs)


def mode(input, dim=-1, keepdim=False):
    return _arg(input, "mode").mode(dim, keepdim)


def count_nonzero(input, dim=None):
    return _arg(input, "count_nonzero").count_nonzero(dim)


def nansum(input, dim=None, keepdim=False, *, dtype=None):
    return _arg(input, "nansum").nansum(dim, keepdim, dtype=dtype)


def nanmean(input, dim=None, keepdim=False, *, dtype=None):
    return _arg(input, "nanmean").nanmean(dim, keepdim, dtype=dtype)


def _all(input, dim=None, keepdim=False):
    return _arg(input, "all").all(dim, keepdim)


def _any(input, dim=None, keepdim=False):
    return _arg(input, "any").any(dim, keepdim)


# Bound by assignment: inside this module `all` and `any` stay the builtins.
for _f, _name in ((_all, "all"), (_any, "any")):
    _f.__name__ = _f.__qualname__ = _name
    globals()[_name] = _f


# The function forms of methods, as torch has them: cgrad.sqrt_(x) is x.sqrt_().
_METHOD_FORMS = (
    "abs_ acos_ acosh_ arccos_ arccosh_ arcsin_ arcsinh_ arctan_ arctanh_ asin_ asinh_ atan_ atanh_ ceil_ "
    "clamp_ clamp_max_ clamp_min_ clip_ cos_ cosh_ deg2rad_ detach_ erf_ erfc_ exp2_ expm1_ fill_ fix_ floor_ "
    "frac_ gcd_ i0_ lcm_ logit_ log10_ log1p_ log2_ nan_to_num_ rad2deg_ reciprocal_ round_ rsqrt_ sin_ sinh_ sqrt_ square_ tan_ "
    "trunc_ zero_ index_put index_put_ is_floating_point is_complex moveaxis fliplr flipud ger "
    "split_with_sizes positive ravel is_nonzero is_same_size is_signed").split()


def _method_form(name, method):
    def form(input, *args, **kwargs):
        return getattr(_arg(input, name), method)(*args, **kwargs)
    form.__name__ = form.__qualname__ = name
    form.__doc__ = f"cgrad.{name}(input, ...) is input.{method}(...)."
    return form


globals().update({_name: _method_form(_name, _name) for _name in _METHOD_FORMS})
globals().update({_name: _method_form(_name, _method) for _name, _method in _ALIASES.items()})
