"""cgrad.testing (assert_close, make_tensor, assert_allclose) against torch.testing: same outcomes,
same exception types and message texts (torch's names read as cgrad's)."""
import warnings

import numpy as np
import pytest

import cgrad

torch = pytest.importorskip("torch")

NAN, INF = float("nan"), float("inf")


def outcome(fn, lib):
    """('ok', warnings) or (exception type name, message), with the library's name normalised."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            fn(lib)
        except Exception as exc:  # noqa: BLE001  (the outcome is what is compared)
            return type(exc).__name__, str(exc).replace("torch.", "cgrad.")
    return "ok", [(w.category.__name__, str(w.message).replace("torch.", "cgrad.")) for w in caught]


def close(*args, **kwargs):
    """A case: assert_close on inputs built by the library (callables receive it)."""
    def run(L):
        built = [a(L) if callable(a) else a for a in args]
        L.testing.assert_close(*built, **kwargs)
    return run


def t(*args, **kwargs):
    def build(L):
        kw = {k: getattr(L, v) if isinstance(v, str) else v for k, v in kwargs.items()}
        return L.tensor(*args, **kw)
    return build


def param(value):
    return lambda L: L.nn.Parameter(L.tensor(value))


def transposed(value, dtype="float32"):
    return lambda L: L.tensor(value, dtype=getattr(L, dtype)).t()


def nested(structure):
    """Builds tensors inside lists, tuples and dicts."""
    def build(L):
        def walk(x):
            if isinstance(x, list):
                return [walk(v) for v in x]
            if isinstance(x, tuple):
                return tuple(walk(v) for v in x)
            if isinstance(x, dict):
                return {k: walk(v) for k, v in x.items()}
            return x(L) if callable(x) else x
        return walk(structure)
    return build


CLOSE_CASES = {
    "f32_mismatch": close(t([1., 2., 3.]), t([1., 2.5, 3.1])),
    "f64_mismatch": close(t([1., 2., 3.], dtype="float64"), t([1., 2.5, 3.1], dtype="float64")),
    "f32_equal": close(t([1., 2., 3.]), t([1., 2., 3.])),
    "f32_within_default": close(t([1., 2.]), t([1. + 1e-6, 2.])),
    "f64_just_outside": close(t([1.], dtype="float64"), t([1. + 1e-6], dtype="float64")),
    "2d_index": close(t([[1., 2.], [3., 4.]]), t([[1., 2.], [3., 5.]])),
    "greatest_among_mismatched": close(t([1e6, 1.]), t([1e6 + 1, 1.1])),
    "many_elements": close(t([1.] * 1000 + [2.]), t([1.] * 1000 + [3.])),
    "zero_dim": close(t(0.1), t(0.2)),
    "zero_dim_int": close(t(1), t(3)),
    "zero_dim_bool": close(t(True), t(False)),
    "int64": close(t([1, 2, 3]), t([1, 2, 4])),
    "int64_with_tolerance": close(t([1, 2]), t([1, 3]), rtol=0.1, atol=0.1),
    "int64_within_tolerance": close(t([1, 2]), t([1, 3]), rtol=0, atol=1),
    "bool": close(t([True, False]), t([True, True])),
    "rtol_only": close(t([1., 2.]), t([1., 2.]), rtol=1e-3),
    "atol_only": close(t([1., 2.]), t([1., 2.]), atol=1e-3),
    "zero_tolerances": close(t([1., 2.]), t([1., 2.5]), rtol=0, atol=0),
    "int_tolerances_shown": close(t([1.]), t([3.]), rtol=0, atol=1),
    "atol_only_mismatch": close(t([1., 2.]), t([1., 2.5]), rtol=0., atol=0.1),
    "nan": close(t([1., NAN]), t([1., NAN])),
    "nan_equal": close(t([1., NAN]), t([1., NAN]), equal_nan=True),
    "nan_first": close(t([NAN, 5.]), t([NAN, 1.])),
    "nan_equal_other": close(t([NAN, 5.]), t([NAN, 1.]), equal_nan=True),
    "inf_equal": close(t([1., INF]), t([1., INF])),
    "inf_sign": close(t([1., INF]), t([1., -INF])),
    "zero_expected": close(t([1., 0.5]), t([0., 0.])),
    "tiny_atol": close(t([0., 1.]), t([1e-6, 1.])),
    "shape": close(t([1., 2.]), t([1., 2., 3.])),
    "shape_before_dtype": close(t([1., 2.]), t([1, 2, 3])),
    "dtype": close(t([1., 2.]), t([1., 2.], dtype="float64")),
    "dtype_int": close(t([1., 2.]), t([1, 2])),
    "no_check_dtype_int": close(t([1, 2]), t([1., 2.]), check_dtype=False),
    "no_check_dtype_promoted": close(t([1, 5]), t([1., 2.]), check_dtype=False),
    "no_check_dtype_bool": close(t([True, True]), t([1., 2.]), check_dtype=False),
    "no_check_dtype_f64": close(t([1.], dtype="float64"), t([1.5]), check_dtype=False),
    "stride": close(transposed([[1., 2.], [3., 4.]]), t([[1., 3.], [2., 4.]]), check_stride=True),
    "stride_before_dtype": close(transposed([[1, 2], [3, 4]], "int64"), t([[1., 3.], [2., 5.]], dtype="float64"),
                                 check_stride=True),
    "stride_unchecked": close(transposed([[1., 2.], [3., 4.]]), t([[1., 3.], [2., 4.]])),
    "stride_slice": close(lambda L: L.tensor([1., 2., 3.])[::2], t([1., 3.]), check_stride=True),
    "stride_size_one_dim": close(t([[1.], [2.]]), transposed([[1., 2.]]), check_stride=True),
    "stride_expanded": close(lambda L: L.tensor([[1.]]).expand(2, 2), t([[1., 1.], [1., 1.]]), check_stride=True),
    "numpy_float32": close(np.array([1., 2.], dtype=np.float32), np.array([1., 2.1], dtype=np.float32)),
    "numpy_nested": close({"w": np.array([1.]), "b": [np.array([2.])]}, {"w": np.array([1.]), "b": [np.array([2.5])]}),
    "device_layout": close(t([1.]), t([1.]), check_device=False, check_layout=False),
    "empty": close(t([]), t([])),
    "msg_string": close(t([1., 2.]), t([1., 2.5]), msg="custom"),
    "msg_callable": close(t([1., 2.]), t([1., 2.5]), msg=lambda m: "X" + m + "Y"),
    "requires_grad": close(lambda L: L.tensor([1.], requires_grad=True), t([1.])),
    "requires_grad_mismatch": close(lambda L: L.tensor([1.], requires_grad=True), t([2.])),
    "parameter": close(param([1.]), t([1.])),
    "parameter_strict": close(param([1.]), t([1.]), allow_subclasses=False),
    "parameter_strict_rev": close(t([1.]), param([1.]), allow_subclasses=False),
    "same_type_strict": close(t([1.]), t([1.]), allow_subclasses=False),
    "tensor_numpy": close(t([1.]), np.array([1.])),
    "numpy_tensor": close(np.array([1.]), t([1.])),
    "tensor_list": close(t([1., 2.]), [1., 2.]),
    "list_tensor": close([1., 2.], t([1., 2.])),
    "tensor_number": close(t(1), 1),
    "number_tensor": close(1, t(1)),
    "numpy": close(np.array([1.]), np.array([2.])),
    "numpy_int": close(np.array([1, 2]), np.array([1, 3])),
    "numpy_bool": close(np.array([True]), np.array([False])),
    "numpy_shape": close(np.array([1.]), np.array([1., 2.])),
    "numpy_dtype": close(np.array([1.]), np.array([1.], dtype=np.float32)),
    "numpy_zero_dim": close(np.array(1.), np.array(3.)),
    "int": close(1, 2),
    "float": close(1., 2.),
    "float_equal_doc": close(1e-9, 1e-10, rtol=0, atol=0),
    "int_tolerance": close(1, 3, rtol=0.1, atol=0.1),
    "float_atol": close(1., 2., rtol=0, atol=1),
    "float_atol_fail": close(1., 3., rtol=0, atol=1),
    "bools": close(True, False),
    "bools_equal": close(True, True),
    "bool_numpy_bool": close(True, np.bool_(True)),
    "int_float": close(1, 1.),
    "int_float_unchecked": close(1, 1., check_dtype=False),
    "int_float_unchecked_fail": close(1, 1.5, check_dtype=False),
    "complex": close(1 + 2j, 1 + 3j),
    "complex_unchecked": close(1 + 1j, 2 + 1j, check_dtype=False),
    "int_complex_unchecked": close(1, 1 + 1j, check_dtype=False),
    "numpy_scalar": close(np.float64(1.), np.float64(3.)),
    "numpy_scalar_float": close(np.float64(1.), 3.),
    "numpy_int_scalar": close(np.int64(1), 2),
    "numpy_int_float": close(np.int64(1), 1.),
    "float_inf": close(INF, INF),
    "float_inf_sign": close(INF, -INF),
    "float_nan": close(NAN, NAN),
    "float_nan_equal": close(NAN, NAN, equal_nan=True),
    "float_nan_one": close(NAN, 1.),
    "float_zero": close(1., 0.),
    "float_within": close(0., 1e-9),
    "msg_scalar": close(1, 2, msg="m"),
    "msg_scalar_callable": close(1, 2, msg=lambda m: m.upper()),
    "msg_types": close(1, 1., msg="m"),
    "msg_bools": close(True, False, msg="m"),
    "msg_dtype": close(t([1., 2.]), t([1, 2]), msg="m"),
    "msg_type_error": close(t([1.]), np.array([1.]), msg="m"),
    "none": close(None, None),
    "none_int": close(None, 1),
    "int_none": close(1, None),
    "tensor_none": close(t([1.]), None),
    "msg_none": close(1, None, msg="m"),
    "none_rtol_only": close(None, None, rtol=1),
    "nested_rtol_only": close([1.], [1.], rtol=1),
    "nested_none_rtol_only": close([None], [1], rtol=1),
    "nested_bools_rtol_only": close([True], [False], rtol=1),
    "nested_tensor_rtol_only_msg": close(nested([t([1.])]), nested([t([1.])]), rtol=1, msg="m"),
    "nested_bools": close([True], [False]),
    "nested_bools_msg": close({"a": [1, True]}, {"a": [1, False]}, msg=lambda m: "<" + m + ">"),
    "nested_numpy_bool": close([np.bool_(True)], [False]),
    "zero_dim_rounding": close(t(1.1), t(3.3)),
    "zero_dim_small_expected": close(t(3.3), t(1e-8)),
    "str": close("a", "a"),
    "object": close(object, object),
    "list": close([1., 2.], [1., 3.]),
    "list_tuple": close((1., 2.), [1., 2.]),
    "list_len": close([1., 2.], [1., 2., 3.]),
    "nested_len": close([[1.]], [[1., 2.]]),
    "nested_len_second": close([[1.], [2.]], [[1.], [2., 3.]]),
    "msg_len": close([1., 2.], [1.], msg="hi"),
    "msg_len_callable": close([1., 2.], [1.], msg=lambda m: "<" + m + ">"),
    "msg_nested_string": close(nested([t([1.]), 2.]), nested([t([1.]), 3.]), msg="hi"),
    "msg_nested_callable": close(nested([t([1.]), 2.]), nested([t([1.]), 3.]), msg=lambda m: "<" + m + ">"),
    "msg_nested_shape": close(nested([t([1.])]), nested([t([1., 2.])]), msg=lambda m: "<" + m + ">"),
    "nested_none": close([None], [1]),
    "nested_type_error": close(nested([t([1.]), np.array([1.])]), nested([t([1.]), t([1.])])),
    "nested_dtypes": close([1], [1.]),
    "list_dict": close([1], {"a": 1}),
    "dict_list": close({"a": 1}, [1]),
    "dict_keys": close({"a": 1.}, {"b": 1.}),
    "dict_keys_sorted": close({"a": 1., "c": 2., "b": 3.}, {"z": 1., "y": 2., "b": 3.}),
    "dict_nested_keys": close({"a": {"q": 1.}}, {"a": {"r": 1.}}),
    "dict_int_key": close({1: 1.}, {1: 2.}),
    "dict_missing_only": close({"a": 1}, {"a": 1, 2: 3}),
    "dict_path": close(nested({"a": 1., "b": [t([1.]), t([2.])]}), nested({"a": 1., "b": [t([1.]), t([3.])]})),
    "dict_equal": close(nested({"a": [t([1.]), (2, None)]}), nested({"a": [t([1.]), (2, None)]})),
}


@pytest.mark.parametrize("name", sorted(CLOSE_CASES))
def test_assert_close_like_torch(name):
    case = CLOSE_CASES[name]
    assert outcome(case, cgrad) == outcome(case, torch)


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64"])
@pytest.mark.parametrize("seed", range(6))
def test_assert_close_random_mismatches_like_torch(dtype, seed):
    """Random tensors with some elements pushed out of tolerance (and NaNs and infinities among the
    floats): the counts, the greatest differences and their indices, printed as torch prints them."""
    rng = np.random.default_rng(seed)
    shape = [(5,), (3, 4), (2, 3, 4)][seed % 3]
    expected = rng.uniform(-3, 3, shape) * 10.0 ** rng.integers(-3, 3, shape)
    actual = expected + rng.normal(0, 1e-9, shape) * (rng.random(shape) < 0.5)
    pushed = rng.random(shape) < 0.3
    pushed.flat[0] = True
    actual = np.where(pushed, actual * (1 + rng.uniform(1e-2, 1e-1, shape) * rng.choice([-1, 1], shape)), actual)
    if dtype == "int64":
        expected, actual = np.rint(expected * 10), np.rint(actual * 10)
    elif seed % 2:
        special = rng.choice([np.nan, np.inf, -np.inf], 2)
        actual.flat[rng.integers(0, actual.size, 2)] = special
        expected.flat[rng.integers(0, expected.size, 2)] = special
    kwargs = {"equal_nan": bool(seed % 4 == 1)}
    if seed >= 4:
        kwargs.update(rtol=1e-3, atol=1e-4)
    case = close(t(actual.tolist(), dtype=dtype), t(expected.tolist(), dtype=dtype), **kwargs)
    theirs = outcome(case, torch)
    assert outcome(case, cgrad) == theirs
    # a reference check that the comparison is not trivially passing
    assert theirs[0] == "AssertionError" or seed % 2 == 1


@pytest.mark.parametrize("args", [(True, 1), (1, True), (True, 1.)])
def test_bool_against_number_is_a_runtime_error_like_torch(args):
    # PyTorch raises an internal RuntimeError here; its text names PyTorch's internals, so only the type is compared
    assert outcome(close(*args), cgrad)[0] == outcome(close(*args), torch)[0] == "RuntimeError"


def allclose(*args, **kwargs):
    def run(L):
        built = [a(L) if callable(a) else a for a in args]
        L.testing.assert_allclose(*built, **kwargs)
    return run


ALLCLOSE_CASES = {
    "mismatch": allclose(t([1., 2.]), t([1., 2.5])),
    "nan_equal_default": allclose(t([1., NAN]), t([1., NAN])),
    "nan_unequal": allclose(t([1., NAN]), t([1., NAN]), equal_nan=False),
    "list_actual": allclose([1., 2.], t([1., 2.5])),
    "list_expected": allclose(t([1., 2.]), [1., 2.]),
    "expected_cast_to_actual": allclose(t([1, 2]), [1.0, 2.5]),
    "no_broadcast": allclose(t([1., 2.]), 2.),
    "no_broadcast_2d": allclose(t([[1., 2.]]), t([1., 2.])),
    "dtype_ignored": allclose(t([1., 2.]), t([1, 2])),
    "int": allclose(t([1, 2]), t([1, 3])),
    "mixed_int": allclose(t([1., 2.]), t([1, 3])),
    "mixed_float": allclose(t([1., 2.]), t([1., 2. + 5e-5], dtype="float64")),
    "mixed_float_rev": allclose(t([1., 2.], dtype="float64"), t([1., 2. + 5e-5])),
    "msg": allclose(t([1., 2.]), t([1., 2.5]), msg="q"),
    "msg_callable": allclose(t([1.]), t([2.]), msg=lambda m: "x"),
    "rtol_only": allclose(t([1., 2.]), t([1., 2.5]), rtol=1),
    "both": allclose(t([1., 2.]), t([1., 2.5]), rtol=1, atol=1),
    "numbers": allclose(1., 2.),
    "ints": allclose(1, 2),
    "numpy": allclose(np.array([1.]), np.array([2.])),
    "numpy_int_float": allclose(np.array([1, 2]), np.array([1., 2.5])),
    "shape": allclose(t([1., 2.]), t([1., 2., 3.])),
    "requires_grad": allclose(t([1.]), lambda L: L.tensor([1.], requires_grad=True)),
}


@pytest.mark.parametrize("name", sorted(ALLCLOSE_CASES))
def test_assert_allclose_like_torch(name):
    case = ALLCLOSE_CASES[name]
    assert outcome(case, cgrad) == outcome(case, torch)


def test_assert_allclose_warns_even_when_it_fails():
    with pytest.warns(FutureWarning, match=r"`cgrad.testing.assert_allclose\(\)` is deprecated"):
        with pytest.raises(AssertionError):
            cgrad.testing.assert_allclose(cgrad.tensor([1.]), cgrad.tensor([2.]))


# ---- make_tensor ---------------------------------------------------------------------------------------

def made(*shape, dtype, **kwargs):
    """The observable parts of make_tensor's result: everything but the random values."""
    def run(L):
        sizes = [size(L) if callable(size) else size for size in shape]
        out = L.testing.make_tensor(*sizes, dtype=getattr(L, dtype), **kwargs)
        values = out.detach().reshape(-1).tolist()
        return (str(out.dtype).replace("torch.", "cgrad."), tuple(out.shape), out.stride(), out.requires_grad,
                out.is_leaf, out.is_contiguous(), values)
    return run


