"""The checks the test suites share; test files import them with ``from helpers import ...``
(conftest.py puts this directory on sys.path).

The op checker, ``check_op(fn, *inputs)``, checks an op's forward value and
gradients: it runs ``fn(lib, *tensors)`` with ``lib`` = ``cgrad`` and compares it
three ways:

1. the forward value against a numpy reference (``np_fn``), when one is given;
2. the gradients of every input, obtained by ``backward`` with a random upstream
   gradient ``v``, against central finite differences of ``sum(v * fn(x))``,
   computed in float64 by perturbing numpy copies of the inputs one element at a
   time;
3. forward value and gradients against PyTorch on the same inputs (skipped when
   torch is not installed; 1 and 2 have already run by then).

All three use the same input values: float32 inputs are drawn in float64 and
rounded to float32 once, so the references see exactly what cgrad sees.

The rest compare cgrad with torch in the smaller ways several suites need: errors
(type and message), values and gradients (to first and second order), pools,
convolutions, compiled training steps against eager ones, and optimizer state dicts.
"""
import contextlib
import ctypes
import warnings
from pathlib import Path

import numpy as np
import pytest

import cgrad
import cgrad.nn.functional as F

# (rtol, atol) per dtype: forward values and gradients compared with torch/numpy,
# and analytic gradients compared with float64 finite differences.
VALUE_TOL = {"float64": (1e-9, 1e-11), "float32": (1e-5, 1e-5)}
FD_TOL = {"float64": (1e-5, 1e-6), "float32": (1e-3, 1e-4)}
FD_EPS = 1e-6


def torch_or_skip():
    """torch, or a skip of the test where it is not installed."""
    return pytest.importorskip("torch")


def graph_of(node, depth=3):
    """A node and those it leads to, `depth` levels down, as nested (name, next) tuples."""
    if node is None:
        return None
    if depth == 0:
        return "..."
    return node.name().replace("torch::autograd::", ""), tuple(graph_of(f, depth - 1) for f, _ in node.next_functions)


def check_op(fn, *inputs, np_fn=None, dtype="float64", noncontig=False,
             domain=None, requires_grad=True, seed=0):
    """Check ``fn(lib, *tensors) -> tensor`` on cgrad against numpy, finite
    differences and torch.

    inputs        each a shape tuple (random values) or an array (these values).
    np_fn         numpy reference taking float64 arrays, or None.
    dtype         "float64" or "float32".
    noncontig     give every input of 2 or more dims as a non-contiguous view:
                  the leaf holds the data with its last two axes swapped and
                  ``fn`` receives ``leaf.transpose(n - 2, n - 1)``.
    domain        how random inputs are drawn: None (standard normal),
                  (low, high) (uniform) or "nonzero" (magnitude in [0.5, 2],
                  random sign); a list gives one per input.
    requires_grad a bool, or a sequence of bools with one per input.

    Returns the cgrad output.
    """
    n = len(inputs)
    domains = domain if isinstance(domain, list) else [domain] * n
    flags = [requires_grad] * n if isinstance(requires_grad, bool) else list(requires_grad)
    rng = np.random.default_rng(seed)
    bases = [_make_base(rng, inp, dom, noncontig, dtype) for inp, dom in zip(inputs, domains)]

    leaves, out = _run(cgrad, fn, bases, dtype, flags, noncontig)
    value = _to_numpy(out)
    assert _dtype_name(out.dtype) == dtype, f"output dtype {out.dtype}, expected {dtype}"
    rtol, atol = VALUE_TOL[dtype]
    if np_fn is not None:
        expected = np.asarray(np_fn(*[_view_np(b, noncontig) for b in bases]), dtype=np.float64)
        _assert_close(value, expected, rtol, atol, "forward value vs numpy")

    upstream = np.asarray(rng.standard_normal(value.shape))
    if any(flags):
        out.backward(cgrad.tensor(upstream, dtype=getattr(cgrad, dtype)))
    grads = [_grad_of(leaf, base, dtype, flag) for leaf, base, flag in zip(leaves, bases, flags)]
    fd_rtol, fd_atol = FD_TOL[dtype]
    for i, (grad, flag) in enumerate(zip(grads, flags)):
        if flag:
            numeric = _finite_difference(fn, bases, i, upstream, noncontig)
            _assert_close(grad, numeric, fd_rtol, fd_atol, f"grad of input {i} vs finite differences")

    torch = pytest.importorskip("torch")
    t_leaves, t_out = _run(torch, fn, bases, dtype, flags, noncontig)
    t_value = _to_numpy(t_out)
    _assert_close(value, t_value, rtol, atol, "forward value vs torch")
    if any(flags):
        t_out.backward(torch.tensor(upstream, dtype=getattr(torch, dtype)))
    for i, (grad, t_leaf, flag) in enumerate(zip(grads, t_leaves, flags)):
        if flag:
            _assert_close(grad, _to_numpy(t_leaf.grad), rtol, atol, f"grad of input {i} vs torch")
    return out


