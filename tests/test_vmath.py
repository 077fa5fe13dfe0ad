"""exp, log, tanh and sigmoid are vectorised in C: check their accuracy in ulps
against numpy's libm over wide ranges and at every special value."""
import numpy as np
import pytest

import cgrad

RANGES = {
    "exp": [(-5, 5), (-100, 88), (-740, 709)],
    "log": [(0.5, 2.0), (1e-30, 1e30), (1e-300, 1e300)],
    "tanh": [(-0.6, 0.6), (-1e-4, 1e-4), (-20, 20)],
    "sigmoid": [(-30, 30), (-1, 1)],
}
REFERENCE = {"exp": np.exp, "log": np.log, "tanh": np.tanh, "sigmoid": lambda x: 1 / (1 + np.exp(-x))}
MAX_ULP = {"float32": 3.0, "float64": 3.0}


def _sample(name, low, high, dtype, n=200_000):
    rng = np.random.default_rng(0)
    if name == "log":
        x = np.exp(rng.uniform(np.log(low), np.log(high), n))
    else:
        x = rng.uniform(low, high, n)
    finfo = np.finfo(dtype)
    return np.clip(x, -float(finfo.max), float(finfo.max)).astype(dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(RANGES))
def test_accuracy_in_ulps(name, dtype):
    for low, high in RANGES[name]:
        x = _sample(name, low, high, dtype)
        got = getattr(cgrad.from_numpy(x), name)().numpy().astype(np.float64)
        with np.errstate(all="ignore"):
            ref = REFERENCE[name](x.astype(np.float64 if dtype == "float32" else np.longdouble)).astype(np.float64)
            ref_rounded = ref.astype(dtype)
        finite = np.isfinite(ref_rounded) & (ref_rounded != 0)
        ulp = np.spacing(np.abs(ref_rounded[finite])).astype(np.float64)
        worst = np.max(np.abs(got[finite] - ref[finite]) / ulp)
        assert worst <= MAX_ULP[dtype], f"{name} {dtype} on [{low}, {high}]: {worst:.2f} ulp"
        assert np.array_equal(got[~finite], ref_rounded[~finite].astype(np.float64))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(RANGES))
def test_special_values(name, dtype):
    special = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-40, -1e-40, 1e-310, 1.0, -1.0, 88.8, -104.0,
                        709.8, -745.2, 20.0, -20.0, 1e-8, -1e-8], dtype=dtype)
    got = getattr(cgrad.from_numpy(special), name)().numpy()
    with np.errstate(all="ignore"):
        ref = REFERENCE[name](special.astype(np.float64)).astype(dtype)
        same = (got == ref) | (np.isnan(got) & np.isnan(ref)) | (np.abs(got - ref) <= 3 * np.spacing(np.abs(ref)))
    assert same.all(), f"{name} {dtype}: inputs {special[~same]} gave {got[~same]}, expected {ref[~same]}"


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_tanh_keeps_the_sign_of_zero(dtype):
    got = cgrad.from_numpy(np.array([-0.0, 0.0], dtype=dtype)).tanh().numpy()
    assert list(np.signbit(got)) == [True, False]


def test_strided_and_contiguous_give_the_same_values():
    x = cgrad.randn(64, 64, dtype=cgrad.float64)
    for name in RANGES:
        a = getattr(x.T, name)().numpy()
        b = getattr(x.T.contiguous(), name)().numpy()
        np.testing.assert_array_equal(a, b)
