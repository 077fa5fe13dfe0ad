"""cgrad against torch on corners of shapes, Size, cholesky_inverse's gradient and a few Tensor methods:
flatten / unflatten / reshape / view of tensors with a zero dim, what Size accepts and converts,
cholesky_inverse differentiated in the whole factor (and MultivariateNormal.precision_matrix through it),
Tensor.angle, the removed solvers as methods, and conj_physical_ as an in-place op."""
import math

import numpy as np
import pytest

import cgrad

torch = pytest.importorskip("torch")

LIBS = (torch, cgrad)


def outcome(fn, lib):
    """What fn(lib) gives, comparable across libraries: a tensor's shape and values (its grad_fn's name too), a
    Size's entries with their types, other values as they are, or an error's type and message. torch's messages
    carry a C++ trace after 'Exception raised from', and name torch.Size where cgrad names cgrad.Size."""
    try:
        r = fn(lib)
    except Exception as e:  # noqa: BLE001 -- the error is what is compared
        message = str(e).split("\nException raised from")[0].replace("torch.Size", "cgrad.Size")
        return type(e).__name__, message
    if isinstance(r, lib.Tensor):
        node = r.grad_fn.name() if r.grad_fn is not None else None
        values = ["nan" if v != v else v for v in r.detach().numpy().reshape(-1).tolist()]
        return "tensor", tuple(r.shape), str(r.dtype).split(".")[-1], values, node
    if isinstance(r, lib.Size):
        return "Size", tuple((type(v).__name__, int(v)) for v in r)
    return r


def assert_like_torch(fn):
    ours, theirs = outcome(fn, cgrad), outcome(fn, torch)
    assert ours == theirs


def arange(lib, *shape):
    n = math.prod(shape)
    return lib.arange(float(n)).reshape(shape) if n else lib.zeros(shape)


# ---- flatten / unflatten / reshape / view with a zero dim ---------------------------------------------------------

EMPTY_SHAPES = [(0,), (0, 3), (3, 0), (0, 3, 3), (2, 0, 3), (2, 3, 0), (0, 0, 2), (1, 0, 1, 4)]
FLATTEN_ARGS = [(), (0,), (1,), (-1,), (-2,), (0, 1), (1, 2), (0, -1), (-2, -1), (2, 1), (0, 3), (-5,)]


@pytest.mark.parametrize("shape", EMPTY_SHAPES + [(2, 3, 4)], ids=str)
@pytest.mark.parametrize("args", FLATTEN_ARGS, ids=str)
def test_flatten_like_torch(shape, args):
    assert_like_torch(lambda lib: arange(lib, *shape).flatten(*args))
    assert_like_torch(lambda lib: lib.flatten(arange(lib, *shape), *args))


def test_flatten_of_the_reported_shape():
    assert tuple(cgrad.zeros(0, 3, 3).flatten(-2).shape) == (0, 9)


@pytest.mark.parametrize("args", [(), (0,), (-1,), (1,), (-2,), (0, 0), (-1, 0), (0, 1)], ids=str)
def test_flatten_of_a_0d_tensor(args):
    assert_like_torch(lambda lib: lib.tensor(3.0).flatten(*args))


@pytest.mark.parametrize("call", [
    lambda lib: lib.zeros(2, 3).flatten(0.0),
    lambda lib: lib.zeros(2, 3).flatten(0, 1.0),
    lambda lib: lib.zeros(2, 3).flatten(True),
    lambda lib: lib.flatten(lib.zeros(2, 3), 0.0),
    lambda lib: lib.flatten(lib.zeros(2, 3), 0, 1.0),
    lambda lib: lib.zeros(2, 3).flatten(lib.tensor(0)),
    lambda lib: lib.zeros(2, 3).flatten(start_dim=1),
], ids=range(7))
def test_flatten_arguments(call):
    assert_like_torch(call)


def test_flatten_of_an_empty_tensor_is_differentiable():
    for lib in LIBS:
        x = lib.zeros(0, 3, 3, dtype=lib.float64, requires_grad=True)
        y = x.flatten(1)
        assert tuple(y.shape) == (0, 9)
        y.sum().backward()
        assert tuple(x.grad.shape) == (0, 3, 3)
    assert_like_torch(lambda lib: lib.zeros(0, 3, 3, requires_grad=True).flatten(-2))


