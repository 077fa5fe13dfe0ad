"""Scans (cumprod, cummax, cummin, logcumsumexp) and selections (kthvalue,
median, mode) along one dim: values, indices, gradients, ties, NaNs, dtypes,
empty and 0-d tensors and errors, against torch and finite differences."""
import numpy as np
import pytest

import cgrad
from helpers import assert_same_error, check_op, run_twins, same_values, sgd_step, torch_or_skip

DTYPES = ["float64", "float32"]
NAN = float("nan")


def np_of(t):
    return np.array(t.detach().numpy(), copy=True)


def grads(lib, fn, data, upstream, dtype="float64", second=None):
    """(output, grad of data) for sum(upstream * fn(x)); with second, also the
    derivative of sum(second * grad) (a Hessian-vector product)."""
    x = lib.tensor(data, dtype=getattr(lib, dtype), requires_grad=True)
    out = fn(lib, x)
    values = out[0] if isinstance(out, tuple) else out
    g, = lib.autograd.grad(values, x, lib.tensor(upstream, dtype=values.dtype), create_graph=second is not None)
    if second is None:
        return values, g
    gg, = lib.autograd.grad(g, x, lib.tensor(second, dtype=g.dtype))
    return values, g, gg


def assert_grads_match_torch(fn, data, dtype="float64", seed=0, second_order=False):
    torch = torch_or_skip()
    data = np.asarray(data, dtype=np.float64)
    rng = np.random.default_rng(seed)
    out = fn(cgrad, cgrad.tensor(data))
    upstream = rng.standard_normal(tuple((out[0] if isinstance(out, tuple) else out).shape))
    second = rng.standard_normal(data.shape) if second_order else None
    ours = grads(cgrad, fn, data, upstream, dtype, second=second)
    theirs = grads(torch, fn, data, upstream, dtype, second=second)
    tol = 1e-12 if dtype == "float64" else 1e-5
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(np_of(a), np_of(b), rtol=tol, atol=tol)


# ---------------------------------------------------------------- cumprod

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,dim", [((5,), 0), ((3, 4), 1), ((3, 4), 0), ((2, 3, 4), -2), ((2, 3, 4), -1)])
def test_cumprod_values_and_gradient(shape, dim, dtype):
    check_op(lambda lib, x: lib.cumprod(x, dim), shape, dtype=dtype,
             np_fn=lambda a: np.cumprod(a, axis=dim), domain="nonzero")


def test_cumprod_noncontiguous_and_method_form():
    check_op(lambda lib, x: x.cumprod(dim=1), (3, 5), noncontig=True, domain="nonzero")


@pytest.mark.parametrize("dtype", DTYPES)
def test_cumprod_values_are_bit_identical_to_torch(dtype):
    torch = torch_or_skip()
    a = np.random.default_rng(1).uniform(0.5, 1.5, (7, 40))
    for dim in (0, 1):
        same_values(cgrad.cumprod(cgrad.tensor(a, dtype=getattr(cgrad, dtype)), dim),
                    torch.cumprod(torch.tensor(a, dtype=getattr(torch, dtype)), dim))


# positions (in the flattened (3, 6) input) set to zero
ZERO_CASES = [(2,), (0,), (5,), (1, 3), (0, 1), (4, 5), (1, 2, 3), (0, 7, 8, 15, 17), (0, 1, 2, 3, 4, 5)]


@pytest.mark.parametrize("zeros", ZERO_CASES)
@pytest.mark.parametrize("dim", [1, 0])
def test_cumprod_gradient_with_zeros_matches_torch(zeros, dim):
    data = np.random.default_rng(2).standard_normal((3, 6))
    data.flat[list(zeros)] = 0
    assert_grads_match_torch(lambda lib, x: lib.cumprod(x, dim), data)


@pytest.mark.parametrize("zeros", [(), (2,), (0,), (1, 3), (0, 4, 5), (2, 3, 4)])
def test_cumprod_second_derivative_with_zeros_matches_torch(zeros):
    data = np.random.default_rng(3).standard_normal((2, 6))
    data[:, list(zeros)] = 0
    assert_grads_match_torch(lambda lib, x: lib.cumprod(x, 1), data, second_order=True)