def _make_base(rng, inp, domain, noncontig, dtype):
    """The leaf's data as a float64 array holding values exactly representable in dtype."""
    if isinstance(inp, tuple):
        arr = _draw(rng, inp, domain)
    else:
        arr = np.array(inp, dtype=np.float64)
    if noncontig and arr.ndim >= 2:
        arr = np.ascontiguousarray(arr.swapaxes(-1, -2))
    return arr.astype(dtype).astype(np.float64)


def _draw(rng, shape, domain):
    if domain is None:
        return np.asarray(rng.standard_normal(shape))
    if domain == "nonzero":
        magnitude = rng.uniform(0.5, 2.0, shape)
        return np.asarray(np.where(rng.random(shape) < 0.5, -magnitude, magnitude))
    low, high = domain
    return np.asarray(rng.uniform(low, high, shape))


def _view_np(base, noncontig):
    return base.swapaxes(-1, -2) if noncontig and base.ndim >= 2 else base


def _view(t, noncontig):
    return t.transpose(t.ndim - 2, t.ndim - 1) if noncontig and t.ndim >= 2 else t


def _run(lib, fn, bases, dtype, flags, noncontig):
    """Build leaves from the bases in lib, apply fn to their views; return (leaves, output)."""
    leaves = [lib.tensor(b, dtype=getattr(lib, dtype), requires_grad=f) for b, f in zip(bases, flags)]
    return leaves, fn(lib, *[_view(leaf, noncontig) for leaf in leaves])


def _grad_of(leaf, base, dtype, flag):
    if not flag:
        assert leaf.grad is None, "an input that does not require grad received a grad"
        return None
    assert leaf.grad is not None, "an input that requires grad received no grad"
    assert tuple(leaf.grad.shape) == base.shape, f"grad shape {tuple(leaf.grad.shape)}, input shape {base.shape}"
    assert _dtype_name(leaf.grad.dtype) == dtype, f"grad dtype {leaf.grad.dtype}, input dtype {dtype}"
    return _to_numpy(leaf.grad)


def _finite_difference(fn, bases, index, upstream, noncontig):
    """d/d(bases[index]) of sum(upstream * fn(bases)), by central differences in float64."""
    def objective(arrays):
        tensors = [_view(cgrad.tensor(a, dtype=cgrad.float64), noncontig) for a in arrays]
        return float(np.sum(upstream * _to_numpy(fn(cgrad, *tensors))))

    numeric = np.zeros_like(bases[index])
    for j in range(bases[index].size):
        arrays = list(bases)
        plus, minus = bases[index].copy(), bases[index].copy()
        plus.flat[j] += FD_EPS
        minus.flat[j] -= FD_EPS
        arrays[index] = plus
        f_plus = objective(arrays)
        arrays[index] = minus
        numeric.flat[j] = (f_plus - objective(arrays)) / (2 * FD_EPS)
    return numeric


def _to_numpy(t):
    return np.array(t.detach().numpy(), dtype=np.float64)


def _dtype_name(dtype):
    return str(dtype).rsplit(".", 1)[-1]


def _assert_close(actual, expected, rtol, atol, what):
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape}, expected {expected.shape}"
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol, err_msg=what)


# ---- the C test programs of tests/c/ --------------------------------------------------------

