"""assert_close and assert_allclose: one recursive walk over both inputs.

A failure is raised inside the walk as `_Failure` (the exception type to raise, the
text, the path of keys that led to it and whether a user `msg` may replace it), and
turned into the user-facing exception once, at the top.
"""
import collections.abc
import math
import numbers
import warnings

import numpy as np

import cgrad

# PyTorch's default (rtol, atol) per dtype; every other dtype compares exactly
_DEFAULT_TOLERANCES = {cgrad.float32: (1.3e-6, 1e-5), cgrad.float64: (1e-7, 1e-7)}
# the tolerances of the deprecated assert_allclose (numpy's defaults for float64)
_ALLCLOSE_TOLERANCES = {cgrad.float32: (1e-4, 1e-5), cgrad.float64: (1e-5, 1e-8)}


class _Failure(Exception):
    def __init__(self, error_type, text, user_msg_applies=True, shows_path=True):
        super().__init__(text)
        self.error_type = error_type
        self.text = text
        self.user_msg_applies = user_msg_applies
        self.shows_path = shows_path  # PyTorch names the failing item for every failure but a boolean mismatch
        self.path = []


def _type_name(obj):
    cls = type(obj)
    if cls is cgrad.Tensor:  # the class lives in cgrad._C but is public as cgrad.Tensor
        return "<class 'cgrad.Tensor'>"
    return str(cls)


def _no_pair(actual, expected):
    return _Failure(TypeError, "No comparison pair was able to handle inputs of type "
                               f"{_type_name(actual)} and {_type_name(expected)}.", user_msg_applies=False)


def _is_bool(x):
    return isinstance(x, (bool, np.bool_))


def _is_number(x):
    return isinstance(x, numbers.Number) and not _is_bool(x)


def _is_sequence(x):
    return isinstance(x, collections.abc.Sequence) and not isinstance(x, (str, bytes))


def _tolerances(table, *dtypes):
    pairs = [table.get(dtype, (0.0, 0.0)) for dtype in dtypes]
    return max(rtol for rtol, _ in pairs), max(atol for _, atol in pairs)


def _number_kind(x):
    if isinstance(x, numbers.Integral):
        return int
    return float if isinstance(x, numbers.Real) else complex


def _given_tolerances(opts):
    """The user's (rtol, atol), or None for the dtype defaults; only numbers and tensors need them."""
    rtol, atol = opts["rtol"], opts["atol"]
    if (rtol is None) != (atol is None):
        raise _Failure(ValueError, "Both 'rtol' and 'atol' must be either specified or omitted, "
                                   f"but got no {'rtol' if rtol is None else 'atol'}.", user_msg_applies=False)
    return None if rtol is None else (rtol, atol)


def _up_to(tol, exact):
    return "" if exact else f" (up to {tol} allowed)"


def _compare_numbers(actual, expected, opts):
    given = _given_tolerances(opts)
    kinds = (_number_kind(actual), _number_kind(expected))
    if opts["check_dtype"] and kinds[0] is not kinds[1]:
        raise _Failure(AssertionError, f"The (d)types do not match: {kinds[0]} != {kinds[1]}.")
    # Python numbers compare at the precision of the widest dtype of their kind
    as_dtype = {int: cgrad.int64, float: cgrad.float64, complex: cgrad.float64}
    rtol, atol = given or _tolerances(_DEFAULT_TOLERANCES, *(as_dtype[k] for k in kinds))
    if actual == expected:
        return
    a, e = complex(actual), complex(expected)
    if opts["equal_nan"] and _isnan(a) and _isnan(e):
        return
    abs_diff = abs(actual - expected)
    finite = all(math.isfinite(v) for v in (a.real, a.imag, e.real, e.imag))
    if finite and abs_diff <= atol + rtol * abs(expected):
        return
    _raise_scalar_mismatch(actual, expected, abs_diff, rtol, atol)


def _raise_scalar_mismatch(actual, expected, abs_diff, rtol, atol):
    rel_diff = _divide(abs_diff, abs(expected))
    exact = rtol == 0 and atol == 0
    raise _Failure(AssertionError, f"Scalars are not {'equal' if exact else 'close'}!\n\n"
                                   f"Expected {expected} but got {actual}.\n"
                                   f"Absolute difference: {abs_diff}{_up_to(atol, exact)}\n"
                                   f"Relative difference: {rel_diff}{_up_to(rtol, exact)}")


def _isnan(z):
    return math.isnan(z.real) or math.isnan(z.imag)


