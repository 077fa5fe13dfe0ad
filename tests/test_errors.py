"""Errors PyTorch raises for the first slice: same exception type, and a message
containing the same key phrase."""
import operator
import re

import pytest

import cgrad
from helpers import assert_same_error


def raises(phrase, exc=RuntimeError):
    return pytest.raises(exc, match=re.escape(phrase))


# ---------------------------------------------------------------- in-place on a leaf

LEAF_INPLACE = {
    "+=": lambda t: operator.iadd(t, 1.0),
    "-=": lambda t: operator.isub(t, 1.0),
    "*=": lambda t: operator.imul(t, 2.0),
    "/=": lambda t: operator.itruediv(t, 2.0),
    "zero_()": lambda t: t.zero_(),
}


@pytest.mark.parametrize("op", LEAF_INPLACE)
def test_inplace_on_leaf_that_requires_grad(op):
    x = cgrad.tensor([1.0, 2.0], requires_grad=True)
    with raises("a leaf Variable that requires grad is being used in an in-place operation"):
        LEAF_INPLACE[op](x)


@pytest.mark.parametrize("op", LEAF_INPLACE)
def test_failed_inplace_on_leaf_leaves_values_unchanged(op):
    x = cgrad.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError):
        LEAF_INPLACE[op](x)
    assert x.tolist() == [1.0, 2.0]


# ---------------------------------------------------------------- backward

@pytest.mark.parametrize("shape", [(2,), (2, 3)], ids=str)
def test_backward_on_non_scalar_without_gradient(shape):
    y = cgrad.ones(shape, requires_grad=True) * 2
    with raises("grad can be implicitly created only for scalar outputs"):
        y.backward()


def test_backward_with_gradient_of_wrong_shape():
    y = cgrad.ones(2, requires_grad=True) * 2
    with raises("Mismatch in shape"):
        y.backward(cgrad.ones(3))


def test_backward_on_tensor_that_does_not_require_grad():
    with raises("element 0 of tensors does not require grad and does not have a grad_fn"):
        (cgrad.ones(2) * 2).sum().backward()


# ops whose backward needs a saved tensor: a second backward must fail once it is freed
SAVING_OPS = {
    "mul": lambda x: x * x,
    "div": lambda x: 1.0 + x / (x + 3.0),
    "pow": lambda x: x ** 2,
    "exp": lambda x: x.exp(),
    "log": lambda x: x.log(),
    "tanh": lambda x: x.tanh(),
    "sigmoid": lambda x: x.sigmoid(),
    "relu": lambda x: x.relu(),
    "matmul": lambda x: x.reshape(1, 2) @ x.reshape(2, 1),
}


@pytest.mark.parametrize("op", SAVING_OPS)
def test_backward_through_freed_graph(op):
    x = cgrad.tensor([1.0, 2.0], requires_grad=True)
    loss = SAVING_OPS[op](x).sum()
    loss.backward()
    with raises("Trying to backward through the graph a second time"):
        loss.backward()


def test_second_backward_through_graph_without_saved_tensors_is_allowed():
    x = cgrad.tensor([1.0, 2.0], requires_grad=True)
    loss = (x + 1).sum()
    loss.backward()
    loss.backward()
    assert x.grad.tolist() == [2.0, 2.0]


# ---------------------------------------------------------------- saved tensor modified in place

# fn(a, x) saves a (an input of the op) for backward; a is then modified in place
SAVED_INPUT = {
    "mul": lambda a, x: a * x,
    "div denominator": lambda a, x: x / a,
    "pow": lambda a, x: a ** 2,
    "log": lambda a, x: a.log(),
    "matmul": lambda a, x: a @ x,
}

# op(x) saves its own output for backward; the output is then modified in place
SAVED_OUTPUT = {
    "exp": lambda x: x.exp(),
    "tanh": lambda x: x.tanh(),
    "sigmoid": lambda x: x.sigmoid(),
    "relu": lambda x: x.relu(),
}

MODIFIED = "one of the variables needed for gradient computation has been modified by an inplace operation"


@pytest.mark.parametrize("op", SAVED_INPUT)
def test_saved_input_modified_in_place(op):
    x = cgrad.tensor([1.0, 2.0], requires_grad=True)
    a = x * 1
    out = SAVED_INPUT[op](a, x)
    a += 1
    with raises(MODIFIED):
        out.sum().backward()


@pytest.mark.parametrize("op", SAVED_OUTPUT)
def test_saved_output_modified_in_place(op):
    x = cgrad.tensor([1.0, 2.0], requires_grad=True)
    y = SAVED_OUTPUT[op](x)
    y *= 2
    with raises(MODIFIED):
        y.sum().backward()


def test_input_not_saved_may_be_modified_in_place():
    x = cgrad.tensor([1.0, 2.0], requires_grad=True)
    a = x * 1
    out = a + 1
    a += 1
    out.sum().backward()
    assert x.grad.tolist() == [1.0, 1.0]


# ---------------------------------------------------------------- broadcasting