C_PROGRAMS = sorted(p.name for p in (Path(__file__).resolve().parent / "c").glob("*.c"))


_CORE_OBJECTS = {}  # (compiler, flags) -> the C core's object files, compiled once per test process


def _core_objects(cc, flags, includes):
    """The object files of csrc/*.c compiled with these flags, once per process and
    one compiler per core: the programs of one kind share them, and compiling the
    core was most of each test's time."""
    import atexit
    import os
    import shutil
    import subprocess
    import tempfile
    from concurrent.futures import ThreadPoolExecutor
    key = (cc, tuple(flags))
    if key not in _CORE_OBJECTS:
        out = Path(tempfile.mkdtemp(prefix="cgrad-core-"))
        atexit.register(shutil.rmtree, out, True)
        sources = sorted((Path(__file__).resolve().parent.parent / "csrc").glob("*.c"))

        def compile_one(source):
            obj = out / (source.stem + ".o")
            run = subprocess.run([cc, "-std=gnu11", "-g", *flags, *includes, "-c", str(source), "-o", str(obj)],
                                 capture_output=True, text=True)
            return str(obj), run

        with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
            built = list(pool.map(compile_one, sources))
        errors = [run.stderr for _, run in built if run.returncode != 0]
        assert not errors, "\n".join(errors)
        _CORE_OBJECTS[key] = [obj for obj, _ in built]
    return _CORE_OBJECTS[key]