def test_cumprod_gradient_with_zeros_float32():
    data = np.array([[0.5, 0.0, 2.0, -1.5], [1.25, 3.0, 0.0, 0.0]])
    assert_grads_match_torch(lambda lib, x: lib.cumprod(x, 1), data, dtype="float32")


def test_cumprod_grad_fn_and_trivial_dims():
    torch = torch_or_skip()
    for data, dim in [(2.5, 0), (2.5, -1), ([[1.5, -2.0]], 0), ([[0.0], [3.0]], 1), ([], 0)]:
        x = cgrad.tensor(data, requires_grad=True)
        t = torch.tensor(data, requires_grad=True)
        y, ty = x.cumprod(dim), t.cumprod(dim)
        assert y.grad_fn.name() == ty.grad_fn.name() == "CumprodBackward0"
        same_values(y, ty)
        y.sum().backward()
        ty.sum().backward()
        same_values(x.grad, t.grad)


def test_cumprod_of_empty_dims():
    torch = torch_or_skip()
    for shape, dim in [((0, 3), 0), ((0, 3), 1), ((2, 0), 1)]:
        x = cgrad.zeros(shape, requires_grad=True)
        y = x.cumprod(dim)
        assert tuple(y.shape) == shape and y.grad_fn.name() == "CumprodBackward0"
        y.sum().backward()
        same_values(x.grad, torch.zeros(shape))


def test_cumprod_integers_bool_and_dtype_argument():
    torch = torch_or_skip()
    for data in ([3, -1, 4, 2], [True, False, True], [[2, 3], [4, 5]]):
        for kwargs in ({}, {"dtype": "float32"}, {"dtype": "float64"}, {"dtype": "int64"}):
            ours = {k: getattr(cgrad, v) for k, v in kwargs.items()}
            theirs = {k: getattr(torch, v) for k, v in kwargs.items()}
            same_values(cgrad.cumprod(cgrad.tensor(data), 0, **ours), torch.cumprod(torch.tensor(data), 0, **theirs))
    big = [2 ** 40, 2 ** 30, 3]  # int64 products wrap as torch's
    same_values(cgrad.tensor(big).cumprod(0), torch.tensor(big).cumprod(0))
    x = cgrad.tensor([1.5, 2.0], requires_grad=True)
    y = x.cumprod(0, dtype=cgrad.float64)
    assert y.dtype == cgrad.float64
    y.sum().backward()
    assert x.grad.dtype == cgrad.float32 and x.grad.tolist() == [3.0, 1.5]


@pytest.mark.parametrize("call", [
    lambda lib: lib.cumprod(lib.ones(2, 3), 2),
    lambda lib: lib.cumprod(lib.ones(2, 3), -3),
    lambda lib: lib.cumprod(lib.tensor(1.0), 1),
    lambda lib: lib.cumprod(lib.tensor([1, 2]), 0, dtype=lib.bool),
])
def test_cumprod_errors(call):
    assert_same_error(call)


@pytest.mark.parametrize("dim", [1.0, None, True])
def test_cumprod_dim_must_be_an_int(dim):
    for lib in (cgrad, torch_or_skip()):
        with pytest.raises(TypeError):
            lib.cumprod(lib.ones(2, 3), dim)



# ---------------------------------------------------------------- cummax, cummin

CUM_SHAPES = [((6,), 0), ((3, 5), 1), ((3, 5), 0), ((2, 3, 4), -2), ((2, 3, 4), -1)]