@pytest.mark.parametrize("shapes, phrase", [
    (((2, 3), (2, 4)), "The size of tensor a (3) must match the size of tensor b (4) at non-singleton dimension 1"),
    (((4,), (2, 3)), "The size of tensor a (4) must match the size of tensor b (3) at non-singleton dimension 1"),
    (((3, 2), (4, 2)), "The size of tensor a (3) must match the size of tensor b (4) at non-singleton dimension 0"),
], ids=["(2,3)+(2,4)", "(4,)+(2,3)", "(3,2)+(4,2)"])
def test_broadcast_mismatch_names_both_sizes(shapes, phrase):
    a, b = (cgrad.ones(s) for s in shapes)
    with raises(phrase):
        a + b


@pytest.mark.parametrize("op", [operator.add, operator.sub, operator.mul, operator.truediv, operator.pow],
                         ids=["add", "sub", "mul", "div", "pow"])
def test_broadcast_mismatch_in_each_binary_op(op):
    with raises("The size of tensor a (3) must match the size of tensor b (4) at non-singleton dimension 1"):
        op(cgrad.ones(2, 3), cgrad.ones(2, 4))


def test_inplace_result_cannot_be_broadcast_to_a_larger_shape():
    t = cgrad.ones(3)
    with raises("output with shape [3] doesn't match the broadcast shape [2, 3]"):
        t += cgrad.ones(2, 3)


# ---------------------------------------------------------------- matmul

@pytest.mark.parametrize("shapes, phrase", [
    (((2, 3), (4, 5)), "mat1 and mat2 shapes cannot be multiplied (2x3 and 4x5)"),
    (((3,), (4, 5)), "mat1 and mat2 shapes cannot be multiplied (1x3 and 4x5)"),
    (((2, 2, 3), (4, 5)), "shapes cannot be multiplied"),
    (((2, 3), (4,)), "size mismatch, got input (2), mat (2x3), vec (4)"),
    (((3,), (4,)), "inconsistent tensor size"),
    (((2, 2, 3), (2, 4, 5)), "Expected size for first two dimensions of batch2 tensor to be: [2, 3] but got: [2, 4]"),
    (((), (3,)), "both arguments to matmul need to be at least 1D"),
], ids=["2-D@2-D", "1-D@2-D", "3-D@2-D", "2-D@1-D", "1-D@1-D", "3-D@3-D", "0-D@1-D"])
def test_matmul_shape_mismatch(shapes, phrase):
    a, b = (cgrad.ones(s) for s in shapes)
    with raises(phrase):
        a @ b


# ---------------------------------------------------------------- requires_grad on integer tensors

INT_REQUIRES_GRAD = {
    "tensor(int list)": lambda: cgrad.tensor([1, 2], requires_grad=True),
    "tensor(bool list)": lambda: cgrad.tensor([True], requires_grad=True),
    "zeros(dtype=int64)": lambda: cgrad.zeros(3, dtype=cgrad.int64, requires_grad=True),
    "requires_grad_()": lambda: cgrad.tensor([1, 2]).requires_grad_(),
    "requires_grad = True": lambda: setattr(cgrad.tensor([1, 2]), "requires_grad", True),
}


@pytest.mark.parametrize("case", INT_REQUIRES_GRAD)
def test_integer_tensor_cannot_require_grad(case):
    # torch words this "Only Tensors of floating point and complex dtype can require
    # gradients", or for requires_grad_() "only Tensors of floating point dtype ..."
    with pytest.raises(RuntimeError, match=r"(?i)only tensors of floating point (and complex )?dtype can require gradients"):
        INT_REQUIRES_GRAD[case]()


# ---------------------------------------------------------------- other errors of the slice

def test_requires_grad_cannot_be_changed_on_non_leaf():
    y = cgrad.ones(2, requires_grad=True) * 2
    with raises("you can only change requires_grad flags of leaf variables"):
        y.requires_grad = False


def test_view_of_non_contiguous_tensor():
    with raises("view size is not compatible with input tensor's size and stride"):
        cgrad.ones(3, 4).transpose(0, 1).view(12)


@pytest.mark.parametrize("method", ["reshape", "view"])
def test_reshape_to_wrong_number_of_elements(method):
    with raises("shape '[5]' is invalid for input of size 6"):
        getattr(cgrad.ones(2, 3), method)(5)


def test_item_of_several_elements():
    with raises("a Tensor with 2 elements cannot be converted to Scalar"):
        cgrad.ones(2).item()


def test_numpy_of_tensor_that_requires_grad():
    with raises("Can't call numpy() on Tensor that requires grad"):
        cgrad.ones(2, requires_grad=True).numpy()


@pytest.mark.parametrize("expression", ["m.tensor(1.0).size(0)", "m.tensor(1.0).size(-1)", "m.ones(2, 3).size(2)",
                                        "m.ones(2, 3).size(-3)"])
def test_size_of_a_dim_that_does_not_exist(expression):
    assert_same_error(lambda m: eval(expression, {"m": m}))


@pytest.mark.parametrize("shape, target", [((2, 3), (4, 3, 4)), ((2, 3, 1), (3, 5, 1)), ((2, 3), (2, 4)),
                                           ((3,), (-1, 4)), ((3,), (-1, 3))])
def test_expand_names_the_last_mismatching_dim_as_torch(shape, target):
    assert_same_error(lambda m: m.ones(*shape).expand(*target))