UNFLATTEN_CASES = [
    ((0, 9), 1, (3, 3)), ((0, 9), 1, (-1, 3)), ((0, 9), 0, (-1, 3)), ((0, 9), 0, (0, -1)), ((0, 9), -1, (3, -1)),
    ((4, 0), 1, (2, -1)), ((4, 0), 1, (0, -1)), ((4, 0), 1, (-1, 0)), ((4, 0), 1, (5, 0)), ((0,), 0, (0, 5)),
    ((0,), 0, (-1,)), ((6,), 0, (2, 3)), ((6,), 0, (-1, 3)), ((6,), 0, (2, 2)), ((6,), 0, (-1, 4)),
    ((6,), 0, (0, -1)), ((6,), 0, (-1, -1)), ((6,), 0, (-1, -1, 5)), ((6,), 0, (-2, 3)), ((6,), 0, (-1, -2)),
    ((6,), 0, ()), ((6,), 5, ()), ((6,), 5, (2, 3)), ((6,), -2, (6,)), ((2, 6), -1, (4, 2)), ((2, 6), 1, [2, 3]),
    ((), 0, (1,)), ((), -1, (1, 1)), ((), 1, (1,)), ((6,), 0, (2.0, 3)), ((6,), 0, (True, 6)), ((6,), 0, 3),
    ((6,), 0.0, (6,)), ((6,), True, (6,)),
]


@pytest.mark.parametrize("shape, dim, sizes", UNFLATTEN_CASES, ids=str)
def test_unflatten_like_torch(shape, dim, sizes):
    assert_like_torch(lambda lib: arange(lib, *shape).unflatten(dim, sizes))
    assert_like_torch(lambda lib: lib.unflatten(arange(lib, *shape), dim, sizes))


def test_unflatten_sizes_given_as_tensors():
    assert_like_torch(lambda lib: lib.zeros(6).unflatten(0, (lib.tensor(2), 3)))
    assert_like_torch(lambda lib: lib.zeros(6).unflatten(0, (lib.tensor(2.0), 3)))
    assert_like_torch(lambda lib: lib.zeros(6).unflatten(lib.tensor(0), (2, 3)))
    assert_like_torch(lambda lib: lib.zeros(0, 9).unflatten(1, lib.Size([3, 3])))


def test_unflatten_of_an_empty_tensor_is_a_differentiable_view():
    assert_like_torch(lambda lib: lib.zeros(0, 9, requires_grad=True).unflatten(1, (-1, 3)))
    assert_like_torch(lambda lib: lib.zeros(6, requires_grad=True).unflatten(0, (2, -1)))


def test_nn_flatten_and_unflatten_of_empty_batches():
    assert_like_torch(lambda lib: lib.nn.Unflatten(1, (-1, 3))(lib.zeros(0, 9)))
    assert_like_torch(lambda lib: lib.nn.Flatten()(lib.zeros(0, 3, 3)))
    assert_like_torch(lambda lib: lib.nn.Flatten(0, 1)(lib.zeros(2, 3, 0)))


def pieces(result):
    return [(tuple(t.shape), t.grad_fn.name() if t.grad_fn is not None else None) for t in result]


@pytest.mark.parametrize("shape, dim", [((0, 3), 0), ((3, 0), 1), ((0,), 0), ((3, 0), 0), ((4, 3), 0), ((5,), -1)],
                         ids=str)
@pytest.mark.parametrize("chunks", [1, 2, 3, 5])
@pytest.mark.parametrize("method", ["chunk", "unsafe_chunk"])
def test_chunk_with_a_zero_dim_like_torch(shape, dim, chunks, method):
    assert_like_torch(lambda lib: pieces(getattr(lib.zeros(shape, requires_grad=True), method)(chunks, dim)))
    assert_like_torch(lambda lib: pieces(getattr(lib, method)(lib.zeros(shape), chunks, dim=dim)))


@pytest.mark.parametrize("call", [
    lambda lib: lib.tensor(1.0).chunk(2),
    lambda lib: lib.tensor(1.0).chunk(0),
    lambda lib: lib.zeros(4).chunk(0),
    lambda lib: lib.zeros(4).chunk(2.0),
    lambda lib: lib.zeros(4).chunk(True),
    lambda lib: lib.chunk(lib.zeros(4), 2.0),
    lambda lib: lib.zeros(4).chunk(2, 3),
    lambda lib: pieces(lib.zeros(4).chunk(lib.tensor(2))),
], ids=range(8))
def test_chunk_arguments_like_torch(call):
    assert_like_torch(call)