@pytest.mark.parametrize("name", ["cummax", "cummin"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,dim", CUM_SHAPES)
def test_cummax_cummin_values_and_gradient(name, shape, dim, dtype):
    np_fn = np.maximum.accumulate if name == "cummax" else np.minimum.accumulate
    check_op(lambda lib, x: getattr(lib, name)(x, dim).values, shape, dtype=dtype,
             np_fn=lambda a: np_fn(a, axis=dim))


@pytest.mark.parametrize("name", ["cummax", "cummin"])
def test_cummax_cummin_noncontiguous_method_form(name):
    check_op(lambda lib, x: getattr(x, name)(dim=1)[0], (4, 5), noncontig=True)


def ties_and_nans(seed=0):
    rng = np.random.default_rng(seed)
    ties = rng.integers(0, 3, (4, 9)).astype(np.float64)
    nans = ties.copy()
    nans[0, 2] = nans[0, 5] = nans[1, 0] = nans[2, 8] = nans[3, 3] = nans[3, 4] = NAN
    return ties, nans


@pytest.mark.parametrize("name", ["cummax", "cummin"])
@pytest.mark.parametrize("dtype", ["float64", "float32", "int64", "bool"])
def test_cummax_cummin_take_the_last_of_equal_values_as_torch(name, dtype):
    torch = torch_or_skip()
    ties, nans = ties_and_nans()
    cases = [ties] if dtype in ("int64", "bool") else [ties, nans, -ties]
    for data in cases:
        for dim in (0, 1, -1):
            ours = getattr(cgrad, name)(cgrad.tensor(data).to(getattr(cgrad, dtype)), dim)
            theirs = getattr(torch, name)(torch.tensor(data).to(getattr(torch, dtype)), dim)
            same_values(ours.values, theirs.values)
            same_values(ours.indices, theirs.indices)


@pytest.mark.parametrize("name", ["cummax", "cummin"])
def test_cummax_cummin_gradient_with_ties_and_nans_matches_torch(name):
    ties, nans = ties_and_nans(1)
    for data in (ties, nans):
        for dim in (0, 1):
            assert_grads_match_torch(lambda lib, x: getattr(lib, name)(x, dim), data)


@pytest.mark.parametrize("name", ["cummax", "cummin"])
def test_cummax_cummin_named_tuple_0d_and_empty(name):
    torch = torch_or_skip()
    r = getattr(cgrad.tensor([2.0, 1.0, 3.0]), name)(0)
    assert type(r).__name__ == name and r.values is r[0] and r.indices is r[1]
    assert repr(r).startswith(f"cgrad.return_types.{name}(")
    for data, dim in [(2.5, 0), (2.5, -1), ([[1.5, -2.0]], 0), ([[]], 1), ([[]], 0)]:
        x = cgrad.tensor(data, requires_grad=True)
        t = torch.tensor(data, requires_grad=True)
        ours, theirs = getattr(x, name)(dim), getattr(t, name)(dim)
        assert ours.values.grad_fn.name() == theirs.values.grad_fn.name()
        same_values(ours.values, theirs.values)
        same_values(ours.indices, theirs.indices)
        ours.values.sum().backward()
        theirs.values.sum().backward()
        same_values(x.grad, t.grad)


@pytest.mark.parametrize("name", ["cummax", "cummin"])
@pytest.mark.parametrize("data,dim", [([[1.0, 2.0]], 2), ([[1.0, 2.0]], -3), (1.0, 1), (1.0, -2)])
def test_cummax_cummin_errors(name, data, dim):
    assert_same_error(lambda lib: getattr(lib, name)(lib.tensor(data), dim))


@pytest.mark.parametrize("name", ["cummax", "cummin"])
@pytest.mark.parametrize("dim", [1.0, None])
def test_cummax_cummin_dim_must_be_an_int(name, dim):
    for lib in (cgrad, torch_or_skip()):
        with pytest.raises(TypeError):
            getattr(lib, name)(lib.ones(2, 3), dim)



# ---------------------------------------------------------------- logcumsumexp

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,dim", CUM_SHAPES)
def test_logcumsumexp_values_and_gradient(shape, dim, dtype):
    check_op(lambda lib, x: lib.logcumsumexp(x, dim), shape, dtype=dtype,
             np_fn=lambda a: np.logaddexp.accumulate(a, axis=dim))


def test_logcumsumexp_noncontiguous_method_form():
    check_op(lambda lib, x: x.logcumsumexp(dim=0), (4, 5), noncontig=True)


@pytest.mark.parametrize("dtype", DTYPES)
def test_logcumsumexp_values_are_bit_identical_to_torch(dtype):
    torch = torch_or_skip()
    a = np.random.default_rng(4).standard_normal((9, 30)) * 30
    inf = float("inf")
    special = np.array([[-inf, -inf, 1.0, inf, 2.0, NAN, 3.0], [NAN, 1.0, -inf, 0.5, inf, inf, -inf],
                        [-inf, -inf, -inf, -inf, 700.0, 710.0, -710.0]])
    for data in (a, special):
        for dim in (0, 1, -1):
            same_values(cgrad.logcumsumexp(cgrad.tensor(data, dtype=getattr(cgrad, dtype)), dim),
                        torch.logcumsumexp(torch.tensor(data, dtype=getattr(torch, dtype)), dim))


@pytest.mark.parametrize("dtype", DTYPES)
def test_logcumsumexp_gradient_of_large_and_infinite_inputs_matches_torch(dtype):
    data = np.array([[800.0, -800.0, 805.0, 3.0, 2.5], [-np.inf, -np.inf, 1.0, 2.0, -np.inf],
                     [0.0, 0.0, 0.0, 0.0, 0.0]])
    for dim in (0, 1):
        assert_grads_match_torch(lambda lib, x: lib.logcumsumexp(x, dim), data, dtype=dtype)


def test_logcumsumexp_second_derivative_matches_torch():
    data = np.random.default_rng(6).standard_normal((3, 5))
    assert_grads_match_torch(lambda lib, x: lib.logcumsumexp(x, 1), data, second_order=True)


def test_logcumsumexp_grad_fn_0d_and_empty():
    torch = torch_or_skip()
    for data, dim in [(2.5, 0), (-1.5, -1), ([[1.5, -2.0]], 0), ([[]], 1), ([[]], 0)]:
        x = cgrad.tensor(data, requires_grad=True)
        t = torch.tensor(data, requires_grad=True)
        ours, theirs = x.logcumsumexp(dim), t.logcumsumexp(dim)
        assert ours.grad_fn.name() == theirs.grad_fn.name() == "LogcumsumexpBackward0"
        same_values(ours, theirs)
        ours.sum().backward()
        theirs.sum().backward()
        same_values(x.grad, t.grad)


@pytest.mark.parametrize("call", [
    lambda lib: lib.logcumsumexp(lib.tensor([1, 2]), 0),
    lambda lib: lib.logcumsumexp(lib.tensor([True, False]), 0),
    lambda lib: lib.logcumsumexp(lib.ones(2, 3), 2),
    lambda lib: lib.logcumsumexp(lib.ones(2, 3), -3),
    lambda lib: lib.logcumsumexp(lib.tensor(1.0), 1),
])
def test_logcumsumexp_errors(call):
    assert_same_error(call)



# ---------------------------------------------------------------- kthvalue, median, mode

def check_selection(call, data, dim, keepdim, dtype="float64", index_as_torch=False):
    """call(lib, x) -> (values, indices) along dim: values (and dtypes, shapes)
    bit-identical to torch's; each index points at an element equal to its value
    (torch's choice among equal values is its own), or is torch's index."""
    torch = torch_or_skip()
    x = cgrad.tensor(data).to(getattr(cgrad, dtype))
    ours, theirs = call(cgrad, x), call(torch, torch.tensor(data).to(getattr(torch, dtype)))
    same_values(ours.values, theirs.values)
    assert ours.indices.dtype == cgrad.int64 and tuple(ours.indices.shape) == tuple(theirs.indices.shape)
    if index_as_torch:
        same_values(ours.indices, theirs.indices)
    if x.dim() == 0:
        assert ours.indices.item() == 0
        return ours
    index = ours.indices if keepdim else ours.indices.unsqueeze(dim)
    picked = x.gather(dim, index)
    picked = picked if keepdim else picked.squeeze(dim)
    np.testing.assert_array_equal(np_of(picked), np_of(ours.values))
    return ours


def selection_data(seed=0):
    """(distinct values, many ties, ties with NaNs), each (4, 7)."""
    rng = np.random.default_rng(seed)
    distinct = rng.standard_normal((4, 7))
    ties = rng.integers(-2, 3, (4, 7)).astype(np.float64)
    nans = ties.copy()
    nans[0, 1] = nans[0, 4] = nans[1, 6] = nans[2, 0] = NAN
    nans[3, :] = NAN
    return distinct, ties, nans


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,k,dim,keepdim", [
    ((7,), 3, 0, False), ((4, 5), 1, 1, False), ((4, 5), 5, -1, True), ((4, 5), 2, 0, False),
    ((2, 3, 4), 2, -2, True), ((2, 3, 4), 4, 2, False),
])
def test_kthvalue_values_and_gradient(shape, k, dim, keepdim, dtype):
    def np_kth(a):
        r = np.take(np.sort(a, axis=dim), [k - 1], axis=dim)
        return r if keepdim else r.squeeze(dim)

    check_op(lambda lib, x: lib.kthvalue(x, k, dim, keepdim).values, shape, dtype=dtype, np_fn=np_kth)


