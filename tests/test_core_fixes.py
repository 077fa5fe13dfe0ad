"""Regression tests for bugs found in the core while testing autograd."""
import numpy as np
import pytest

import cgrad


@pytest.mark.parametrize("data", [1.1, [1.1, 2.2], [[0.1], [1e-8]]], ids=str)
def test_tensor_with_float64_dtype_keeps_python_float_precision(data):
    t = cgrad.tensor(data, dtype=cgrad.float64)
    assert t.dtype == cgrad.float64
    np.testing.assert_array_equal(t.numpy(), np.asarray(data, dtype=np.float64))


def test_tensor_dtype_rules_unchanged_without_dtype():
    assert cgrad.tensor(2.5).dtype == cgrad.float32
    assert cgrad.tensor([1.5]).dtype == cgrad.float32
    assert cgrad.tensor(3).dtype == cgrad.int64
    assert cgrad.tensor(True).dtype == cgrad.bool
    assert cgrad.tensor(3, dtype=cgrad.float64).dtype == cgrad.float64
    assert cgrad.tensor([True], dtype=cgrad.int64).dtype == cgrad.int64


def test_fill_is_named_as_in_pytorch():
    a = cgrad.ones(2, requires_grad=True)
    assert (a * 1).fill_(2.0).grad_fn.name() == "FillBackward2"  # fill_ with a number