RESHAPE_CASES = [
    ((0, 9), (-1, 3)), ((0, 9), (0, -1)), ((0, 9), (3, -1)), ((0, 3), (-1,)), ((0, 3), (0, -1, 3)),
    ((0, 3), (-1, 0)), ((0, 3), (5, 0)), ((0, 3), (0,)), ((2, 3), (0,)), ((2, 3), (0, -1)), ((2, 3), (-1, -1)),
    ((2, 3), (-2, 3)), ((0,), (-1, -1)), ((0,), (0, -2)), ((2, 3), (3, -1)), ((2, 0, 3), (-1, 3)),
]


@pytest.mark.parametrize("shape, new", RESHAPE_CASES, ids=str)
@pytest.mark.parametrize("method", ["reshape", "view"])
def test_reshape_and_view_like_torch(shape, new, method):
    assert_like_torch(lambda lib: getattr(arange(lib, *shape), method)(*new))


# ---- Size ------------------------------------------------------------------------------------------------------------

SIZE_CASES = {
    "float": lambda lib: lib.Size((2.0,)),
    "float later": lambda lib: lib.Size((2, 3.5)),
    "0-d int tensor": lambda lib: lib.Size((lib.tensor(3),)),
    "1-element int tensor": lambda lib: lib.Size((lib.tensor([[3]]),)),
    "0-d float tensor": lambda lib: lib.Size((lib.tensor(3.0),)),
    "0-d bool tensor": lambda lib: lib.Size((lib.tensor(True),)),
    "2-element int tensor": lambda lib: lib.Size((lib.tensor([2, 3]),)),
    "empty int tensor": lambda lib: lib.Size((lib.tensor([], dtype=lib.int64),)),
    "float tensor that requires grad": lambda lib: lib.Size((lib.tensor(3.0, requires_grad=True),)),
    "int tensor as the iterable": lambda lib: lib.Size(lib.tensor([2, 3])),
    "0-d tensor as the iterable": lambda lib: lib.Size(lib.tensor(2)),
    "numpy ints": lambda lib: lib.Size((np.int64(4), np.int32(2), np.uint8(1))),
    "numpy array": lambda lib: lib.Size(np.array([2, 3])),
    "numpy float": lambda lib: lib.Size((np.float64(4),)),
    "numpy float array": lambda lib: lib.Size(np.array([2.0, 3.0])),
    "numpy bool": lambda lib: lib.Size((np.bool_(True),)),
    "bools": lambda lib: lib.Size((True, False, 2)),
    "int subclass": lambda lib: lib.Size((type("Int", (int,), {})(3),)),
    "float subclass": lambda lib: lib.Size((type("Float", (float,), {})(3.0),)),
    "__index__": lambda lib: lib.Size((type("Idx", (), {"__index__": lambda self: 4})(),)),
    "str": lambda lib: lib.Size(("a",)),
    "str as the iterable": lambda lib: lib.Size("ab"),
    "None": lambda lib: lib.Size((None,)),
    "int": lambda lib: lib.Size(3),
    "list": lambda lib: lib.Size([1, 2]),
    "generator": lambda lib: lib.Size(i for i in range(3)),
    "empty": lambda lib: lib.Size(()),
    "no argument": lambda lib: lib.Size(),
    "keyword": lambda lib: lib.Size(sizes=(2,)),
    "two arguments": lambda lib: lib.Size((2,), (3,)),
    "negative": lambda lib: lib.Size((-1, 2)),
    "huge": lambda lib: lib.Size((2 ** 70,)),
    "bytes": lambda lib: lib.Size(b"ab"),
    "a Size": lambda lib: lib.Size(lib.Size([2, 3])),
}


@pytest.mark.parametrize("name", list(SIZE_CASES))
def test_size_construction_like_torch(name):
    assert_like_torch(SIZE_CASES[name])


def test_size_rejects_a_float_with_torchs_message():
    with pytest.raises(TypeError) as info:
        cgrad.Size((2.0,))
    assert str(info.value) == "cgrad.Size() takes an iterable of 'int' (item 0 is 'float')"