def test_kthvalue_noncontiguous_method_form_and_keywords():
    check_op(lambda lib, x: x.kthvalue(k=2, dim=0, keepdim=True)[0], (4, 5), noncontig=True)


@pytest.mark.parametrize("dtype", ["float64", "float32", "int64"])
def test_kthvalue_indices_ties_and_nans(dtype):
    distinct, ties, nans = selection_data()
    cases = [distinct, ties, nans] if dtype != "int64" else [ties]
    for data in cases:
        for dim, n in ((1, 7), (0, 4), (-1, 7)):
            for k in range(1, n + 1):
                for keepdim in (False, True):
                    check_selection(lambda lib, x: lib.kthvalue(x, k, dim, keepdim), data, dim, keepdim, dtype,
                                    index_as_torch=data is distinct)


def test_kthvalue_counts_nan_as_the_largest():
    r = cgrad.kthvalue(cgrad.tensor([1.0, NAN, 2.0, NAN, 0.0]), 4)
    assert np.isnan(r.values.item()) and r.indices.item() in (1, 3)
    r = cgrad.kthvalue(cgrad.tensor([1.0, NAN, 2.0, NAN, 0.0]), 3)
    assert r.values.item() == 2.0 and r.indices.item() == 2



@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(7,), (4, 6), (2, 3, 5)])
def test_median_of_all_values_and_gradient(shape, dtype):
    check_op(lambda lib, x: lib.median(x), shape, dtype=dtype,
             np_fn=lambda a: np.sort(a, axis=None)[(a.size - 1) // 2])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,dim,keepdim", [((7,), 0, False), ((4, 6), 1, False), ((4, 6), -1, True),
                                               ((4, 5), 0, False), ((2, 3, 5), -2, True)])