def _divide(num, den):
    if den != 0:
        return num / den
    return math.inf if num != 0 and not math.isnan(num) else math.nan


def _as_tensor(x):
    return x if isinstance(x, cgrad.Tensor) else cgrad.as_tensor(x)


def _check_attributes(actual, expected, opts):
    checks = [("shape", lambda t: t.shape, True), ("stride()", lambda t: t.stride(), opts["check_stride"]),
              ("dtype", lambda t: t.dtype, opts["check_dtype"])]
    for name, get, enabled in checks:
        if enabled and get(actual) != get(expected):
            raise _Failure(AssertionError,
                           f"The values for attribute '{name}' do not match: {get(actual)!r} != {get(expected)!r}.")


def _to_numpy(t, dtype):
    if t.dtype != dtype:
        t = t.to(dtype)
    values = np.array(t.detach().numpy(), copy=True)
    return values.astype(np.int64) if values.dtype == np.bool_ else values


def _compare_tensors(actual, expected, opts):
    actual, expected = _as_tensor(actual), _as_tensor(expected)
    _check_attributes(actual, expected, opts)
    rtol, atol = _given_tolerances(opts) or _tolerances(_DEFAULT_TOLERANCES, actual.dtype, expected.dtype)
    dtype = cgrad.promote_types(actual.dtype, expected.dtype)
    a, e = _to_numpy(actual, dtype), _to_numpy(expected, dtype)
    # differences of integers and booleans are measured in the default float dtype, as PyTorch's division does
    floating = dtype in (cgrad.float32, cgrad.float64)
    fdtype = a.dtype if floating else (np.float32 if cgrad.get_default_dtype() == cgrad.float32 else np.float64)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        abs_diff = np.abs(a - e)
        close = a == e
        if floating and opts["equal_nan"]:
            close |= np.isnan(a) & np.isnan(e)
        finite = np.isfinite(a) & np.isfinite(e) if floating else np.ones(a.shape, dtype=bool)
        close |= finite & (abs_diff.astype(fdtype) <= atol + rtol * np.abs(e).astype(fdtype))
        if close.all():
            return
        rel_diff = abs_diff.astype(fdtype) / np.abs(e).astype(fdtype)
    if a.ndim == 0:
        # a 0-d tensor is reported as a scalar, its differences taken between Python numbers
        actual_item, expected_item = actual.to(dtype).item(), expected.to(dtype).item()
        _raise_scalar_mismatch(actual_item, expected_item, abs(actual_item - expected_item), rtol, atol)
    _raise_mismatch(abs_diff, rel_diff, ~close, rtol, atol)


def _raise_mismatch(abs_diff, rel_diff, mismatch, rtol, atol):
    exact = rtol == 0 and atol == 0
    closeness = "equal" if exact else "close"
    count, total = int(mismatch.sum()), mismatch.size
    lines = [f"Tensor-likes are not {closeness}!", "", f"Mismatched elements: {count} / {total} "
                                                       f"({100 * count / total:.1f}%)"]
    for label, diff, tol in (("absolute", abs_diff, atol), ("relative", rel_diff, rtol)):
        # only mismatched elements count; argmax returns the first NaN, which wins as PyTorch's max does
        masked = np.where(mismatch, diff, np.zeros((), dtype=diff.dtype))
        flat = int(np.argmax(masked.reshape(-1)))
        index = tuple(int(i) for i in np.unravel_index(flat, masked.shape))
        lines.append(f"Greatest {label} difference: {masked.reshape(-1)[flat].item()} at index {index}"
                     f"{_up_to(tol, exact)}")
    raise _Failure(AssertionError, "\n".join(lines))


def _compare_mappings(actual, expected, opts):
    missing = [k for k in expected if k not in actual]
    extra = [k for k in actual if k not in expected]
    if missing or extra:
        raise _Failure(AssertionError, "The keys of the mappings do not match:\n"
                                       f"Missing keys in the actual mapping: {_sorted(missing)}\n"
                                       f"Additional keys in the actual mapping: {_sorted(extra)}",
                       user_msg_applies=False)
    for key in actual:
        _compare_item(actual[key], expected[key], key, opts)


def _sorted(keys):
    try:
        return sorted(keys)
    except TypeError:
        return keys


def _compare_item(actual, expected, key, opts):
    try:
        _compare(actual, expected, opts)
    except _Failure as failure:
        failure.path.insert(0, key)
        raise