def test_size_entries_keep_or_convert_their_type_as_torch():
    for lib in LIBS:
        s = lib.Size((lib.tensor(3), np.int64(4), True, 5))
        assert [type(v) for v in s] == [int, np.int64, int, int]
        assert s == (3, 4, 1, 5)


SIZE_OPS = {
    "add a tuple": lambda lib: lib.Size([2]) + (3,),
    "add to a tuple": lambda lib: (3,) + lib.Size([2]),
    "add a Size": lambda lib: lib.Size([3]) + lib.Size([2]),
    "add a float": lambda lib: lib.Size([2]) + (3.0,),
    "add a tensor": lambda lib: lib.Size([2]) + (lib.tensor(3),),
    "add a list": lambda lib: lib.Size([2]) + [3],
    "add an int": lambda lib: lib.Size([2]) + 3,
    "add None": lambda lib: lib.Size([2]) + None,
    "times an int": lambda lib: lib.Size([2, 1]) * 2,
    "int times": lambda lib: 2 * lib.Size([2]),
    "times a negative": lambda lib: lib.Size([2]) * -1,
    "times a numpy int": lambda lib: lib.Size([2]) * np.int64(2),
    "times a float": lambda lib: lib.Size([2]) * 2.0,
    "float times": lambda lib: 2.0 * lib.Size([2]),
    "times a str": lambda lib: lib.Size([2]) * "a",
    "index": lambda lib: lib.Size([2, 3])[-1],
    "tensor index": lambda lib: lib.Size([2, 3])[lib.tensor(1)],
    "index out of range": lambda lib: lib.Size([2, 3])[5],
    "slice": lambda lib: lib.Size([2, 3, 4])[1:],
    "step slice": lambda lib: lib.Size([2, 3, 4])[::2],
    "empty slice": lambda lib: lib.Size([2, 3])[:0],
    "slice of a shape": lambda lib: lib.zeros(2, 3, 4).shape[-2:],
    "string index": lambda lib: lib.Size([2, 3])["a"],
    "equals a tuple": lambda lib: lib.Size([2, 3]) == (2, 3),
    "equals a list": lambda lib: lib.Size([2, 3]) == [2, 3],
    "hash": lambda lib: hash(lib.Size([2, 3])) == hash((2, 3)),
    "numel": lambda lib: lib.Size([2, 3]).numel(),
    "count": lambda lib: lib.Size([2, 2]).count(2),
    "shape entries": lambda lib: type(lib.zeros(2, 3).shape[0]).__name__,
}


@pytest.mark.parametrize("name", list(SIZE_OPS))
def test_size_operations_like_torch(name):
    assert_like_torch(SIZE_OPS[name])


def test_size_pickles():
    import pickle
    s = pickle.loads(pickle.dumps(cgrad.Size([2, 3])))
    assert type(s) is cgrad.Size and s == (2, 3)


def test_size_in_place_add_stays_a_size():
    s = cgrad.Size([2])
    s += (3,)
    assert type(s) is cgrad.Size and s == (2, 3)


# ---- cholesky_inverse: the gradient in the whole factor ----------------------------------------------------------