def test_median_along_dim_values_and_gradient(shape, dim, keepdim, dtype):
    def np_median(a):
        r = np.take(np.sort(a, axis=dim), [(a.shape[dim] - 1) // 2], axis=dim)
        return r if keepdim else r.squeeze(dim)

    check_op(lambda lib, x: lib.median(x, dim, keepdim).values, shape, dtype=dtype, np_fn=np_median)


def test_median_noncontiguous_method_forms():
    check_op(lambda lib, x: x.median(dim=0, keepdim=True)[0] + x.median(), (4, 5), noncontig=True)


@pytest.mark.parametrize("dtype", ["float64", "float32", "int64"])
def test_median_takes_the_lower_middle_value_and_propagates_nan(dtype):
    torch = torch_or_skip()
    distinct, ties, nans = selection_data(3)
    cases = [distinct, ties, nans, distinct[:, :6], ties[:, :6]] if dtype != "int64" else [ties, ties[:, :6]]
    for data in cases:
        for dim in (0, 1, -1):
            for keepdim in (False, True):
                check_selection(lambda lib, x: lib.median(x, dim, keepdim), data, dim, keepdim, dtype,
                                index_as_torch=data is distinct)
        for part in (data, data[:2, :3], data[3]):
            same_values(cgrad.median(cgrad.tensor(part).to(getattr(cgrad, dtype))),
                        torch.median(torch.tensor(part).to(getattr(torch, dtype))))


def test_median_with_nan_gives_the_first_nan_position():
    r = cgrad.tensor([[1.0, NAN, 2.0, NAN, 0.0], [3.0, 1.0, 2.0, 0.0, NAN]]).median(1)
    assert np.isnan(np_of(r.values)).all() and r.indices.tolist() == [1, 4]


@pytest.mark.parametrize("data", [[[1.0, 2.0], [2.0, 2.0]], [[1.0, NAN], [NAN, 2.0]], [[3.0, 1.0, 2.0, 5.0]],
                                  [[1.0, 1.0, 1.0]]])
def test_median_of_all_shares_the_gradient_among_equal_values_as_torch(data):
    torch = torch_or_skip()
    assert_grads_match_torch(lambda lib, x: lib.median(x), data)
    x = cgrad.tensor(data, requires_grad=True)
    assert x.median().grad_fn.name() == torch.tensor(data, requires_grad=True).median().grad_fn.name()


def test_median_of_all_0d_and_empty():
    torch = torch_or_skip()
    for data, dtype in [(2.5, "float64"), ([], "float32"), ([[]], "float64"), ([], "int64"), (7, "int64")]:
        same_values(cgrad.tensor(data).to(getattr(cgrad, dtype)).median(),
                    torch.tensor(data).to(getattr(torch, dtype)).median())
    x = cgrad.tensor(2.5, requires_grad=True)
    x.median().backward()
    assert x.grad.item() == 1.0


@pytest.mark.parametrize("call", [
    lambda lib: lib.median(lib.tensor([True, False])),
    lambda lib: lib.median(lib.tensor([True, False]), 0),
    lambda lib: lib.median(lib.ones(3, 4), 2),
    lambda lib: lib.median(lib.ones(3, 4), -3),
    lambda lib: lib.median(lib.tensor(1.0), 1),
    lambda lib: lib.median(lib.zeros(0, 3), 0),
    lambda lib: lib.mode(lib.ones(3, 4), 2),
    lambda lib: lib.mode(lib.tensor(1.0), 1),
    lambda lib: lib.mode(lib.zeros(0, 3), 0),
])
def test_median_mode_errors(call):
    assert_same_error(call)


@pytest.mark.parametrize("call", [
    lambda lib: lib.median(lib.ones(2, 3), None),
    lambda lib: lib.median(lib.ones(2, 3), keepdim=True),
    lambda lib: lib.median(lib.ones(2, 3), 1.0),
    lambda lib: lib.mode(lib.ones(2, 3), None),
])
def test_median_mode_argument_types(call):
    for lib in (cgrad, torch_or_skip()):
        with pytest.raises(TypeError):
            call(lib)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,dim,keepdim", [((7,), 0, False), ((4, 6), 1, True), ((4, 5), 0, False),
                                               ((2, 3, 5), -1, False)])