MAKE_CASES = {
    "ints": (made(2, 3, dtype="float32", device="cpu"), (-9, 9)),
    "tuple": (made((2, 3), dtype="float64", device="cpu:0"), (-9, 9)),
    "list_int64": (made([2, 3], dtype="int64", device="cpu"), (-9, 9)),
    "size": (made(lambda L: L.Size([2, 3]), dtype="float32", device="cpu"), (-9, 9)),
    "bool_scalar": (made((), dtype="bool", device="cpu"), (0, 1)),
    "no_shape": (made(dtype="bool", device="cpu"), (0, 1)),
    "noncontiguous": (made(2, 3, dtype="float32", device="cpu", noncontiguous=True), (-9, 9)),
    "noncontiguous_column": (made(3, 1, dtype="float64", device="cpu", noncontiguous=True), (-9, 9)),
    "noncontiguous_one": (made(1, dtype="float32", device="cpu", noncontiguous=True), (-9, 9)),
    "noncontiguous_empty": (made(0, dtype="float32", device="cpu", noncontiguous=True), None),
    "requires_grad": (made(2, 3, dtype="float32", device="cpu", requires_grad=True), (-9, 9)),
    "requires_grad_noncontiguous": (made(2, 3, dtype="float64", device="cpu", requires_grad=True,
                                         noncontiguous=True), (-9, 9)),
    "requires_grad_int": (made(2, dtype="int64", device="cpu", requires_grad=True), None),
    "requires_grad_bool": (made(2, dtype="bool", device="cpu", requires_grad=True), None),
    "low_above_high": (made(2, dtype="float32", device="cpu", low=2, high=1), None),
    "low_equal_high_float": (made(2, dtype="float32", device="cpu", low=2, high=2), (2, 2)),
    "low_equal_high_int": (made(2, dtype="int64", device="cpu", low=2, high=2), None),
    "int_one_value": (made(6, dtype="int64", device="cpu", low=2, high=3), (2, 2)),
    "int_ceil": (made(6, dtype="int64", device="cpu", low=2.5, high=3.5), (3, 3)),
    "int_ceil_empty": (made(6, dtype="int64", device="cpu", low=2.5, high=3), None),
    "low_nan": (made(2, dtype="float32", device="cpu", low=NAN), None),
    "high_nan": (made(2, dtype="float32", device="cpu", high=NAN), None),
    "float32_clamped": (made(20, dtype="float32", device="cpu", low=-1e300, high=1e300), (-3.5e38, 3.5e38)),
    "float32_infinite": (made(20, dtype="float32", device="cpu", low=-INF, high=INF), (-3.5e38, 3.5e38)),
    "float64_low_inf": (made(20, dtype="float64", device="cpu", low=-INF), (-1.8e308, 9)),
    "int64_clamped": (made(20, dtype="int64", device="cpu", low=-1e300, high=1e300), (-2 ** 63, 2 ** 63 - 1)),
    "int_low_default_high": (made(2, dtype="int64", device="cpu", low=10), None),
    "bool_false": (made(6, dtype="bool", device="cpu", low=0, high=1), (0, 0)),
    "bool_true": (made(6, dtype="bool", device="cpu", low=0.5, high=1.5), (1, 1)),
    "bool_clamped": (made(6, dtype="bool", device="cpu", low=-1, high=3), (0, 1)),
    "bool_out_of_range": (made(2, dtype="bool", device="cpu", low=5, high=9), None),
    "bool_at_top": (made(2, dtype="bool", device="cpu", low=2, high=3), None),
    "bool_equal": (made(2, dtype="bool", device="cpu", low=1, high=1), None),
    "float_out_of_range": (made(2, dtype="float32", device="cpu", low=1e39, high=1e40), None),
    "int_out_of_range": (made(2, dtype="int64", device="cpu", low=1e39, high=1e40), None),
    "low_only": (made(20, dtype="float32", device="cpu", low=1), (1, 9)),
    "high_below_default": (made(2, dtype="float32", device="cpu", high=-10), None),
    "exclude_zero_float": (made(20, dtype="float32", device="cpu", low=0, high=1e-30, exclude_zero=True),
                           (1e-38, 1e-30)),
    "exclude_zero_int": (made(50, dtype="int64", device="cpu", low=-1, high=1, exclude_zero=True), (-1, 1)),
    "exclude_zero_bool": (made(50, dtype="bool", device="cpu", exclude_zero=True), (1, 1)),
    "missing_dtype": (lambda L: L.testing.make_tensor(2, device="cpu"), None),
    "missing_device": (lambda L: L.testing.make_tensor(2, dtype=L.float32), None),
    "negative_dim": (made(-1, dtype="float32", device="cpu"), None),
}