def cholesky_factor(shape, upper, seed):
    """A well-conditioned Cholesky factor of the given (batched) shape, with junk off its triangle."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shape)
    lower = np.linalg.cholesky(a @ np.swapaxes(a, -1, -2) + shape[-1] * np.eye(shape[-1]))
    f = np.swapaxes(lower, -1, -2).copy() if upper else lower
    off = np.triu(np.ones(shape[-2:]), 1) if not upper else np.tril(np.ones(shape[-2:]), -1)
    return f + 0.3 * off * rng.standard_normal(shape)


def value_and_grad(lib, fn, factor, weights):
    x = lib.tensor(factor, requires_grad=True)
    out = fn(lib, x)
    (g,) = lib.autograd.grad((out * lib.tensor(weights)).sum(), x)
    return out.detach().numpy(), g.numpy(), out.grad_fn.name()


@pytest.mark.parametrize("shape", [(1, 1), (3, 3), (2, 4, 4), (2, 1, 3, 3)], ids=str)
@pytest.mark.parametrize("upper", [False, True])
def test_cholesky_inverse_gradient_like_torch(shape, upper):
    factor = cholesky_factor(shape, upper, seed=sum(shape))
    weights = np.random.default_rng(1).standard_normal(shape)
    fn = (lambda lib, x: lib.cholesky_inverse(x, upper=upper))
    ours, theirs = value_and_grad(cgrad, fn, factor, weights), value_and_grad(torch, fn, factor, weights)
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-9, atol=1e-11)
    assert ours[2] == theirs[2] == "CholeskyInverseBackward0"
    if shape[-1] > 1:  # the point: gradient also off the factor's triangle
        off = np.triu(np.ones(shape[-2:]), 1) if not upper else np.tril(np.ones(shape[-2:]), -1)
        assert np.abs(ours[1] * off).max() > 1e-3


@pytest.mark.parametrize("upper", [False, True])
def test_cholesky_inverse_method_gradient_like_torch(upper):
    factor = cholesky_factor((3, 3), upper, seed=4)
    weights = np.random.default_rng(2).standard_normal((3, 3))
    fn = (lambda lib, x: x.cholesky_inverse(upper))
    ours, theirs = value_and_grad(cgrad, fn, factor, weights), value_and_grad(torch, fn, factor, weights)
    np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("upper", [False, True])
def test_cholesky_inverse_second_order_like_torch(upper):
    factor = cholesky_factor((3, 3), upper, seed=5)
    v = np.random.default_rng(3).standard_normal((3, 3))
    w = np.random.default_rng(4).standard_normal((3, 3))
    results = []
    for lib in LIBS:
        x = lib.tensor(factor, requires_grad=True)
        out = lib.cholesky_inverse(x, upper=upper)
        (g,) = lib.autograd.grad((out * lib.tensor(w)).sum(), x, create_graph=True)
        (h,) = lib.autograd.grad((g * lib.tensor(v)).sum(), x)
        results.append((g.detach().numpy(), h.numpy()))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("upper", [False, True])
def test_cholesky_inverse_gradcheck_on_the_triangle(upper):
    x = cgrad.tensor(cholesky_factor((3, 3), upper, seed=6), requires_grad=True)
    part = (lambda a: a.triu()) if upper else (lambda a: a.tril())
    fn = (lambda a: cgrad.cholesky_inverse(part(a), upper=upper))
    assert cgrad.autograd.gradcheck(fn, (x,))
    assert cgrad.autograd.gradgradcheck(fn, (x,))


@pytest.mark.parametrize("batch", [(), (2,)], ids=str)
def test_multivariate_normal_precision_matrix_gradient_like_torch(batch):
    shape = batch + (3, 3)
    factor = np.tril(cholesky_factor(shape, False, seed=7))
    weights = np.random.default_rng(5).standard_normal(shape)

    def precision(lib, x):
        loc = lib.zeros(batch + (3,), dtype=lib.float64)
        return lib.distributions.MultivariateNormal(loc, scale_tril=x).precision_matrix

    ours, theirs = value_and_grad(cgrad, precision, factor, weights), value_and_grad(torch, precision, factor, weights)
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-9, atol=1e-11)
    assert ours[2] == theirs[2]


# ---- Tensor.angle, the removed solvers as methods, conj_physical_ ------------------------------------------------

ANGLE_INPUTS = {
    "float32": lambda lib: lib.tensor([-1.0, 0.0, 2.0, math.nan, -0.0, -math.inf, math.inf]),
    "float64": lambda lib: lib.tensor([[-1.5, 0.0], [3.0, math.nan]], dtype=lib.float64),
    "int64": lambda lib: lib.tensor([-1, 0, 3]),
    "bool": lambda lib: lib.tensor([True, False]),
    "0-d": lambda lib: lib.tensor(-2.0),
    "empty": lambda lib: lib.zeros(0, 2),
    "requires grad": lambda lib: lib.tensor([-1.0, 0.0, 2.0], requires_grad=True),
}


@pytest.mark.parametrize("name", list(ANGLE_INPUTS))
def test_tensor_angle_like_torch(name):
    assert_like_torch(lambda lib: ANGLE_INPUTS[name](lib).angle())
    assert_like_torch(lambda lib: lib.angle(ANGLE_INPUTS[name](lib)))


def test_tensor_angle_gradient_is_zero_like_torch():
    def grad(lib):
        x = lib.tensor([-1.0, 0.0, 2.0, math.nan], dtype=lib.float64, requires_grad=True)
        (g,) = lib.autograd.grad((x.angle() * lib.arange(4.0, dtype=lib.float64)).sum(), x)
        return g
    assert_like_torch(grad)


def test_tensor_angle_refuses_keywords():
    for lib in LIBS:
        with pytest.raises(TypeError):
            lib.zeros(2).angle(out=None)


REMOVED = {
    "lstsq": lambda lib: lib.zeros(2, 2).lstsq(lib.zeros(2, 2)),
    "lstsq of a number": lambda lib: lib.zeros(2, 2).lstsq(1),
    "solve": lambda lib: lib.zeros(2, 2).solve(lib.eye(2)),
    "eig": lambda lib: lib.zeros(2, 2).eig(),
    "eig with eigenvectors": lambda lib: lib.zeros(2, 2).eig(True),
    "eig with eigenvectors by keyword": lambda lib: lib.zeros(2, 2).eig(eigenvectors=True),
    "symeig": lambda lib: lib.zeros(2, 2).symeig(),
    "symeig with eigenvectors": lambda lib: lib.zeros(2, 2).symeig(eigenvectors=True),
}


@pytest.mark.parametrize("name", list(REMOVED))
def test_removed_solver_methods_raise_like_torch(name):
    ours, theirs = outcome(REMOVED[name], cgrad), outcome(REMOVED[name], torch)
    assert ours[0] == "RuntimeError" and ours == theirs


@pytest.mark.parametrize("call", [
    lambda lib: lib.zeros(2, 2).lstsq(),
    lambda lib: lib.zeros(2, 2).solve(),
    lambda lib: lib.zeros(2, 2).symeig(upper=False),
    lambda lib: lib.zeros(2, 2).eig(foo=1),
], ids=range(4))
def test_removed_solver_methods_check_their_signature(call):
    for lib in LIBS:
        with pytest.raises(TypeError):
            call(lib)


def conj_in_place(lib, make):
    """What conj_physical_ does to make(lib): whether it returns its target, the version's change, the target's
    node afterwards, and its values."""
    x = make(lib)
    before = x._version
    r = x.conj_physical_()
    return r is x, x._version - before, x.grad_fn.name() if x.grad_fn is not None else None, x.tolist()


CONJ_TARGETS = {
    "plain": lambda lib: lib.tensor([1.0, -2.0]),
    "int": lambda lib: lib.tensor([1, 2]),
    "expanded": lambda lib: lib.zeros(1).expand(3),
    "non-leaf": lambda lib: lib.tensor([1.0, -2.0], requires_grad=True) * 2,
    "view of a non-leaf": lambda lib: (lib.tensor([1.0, -2.0, 3.0], requires_grad=True) * 2)[1:],
    "leaf that requires grad": lambda lib: lib.tensor([1.0], requires_grad=True),
    "view of a leaf that requires grad": lambda lib: lib.tensor([1.0, 2.0], requires_grad=True)[1:],
}


@pytest.mark.parametrize("name", list(CONJ_TARGETS))
@pytest.mark.parametrize("how", ["method", "function"])
def test_conj_physical_in_place_like_torch(name, how):
    def run(lib):
        if how == "method":
            return conj_in_place(lib, CONJ_TARGETS[name])
        x = CONJ_TARGETS[name](lib)
        return lib.conj_physical_(x) is x, x._version
    assert outcome(run, cgrad) == outcome(run, torch)


def test_conj_physical_in_place_under_no_grad_like_torch():
    def run(lib):
        with lib.no_grad():
            return conj_in_place(lib, CONJ_TARGETS["leaf that requires grad"])
    assert outcome(run, cgrad) == outcome(run, torch)


def test_conj_physical_in_place_passes_the_gradient_like_torch():
    def grads(lib):
        x = lib.tensor([1.0, -2.0, 3.0], dtype=lib.float64, requires_grad=True)
        y = x * lib.tensor([2.0, 3.0, 4.0], dtype=lib.float64)
        y[1:].conj_physical_()
        (g,) = lib.autograd.grad((y * y).sum(), x)
        return g
    assert_like_torch(grads)


def test_conj_physical_in_place_invalidates_a_saved_output_like_torch():
    def run(lib):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = x.exp()
        y.conj_physical_()
        y.sum().backward()
    ours, theirs = outcome(run, cgrad), outcome(run, torch)
    assert ours[0] == theirs[0] == "RuntimeError"
    assert "modified by an inplace operation" in ours[1]