def test_mode_values_and_gradient(shape, dim, keepdim, dtype):
    # distinct values: the mode is the smallest, found once
    def np_mode(a):
        r = np.min(a, axis=dim, keepdims=True)
        return r if keepdim else r.squeeze(dim)

    check_op(lambda lib, x: lib.mode(x, dim, keepdim).values, shape, dtype=dtype, np_fn=np_mode)


@pytest.mark.parametrize("dtype", ["float64", "float32", "int64", "bool"])
def test_mode_picks_the_smallest_most_frequent_value_at_its_last_position(dtype):
    # torch sorts slices of up to 16 elements stably, so its index among equal
    # values is the last one there too; for longer slices only the value is compared
    rng = np.random.default_rng(7)
    for n in (1, 2, 5, 9, 16, 40):
        data = rng.integers(0, 2 if dtype == "bool" else 4, (3, n)).astype(np.float64)
        for dim, keepdim in ((1, False), (-1, True)):
            check_selection(lambda lib, x: lib.mode(x, dim, keepdim), data, dim, keepdim, dtype,
                            index_as_torch=n <= 16)
        if n <= 16:
            check_selection(lambda lib, x: lib.mode(x, 0), data, 0, False, dtype, index_as_torch=True)
    r = cgrad.mode(cgrad.tensor([2.0, 1.0, 2.0, 3.0, 1.0, 2.0, 1.0]))
    assert r.values.item() == 1.0 and r.indices.item() == 6


def test_mode_counts_each_nan_once():
    # a NaN equals nothing, so two NaNs are no run; where torch puts a NaN among
    # the sorted values is up to its unstable sort, so only numbers are compared
    torch = torch_or_skip()
    data = [[1.0, NAN, 2.0, NAN, 0.0]]
    ours, theirs = cgrad.tensor(data).mode(1), torch.tensor(data).mode(1)
    same_values(ours.values, theirs.values)
    same_values(ours.indices, theirs.indices)
    r = cgrad.tensor([NAN, 3.0, NAN, 1.0, 4.0, NAN]).mode()
    assert r.values.item() == 1.0 and r.indices.item() == 3