def _compare_tensor_likes(actual, expected, opts):
    if opts["allow_subclasses"]:
        related = isinstance(actual, type(expected)) or isinstance(expected, type(actual))
    else:
        related = type(actual) is type(expected)
    if not related:
        raise _no_pair(actual, expected)
    _compare_tensors(actual, expected, opts)


def _compare(actual, expected, opts):
    if _is_sequence(actual) and _is_sequence(expected):
        if len(actual) != len(expected):
            raise _Failure(AssertionError, f"The length of the sequences mismatch: {len(actual)} != {len(expected)}",
                           user_msg_applies=False)
        for i, (a, e) in enumerate(zip(actual, expected)):
            _compare_item(a, e, i, opts)
    elif isinstance(actual, collections.abc.Mapping) and isinstance(expected, collections.abc.Mapping):
        _compare_mappings(actual, expected, opts)
    elif actual is None or expected is None:
        if actual is not expected:
            raise _Failure(AssertionError, f"None mismatch: {actual} is not {expected}")
    elif _is_bool(actual) and _is_bool(expected):
        if bool(actual) != bool(expected):
            raise _Failure(AssertionError, f"Booleans mismatch: {actual} is not {expected}", shows_path=False)
    elif (_is_bool(actual) and _is_number(expected)) or (_is_number(actual) and _is_bool(expected)):
        # PyTorch fails here with an internal error rather than a comparison message
        raise _Failure(RuntimeError, f"Comparing the boolean and non-boolean numbers {type(actual).__name__}(): "
                                     f"{actual} and {type(expected).__name__}(): {expected} is not supported",
                       user_msg_applies=False)
    elif _is_number(actual) and _is_number(expected):
        _compare_numbers(actual, expected, opts)
    elif isinstance(actual, (cgrad.Tensor, np.ndarray)) and isinstance(expected, (cgrad.Tensor, np.ndarray)):
        _compare_tensor_likes(actual, expected, opts)
    else:
        raise _no_pair(actual, expected)


def assert_close(actual, expected, *, allow_subclasses=True, rtol=None, atol=None, equal_nan=False,
                 check_device=True, check_dtype=True, check_layout=True, check_stride=False, msg=None):
    """Asserts that `actual` and `expected` are close, as torch.testing.assert_close does.

    Tensors are close when |actual - expected| <= atol + rtol * |expected| elementwise, with
    PyTorch's default rtol and atol per dtype when both are omitted; infinities must be equal,
    NaNs are equal only with `equal_nan`. Shapes, dtypes (`check_dtype`) and strides
    (`check_stride`) must match. Sequences and mappings are compared item by item. Every cgrad
    tensor is strided and on the CPU, so `check_device` and `check_layout` always pass.
    `msg` replaces the failure message, or, if callable, maps it to a new one.
    """
    del check_device, check_layout  # every cgrad tensor is a strided CPU tensor
    opts = {"allow_subclasses": allow_subclasses, "rtol": rtol, "atol": atol,
            "equal_nan": equal_nan, "check_dtype": check_dtype, "check_stride": check_stride}
    try:
        _compare(actual, expected, opts)
    except _Failure as failure:
        text = failure.text
        if failure.path and failure.shows_path:
            text += "\n\nThe failure occurred for item " + "".join(f"[{key!r}]" for key in failure.path)
        if failure.user_msg_applies and msg is not None:
            text = msg(text) if callable(msg) else msg
        raise failure.error_type(text) from None


def assert_allclose(actual, expected, rtol=None, atol=None, equal_nan=True, msg=""):
    """Deprecated form of assert_close: converts both inputs to tensors of `actual`'s dtype
    (no broadcasting), ignores dtype differences and uses numpy-like default tolerances."""
    warnings.warn("`cgrad.testing.assert_allclose()` is deprecated since 1.12 and will be removed in a future "
                  "release. Please use `cgrad.testing.assert_close()` instead. You can find detailed upgrade "
                  "instructions in https://github.com/pytorch/pytorch/issues/61844.", FutureWarning, stacklevel=2)
    if not isinstance(actual, cgrad.Tensor):
        actual = cgrad.tensor(actual)
    if not isinstance(expected, cgrad.Tensor):
        expected = cgrad.tensor(expected, dtype=actual.dtype)
    if rtol is None and atol is None:
        rtol, atol = _tolerances(_ALLCLOSE_TOLERANCES, actual.dtype, expected.dtype)
    assert_close(actual, expected, rtol=rtol, atol=atol, equal_nan=equal_nan, check_device=True,
                 check_dtype=False, check_stride=False, msg=msg or None)