def build_c_program(program, out_dir, flags):
    """Links the C core, built with these C flags (added to -std=gnu11 -g), with
    tests/c/<program> into out_dir and returns the executable's path; skips the
    test when this machine has no C compiler or no scipy-openblas32."""
    import os
    import shutil
    import subprocess
    scipy_openblas32 = pytest.importorskip("scipy_openblas32")
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler on this machine")
    root = Path(__file__).resolve().parent.parent
    libdir = scipy_openblas32.get_lib_dir()
    includes = ["-I", str(root / "csrc"), "-I", scipy_openblas32.get_include_dir()]
    objects = _core_objects(cc, flags, includes)
    exe = Path(out_dir) / program[:-2]
    cmd = [cc, "-std=gnu11", "-g", *flags, *includes, *objects, str(root / "tests" / "c" / program),
           "-o", str(exe), "-L", libdir, "-l" + scipy_openblas32.get_library(), f"-Wl,-rpath,{libdir}",
           "-lm", "-lpthread"]
    build = subprocess.run(cmd, capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    return exe


# ---- errors -----------------------------------------------------------------------------------

def error_of(fn, lib):
    """The exception fn(lib) raises, or None."""
    try:
        fn(lib)
    except Exception as e:  # noqa: BLE001 (the exception is what is compared)
        return e
    return None


def error_summary(fn):
    """(type name, message) of what fn() raises, or None."""
    try:
        fn()
    except Exception as e:  # noqa: BLE001 -- the error itself is what is compared
        return type(e).__name__, str(e)
    return None


def outcome(fn, lib, first_line=False):
    """fn(lib), or what it raises as (type name, message with torch's name read as cgrad's, its
    first line only when first_line), with warnings silenced: what cgrad's and torch's give compares."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn(lib)
    except Exception as e:  # noqa: BLE001 (the error is the result being compared)
        message = str(e).replace("torch", "cgrad")
        return type(e).__name__, message.splitlines()[0] if first_line and message else message


def assert_same_error(fn):
    """fn(cgrad) raises what fn(torch) raises: same type, same first line of the message."""
    torch = pytest.importorskip("torch")
    ours, theirs = error_of(fn, cgrad), error_of(fn, torch)
    assert theirs is not None and ours is not None, f"expected an error; torch: {theirs!r}, cgrad: {ours!r}"
    assert type(ours) is type(theirs), f"{ours!r} vs {theirs!r}"
    assert str(ours) == str(theirs).split("\n")[0]


def assert_same_error_named(fn):
    """assert_same_error where the message names a size or a dtype: torch.Size, torch.int64 read as cgrad's."""
    torch = pytest.importorskip("torch")
    ours, theirs = error_of(fn, cgrad), error_of(fn, torch)
    assert ours is not None and theirs is not None and type(ours) is type(theirs), f"{ours!r} vs {theirs!r}"
    expected = str(theirs).split("\n")[0].replace("torch.Size(", "cgrad.Size(").replace("torch.int64", "cgrad.int64")
    assert str(ours) == expected


def same_error(fn, message=True):
    """fn(lib) raises the same exception type in cgrad as in torch (torch.linalg.LinAlgError:
    cgrad.linalg.LinAlgError) and, when message, the same whole message."""
    torch = pytest.importorskip("torch")
    with pytest.raises(Exception) as t_err:
        fn(torch)
    with pytest.raises(Exception) as c_err:
        fn(cgrad)
    want = cgrad.linalg.LinAlgError if type(t_err.value) is torch.linalg.LinAlgError else type(t_err.value)
    assert type(c_err.value) is want, (c_err.value, t_err.value)
    if message:
        assert str(c_err.value) == str(t_err.value)


def raises_like_torch(c_fn, t_fn):
    """c_fn() raises what t_fn() raises: its type, and its message with torch's names read as cgrad's."""
    with pytest.raises(Exception) as t_err:
        t_fn()
    with pytest.raises(type(t_err.value)) as c_err:
        c_fn()
    assert str(c_err.value) == str(t_err.value).replace("torch.", "cgrad.")


def type_and_message(fn):
    """(type, message) of the exception fn() raises; fails when it raises none."""
    with pytest.raises(Exception) as info:
        fn()
    return type(info.value), str(info.value)


def raised(fn):
    """(type, first line of the message) of what fn() raises, or (None, None)."""
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - the type is what is compared
        return type(e), str(e).split("\n")[0]
    return None, None


def second_order(lib, fn, data):
    """The first and second derivatives of a weighted sum of fn(lib, x)^2 at
    x = data: the gradient g, and the derivative of (g * v).sum() for a fixed
    random v (g kept with create_graph)."""
    x = lib.tensor(data, requires_grad=True)
    y = fn(lib, x)
    rng = np.random.default_rng(1)
    w = lib.tensor(rng.uniform(0.5, 1.5, tuple(y.shape)))
    v = lib.tensor(rng.standard_normal(data.shape))
    (g,) = lib.autograd.grad((w * y * y).sum(), x, create_graph=True)
    (h,) = lib.autograd.grad((g * v).sum(), x)
    return g.detach().numpy(), h.numpy()


def assert_second_order_matches_torch(fn):
    """second_order of fn(lib, x) on a 3 x 4 input agrees with torch's."""
    torch = pytest.importorskip("torch")
    data = np.random.default_rng(7).uniform(-2.0, 2.0, (3, 4))
    g, h = second_order(cgrad, fn, data)
    t_g, t_h = second_order(torch, fn, data)
    np.testing.assert_allclose(g, t_g, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(h, t_h, rtol=1e-10, atol=1e-12)


# ---- values and gradients against torch -------------------------------------------------------

def in_both(fn):
    """fn(lib) for cgrad and torch."""
    torch = pytest.importorskip("torch")
    return fn(cgrad), fn(torch)


def random_leaves(shape, dtype="float64", seed=0):
    """The same standard-normal values as a cgrad and a torch leaf."""
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    return cgrad.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)


def same_values(a, b):
    """Bit-for-bit equal values (NaN equal to NaN), dtypes and shapes, cgrad vs torch."""
    x, y = np.asarray(a.detach().numpy()), np.asarray(b.detach().numpy())
    assert str(a.dtype).rsplit(".", 1)[-1] == str(b.dtype).rsplit(".", 1)[-1], (a.dtype, b.dtype)
    assert x.shape == y.shape, (x.shape, y.shape)
    np.testing.assert_array_equal(x, y)


def close_values(a, b, rtol=1e-10, atol=1e-12):
    """A cgrad tensor against torch's: the same shape, and values close in float64."""
    a = np.asarray(a.detach().numpy(), dtype=np.float64)
    b = np.asarray(b.detach().numpy(), dtype=np.float64)
    assert a.shape == b.shape
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


def lib_dtype(lib, name):
    return getattr(lib, name)


def values_and_grads(fn, *arrays, dtype="float64", rtol=0.0):
    """fn(lib, *leaves) in cgrad and torch on the same values: the outputs and
    the gradients of sum(out * upstream) agree (exactly when rtol is 0; NaN
    where torch has NaN)."""
    torch = torch_or_skip()
    outs, grads = [], []
    for lib in (cgrad, torch):
        leaves = [lib.tensor(a, dtype=lib_dtype(lib, dtype), requires_grad=True) for a in arrays]
        out = fn(lib, *leaves)
        up = lib.tensor(np.random.default_rng(1).standard_normal(tuple(out.shape)), dtype=out.dtype)
        (out * up).sum().backward()
        outs.append(np.asarray(out.detach().numpy(), dtype=np.float64))
        grads.append([np.asarray(leaf.grad.numpy(), dtype=np.float64) for leaf in leaves])
    np.testing.assert_allclose(outs[0], outs[1], rtol=rtol, atol=0)
    for g, tg in zip(grads[0], grads[1]):
        np.testing.assert_allclose(g, tg, rtol=rtol, atol=0)


def compare_two_orders(fn, arrays, dtype="float64", rtol=None, second=True, *, rtols, close, constant_firsts=False):
    """fn(lib, *leaves) in cgrad and torch on the same values: outputs, the
    gradients of sum(out * w) and (when second) the gradients of
    sum(first gradients * v) agree by close(a, b, rtol, what), rtol being
    rtols[dtype] unless given. Returns cgrad's output.

    constant_firsts: first gradients that do not require grad (those of a
    piecewise-linear fn) are left out of the second order, which is skipped
    when no first gradient requires grad; otherwise all are differentiated."""
    torch = pytest.importorskip("torch")
    rtol = rtols[dtype] if rtol is None else rtol
    results = []
    for lib in (cgrad, torch):
        leaves = [lib.tensor(a, dtype=getattr(lib, dtype), requires_grad=True) for a in arrays]
        out = fn(lib, *leaves)
        rng = np.random.default_rng(7)
        w = lib.tensor(rng.standard_normal(tuple(out.shape)), dtype=out.dtype)
        firsts = lib.autograd.grad((out * w).sum(), leaves, create_graph=second, allow_unused=True)
        seconds = []
        if second:
            vs = [lib.tensor(rng.standard_normal(tuple(x.shape)), dtype=x.dtype) for x in leaves]
            total = sum((g * v).sum() for g, v in zip(firsts, vs)
                        if g is not None and (g.requires_grad or not constant_firsts))
            if not (constant_firsts and isinstance(total, int)):
                seconds = lib.autograd.grad(total, leaves, allow_unused=True)
        results.append((out, firsts, seconds))
    (o, f, s), (to, tf, ts) = results
    assert tuple(o.shape) == tuple(to.shape)
    assert str(o.dtype).split(".")[-1] == str(to.dtype).split(".")[-1]
    close(o, to, rtol, "value")
    for what, mine, ref in (("first", f, tf), ("second", s, ts)):
        for i, (a, b) in enumerate(zip(mine, ref)):
            if a is None or b is None:
                other = b if a is None else a
                assert other is None or not np.any(other.detach().numpy()), (what, i)
                continue
            close(a, b, rtol, f"{what} gradient of input {i}")
    return o


# ---- pools ------------------------------------------------------------------------------------

POOL_TOL = {"float64": (1e-12, 1e-12), "float32": (1e-6, 1e-6)}


def rand(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def np_of(t):
    return np.asarray(t.detach().numpy())


def split(out):
    """(values, indices or None) of a pooling result."""
    return (out[0], out[1]) if isinstance(out, tuple) else (out, None)


def check_against_torch(fn, arr, dtype, exact, depth=4, float32_grad=True):
    """fn(F, x) on cgrad and torch (F their nn.functional): values (bit for bit when
    exact), indices, the gradient for a random upstream, and the node names of the
    graph `depth` levels down. float32_grad=False leaves out the gradient of an
    inexact float32 result."""
    torch = pytest.importorskip("torch")
    x = cgrad.tensor(arr, dtype=getattr(cgrad, dtype), requires_grad=True)
    tx = torch.tensor(arr, dtype=getattr(torch, dtype), requires_grad=True)
    (y, idx), (ty, tidx) = split(fn(F, x)), split(fn(torch.nn.functional, tx))
    assert y.shape == tuple(ty.shape) and y.dtype == getattr(cgrad, dtype)
    rtol, atol = POOL_TOL[dtype]
    if exact:
        np.testing.assert_array_equal(np_of(y), np_of(ty))
    else:
        np.testing.assert_allclose(np_of(y), np_of(ty), rtol=rtol, atol=atol)
    if tidx is not None:
        assert idx.dtype == cgrad.int64
        np.testing.assert_array_equal(np_of(idx), np_of(tidx))
    assert graph_of(y.grad_fn, depth) == graph_of(ty.grad_fn, depth)
    g = np.random.default_rng(1).standard_normal(tuple(ty.shape))
    y.backward(cgrad.tensor(g, dtype=y.dtype))
    ty.backward(torch.tensor(g, dtype=ty.dtype))
    if exact or dtype == "float64" or float32_grad:
        np.testing.assert_allclose(np_of(x.grad), np_of(tx.grad), rtol=rtol, atol=atol)


# ---- convolutions -----------------------------------------------------------------------------

CONV_TOL = {np.float32: dict(rtol=2e-5, atol=2e-5), np.float64: dict(rtol=1e-10, atol=1e-11)}


def draw(rng, shape, dtype):
    return rng.standard_normal(shape).astype(dtype)


def pair(a, transpose=False):
    """The same values as a torch and a cgrad leaf, and what to feed each: transpose
    feeds a non-contiguous view (its last two axes swapped in memory)."""
    torch = pytest.importorskip("torch")
    if transpose and a.ndim >= 2:
        a = np.ascontiguousarray(np.swapaxes(a, -1, -2))
    t, c = torch.tensor(a, requires_grad=True), cgrad.tensor(a, requires_grad=True)
    if transpose and a.ndim >= 2:
        return t, c, t.transpose(-1, -2), c.transpose(-1, -2)
    return t, c, t, c


def close(c, t, dtype):
    """A cgrad tensor against torch's, to CONV_TOL[dtype] (a numpy float type)."""
    assert c is not None and t is not None
    assert tuple(c.shape) == tuple(t.shape)
    np.testing.assert_allclose(c.detach().numpy(), t.detach().numpy(), **CONV_TOL[dtype])


def compare_conv(fn, x_shape, w_shape, bias=True, dtype=np.float64, transpose=False, seed=0, **kw):
    """nn.functional's fn (a convolution, transposed or not) on cgrad against torch: the
    value, the graph node's name and the gradients of input, weight and bias. Returns
    cgrad's value."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(seed)
    leaves = [pair(draw(rng, x_shape, dtype), transpose), pair(draw(rng, w_shape, dtype))]
    if bias:
        out_channels = w_shape[1] * kw.get("groups", 1) if "transpose" in fn else w_shape[0]
        leaves.append(pair(draw(rng, (out_channels,), dtype)))
    ty = getattr(torch.nn.functional, fn)(*[lv[2] for lv in leaves], **kw)
    cy = getattr(F, fn)(*[lv[3] for lv in leaves], **kw)
    close(cy, ty, dtype)
    assert cy.grad_fn.name() == ty.grad_fn.name()
    gy = draw(rng, tuple(ty.shape), dtype)
    ty.backward(torch.tensor(gy))
    cy.backward(cgrad.tensor(gy))
    for tl, cl, _, _ in leaves:
        close(cl.grad, tl.grad, dtype)
    return cy


# ---- compiled training steps ------------------------------------------------------------------

def same_bits(a, b):
    """Bit-for-bit equality of two tensors: dtype, shape and bytes."""
    x, y = np.array(a.detach().numpy(), copy=True), np.array(b.detach().numpy(), copy=True)
    return x.dtype == y.dtype and x.shape == y.shape and x.tobytes() == y.tobytes()


def same_or_none(a, b):
    """same_bits, or both None."""
    if a is None or b is None:
        return a is None and b is None
    return same_bits(a, b)


def assert_twins(params_eager, params_compiled, what=""):
    """The parameters of the eager and the compiled twin, and their gradients, agree bit for bit."""
    for i, (p, q) in enumerate(zip(params_eager, params_compiled)):
        assert same_or_none(p, q), f"{what}: parameter {i} differs"
        assert same_or_none(p.grad, q.grad), f"{what}: gradient of parameter {i} differs"


def sgd_step(loss_of, lr=0.01):
    """A make_step for run_twins: loss_of(params, *batch), then one SGD step on every parameter."""
    def make_step(params):
        def step(*batch):
            for p in params:
                p.grad = None
            loss = loss_of(params, *batch)
            loss.backward()
            with cgrad.no_grad():
                for p in params:
                    p.sub_(lr * p.grad)
            return loss
        return step
    return make_step


def run_twins(make_step, params_eager, params_compiled, batches, **compile_kwargs):
    """Runs an eager and a compiled step side by side; returns the compiled step."""
    eager = make_step(params_eager)
    compiled = cgrad.compile(make_step(params_compiled), **compile_kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no fallback allowed
        for k, batch in enumerate(batches):
            out_e = eager(*batch)
            out_c = compiled(*batch)
            outs_e = out_e if isinstance(out_e, tuple) else (out_e,)
            outs_c = out_c if isinstance(out_c, tuple) else (out_c,)
            for a, b in zip(outs_e, outs_c):
                assert same_or_none(a.detach(), b), f"step {k}: outputs differ"
                assert b.grad_fn is None and not b.requires_grad
            assert_twins(params_eager, params_compiled, f"step {k}")
    return compiled


def training_step(model, opt):
    """step(x, target): one cross-entropy training step of model with opt; returns the loss."""
    loss_fn = cgrad.nn.CrossEntropyLoss()

    def step(x, target):
        opt.zero_grad()
        loss = loss_fn(model(x), target)
        loss.backward()
        opt.step()
        return loss

    return step


# ---- optimizers -------------------------------------------------------------------------------

def ieee_sqrt(self):
    torch = pytest.importorskip("torch")
    return torch.from_numpy(np.asarray(np.sqrt(self.detach().numpy())))


def ieee_sqrt_(self):
    torch = pytest.importorskip("torch")
    with torch.no_grad():
        self.copy_(ieee_sqrt(self))
    return self


def plain_state(value):
    """A state_dict with tensors as nested lists (and dtypes by name), for comparison."""
    torch = pytest.importorskip("torch")
    if isinstance(value, dict):
        return {k: plain_state(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(plain_state(v) for v in value)
    if isinstance(value, (cgrad.Tensor, torch.Tensor)):
        return ("tensor", str(value.dtype).split(".")[-1], value.detach().numpy().tolist())
    return value


def state_to_cgrad(value):
    """A torch state_dict with its tensors made cgrad's."""
    torch = pytest.importorskip("torch")
    if isinstance(value, torch.Tensor):
        return cgrad.tensor(value.numpy())
    if isinstance(value, dict):
        return {k: state_to_cgrad(v) for k, v in value.items()}
    if isinstance(value, list):
        return [state_to_cgrad(v) for v in value]
    return value


@pytest.fixture
def ieee_torch_sqrt(monkeypatch):
    """torch's Tensor.sqrt and sqrt_ swapped for the IEEE-754 square root: see
    Note [torch's sqrt on CPU] in tests/test_optim.py."""
    torch = pytest.importorskip("torch")
    monkeypatch.setattr(torch.Tensor, "sqrt", ieee_sqrt)
    monkeypatch.setattr(torch.Tensor, "sqrt_", ieee_sqrt_)


@contextlib.contextmanager
def leaks_unchecked():
    """A block whose allocations LeakSanitizer does not count, in the sanitized run (elsewhere: nothing).
    Only for calls into torch that leak inside torch itself, never around cgrad code."""
    lib = ctypes.CDLL(None)
    try:
        disable, enable = lib.__lsan_disable, lib.__lsan_enable
    except AttributeError:  # not running under LeakSanitizer
        yield
        return
    disable()
    try:
        yield
    finally:
        enable()