def _value_bounds_hold(result, bounds):
    if bounds is None:
        return True
    low, high = bounds
    values = result[-1]
    return all(low <= v <= high for v in values) and (not values or not result[0].endswith("bool")
                                                     or all(isinstance(v, bool) for v in values))


@pytest.mark.parametrize("name", sorted(MAKE_CASES))
def test_make_tensor_like_torch(name):
    case, bounds = MAKE_CASES[name]
    results = {}
    for lib in (cgrad, torch):
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                result = case(lib)
            warned = [(w.category.__name__, str(w.message).replace("torch.", "cgrad.")) for w in caught]
            assert _value_bounds_hold(result, bounds), (lib.__name__, result)
            results[lib.__name__] = ("ok", result[:-1], warned)
        except Exception as exc:  # noqa: BLE001
            message = str(exc).replace("torch.", "cgrad.")
            # cgrad's shape errors come from cgrad.empty, whose wording is its own
            results[lib.__name__] = (type(exc).__name__, None if name == "negative_dim" else message)
    assert results["cgrad"] == results["torch"]


def test_make_tensor_unsupported():
    mt = cgrad.testing.make_tensor
    unsupported = r"^The requested dtype 'float32' is not supported by cgrad.testing.make_tensor"
    with pytest.raises(TypeError, match=unsupported):
        mt(2, dtype="float32", device="cpu")
    with pytest.raises(NotImplementedError, match="device 'cuda' is not supported"):
        mt(2, dtype=cgrad.float32, device="cuda")
    with pytest.raises(TypeError, match="argument 'memory_format' must be cgrad.memory_format, not str"):
        mt(2, dtype=cgrad.float32, device="cpu", memory_format="channels_last")
    with pytest.raises(ValueError, match="`noncontiguous` and `memory_format` are mutually exclusive"):
        mt(2, dtype=cgrad.float32, device="cpu", noncontiguous=True, memory_format="channels_last")


def test_make_tensor_follows_the_seed_and_is_random():
    cgrad.manual_seed(3)
    a = cgrad.testing.make_tensor(50, dtype=cgrad.float64, device="cpu")
    cgrad.manual_seed(3)
    b = cgrad.testing.make_tensor(50, dtype=cgrad.float64, device="cpu")
    assert a.tolist() == b.tolist() and len(set(a.tolist())) == 50
    ints = cgrad.testing.make_tensor(400, dtype=cgrad.int64, device="cpu").tolist()
    assert set(ints) == set(range(-9, 10))
    # a leaf that takes gradients
    x = cgrad.testing.make_tensor(2, 3, dtype=cgrad.float64, device="cpu", requires_grad=True, noncontiguous=True)
    (x * 2).sum().backward()
    assert x.grad.tolist() == [[2.0] * 3] * 2