@pytest.mark.parametrize("name,call", [
    ("kthvalue", lambda lib, x: lib.kthvalue(x, 3, 1)),
    ("median", lambda lib, x: lib.median(x, 1)),
    ("mode", lambda lib, x: lib.mode(x, 1)),
])
def test_selection_gradient_goes_to_the_chosen_index(name, call):
    torch = torch_or_skip()
    distinct, ties, nans = selection_data(2)
    assert_grads_match_torch(call, distinct)
    for data in (ties, nans):
        x = cgrad.tensor(data, requires_grad=True)
        r = call(cgrad, x)
        assert r.values.grad_fn.name() == call(torch, torch.tensor(data, requires_grad=True)).values.grad_fn.name()
        g = np.arange(1.0, 5.0)
        r.values.backward(cgrad.tensor(g))
        expected = np.zeros(data.shape)
        expected[np.arange(4), np_of(r.indices)] = g
        np.testing.assert_array_equal(np_of(x.grad), expected)


@pytest.mark.parametrize("name", ["kthvalue", "median", "mode"])
def test_selection_0d_and_empty(name):
    torch = torch_or_skip()

    def call(lib, x, dim, keepdim=False):
        return lib.kthvalue(x, 1, dim, keepdim) if name == "kthvalue" else getattr(lib, name)(x, dim, keepdim)

    for data, dim, keepdim in [(2.5, 0, False), (2.5, -1, True), ([[]], 0, False), ([[]], 0, True),
                               ([[1.5, -2.0]], 0, False)]:
        x = cgrad.tensor(data, requires_grad=True)
        t = torch.tensor(data, requires_grad=True)
        ours, theirs = call(cgrad, x, dim, keepdim), call(torch, t, dim, keepdim)
        assert type(ours).__name__ == name and repr(ours).startswith(f"cgrad.return_types.{name}(")
        assert ours.values.grad_fn.name() == theirs.values.grad_fn.name()
        same_values(ours.values, theirs.values)
        same_values(ours.indices, theirs.indices)
        ours.values.sum().backward()
        theirs.values.sum().backward()
        same_values(x.grad, t.grad)


@pytest.mark.parametrize("call", [
    lambda lib: lib.kthvalue(lib.ones(3, 4), 0),
    lambda lib: lib.kthvalue(lib.ones(3, 4), 5),
    lambda lib: lib.kthvalue(lib.ones(3, 4), 4, 0),
    lambda lib: lib.kthvalue(lib.ones(3, 4), 1, 2),
    lambda lib: lib.kthvalue(lib.ones(3, 4), 1, -3),
    lambda lib: lib.kthvalue(lib.tensor(1.0), 2),
    lambda lib: lib.kthvalue(lib.tensor(1.0), 1, 1),
    lambda lib: lib.kthvalue(lib.zeros(0, 3), 1, 0),
    lambda lib: lib.kthvalue(lib.zeros(0, 3), 0, 1),
    lambda lib: lib.kthvalue(lib.tensor([True, False]), 1),
])
def test_kthvalue_errors(call):
    assert_same_error(call)


@pytest.mark.parametrize("k", [1.0, True, None])
def test_kthvalue_k_must_be_an_int(k):
    for lib in (cgrad, torch_or_skip()):
        with pytest.raises(TypeError):
            lib.kthvalue(lib.ones(2, 3), k)


# ---------------------------------------------------------------- inside cgrad.compile

def scan_select_loss(params, x):
    h = x * params[0]
    loss = h.cumprod(1).sum() + h.cummax(1).values.sum() * 0.5 - h.cummin(0)[0].sum()
    loss = loss + h.logcumsumexp(1).sum() * 0.25 + h.kthvalue(2, 1).values.sum()
    return loss + h.median() - h.median(0).values.sum() + h.round().mode(1)[0].sum()


def test_compiled_step_is_bit_identical_to_eager():
    def params():
        return [cgrad.tensor([[0.9, -1.1, 1.2, 0.0, 0.8, 1.05]], dtype=cgrad.float64, requires_grad=True)]

    rng = np.random.default_rng(5)
    batches = [(cgrad.tensor(rng.uniform(-1.5, 1.5, (4, 6))),) for _ in range(6)]
    batches[3][0][1, 2] = 0.0  # a zero on one replay only
    compiled = run_twins(sgd_step(scan_select_loss), params(), params(), batches)
    assert compiled._cgrad_step.replays >= 3
