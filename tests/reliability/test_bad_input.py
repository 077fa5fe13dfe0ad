"""Bad input never crashes: every public entry point fed wrong types, ragged
lists, non-finite values, integer tensors asked for gradients, zero-size and
9-dimensional shapes, bad indices, mismatched shapes and dtypes, None, and
sizes no machine can allocate.

Every case runs in cgrad and in torch, each in a child process (many cases
per child; a child that dies names the case it died in, and the others go on
in a new one). cgrad must raise the exception type torch raises, with a
message that names the problem (the `says` pattern), or succeed with the
same result when torch succeeds. A few cases are deliberately different from
torch (9 dimensions, dtypes cgrad does not have): they say what cgrad raises.
"""
import math
import re

import pytest

from reliability import harness

torch = pytest.importorskip("torch")

# Tensors every case can use, made the same way in both libraries.
SETUP = """
x = L.ones(2, 3)
v = L.arange(6.0)
xg = L.ones(2, 3, requires_grad=True)
xd = L.ones(2, 3, dtype=L.float64)
i = L.arange(6).reshape(2, 3)
b = L.ones(2, 3, dtype=L.bool)
e = L.zeros(0, 3)
eg = L.zeros(0, 3, requires_grad=True)
m = L.ones(3, 4)
z8 = L.zeros([1] * 8)
nf = L.tensor([float("nan"), float("inf"), -float("inf"), 0.0, -0.0, 1.0])
BIG = 2 ** 40
"""

CASES = {}   # name -> code (an expression, or statements setting `out`)
SAYS = {}    # name -> regex cgrad's message must contain (case-insensitive)
KNOWN = {}   # name -> why cgrad still differs from torch there (the test is an xfail until fixed)
EXPECT = {}  # name -> the builtin exception type cgrad raises where it differs from torch on purpose


def case(name, code, says=None, expect=None, known=None):
    assert name not in CASES, name
    if known:
        KNOWN[name] = known
    CASES[name] = code
    if says:
        SAYS[name] = says
    if expect:
        EXPECT[name] = expect


# ---- creation from Python data ------------------------------------------------------
case("tensor(None)", "L.tensor(None)", "infer|dtype|None|number")
case("tensor(str)", "L.tensor('abc')", "str|type|dtype|convert")
case("tensor(object)", "L.tensor(object())", "infer|dtype|object|sequence")
case("tensor([1, 'a'])", "L.tensor([1, 'a'])", "str|type|dtype|convert")
case("tensor([None])", "L.tensor([None])", "infer|dtype|None|number")
case("tensor(ragged)", "L.tensor([[1, 2], [3]])", "length|shape|sequence|inhomogeneous")
case("tensor(ragged deep)", "L.tensor([[[1, 2]], [[3]]])", "length|shape|sequence|inhomogeneous")
case("tensor(nested wrong)", "L.tensor([[1, 2], 3])", "sequence|shape|length|inhomogeneous")
case("tensor(dict)", "L.tensor({1: 2})", "dict|infer|dtype|convert")
case("tensor(dtype=str)", "L.tensor([1.0], dtype='float32')", "dtype")
case("tensor(int, requires_grad)", "L.tensor([1, 2], requires_grad=True)", "floating point")
case("tensor(bool, requires_grad)", "L.tensor([True], requires_grad=True)", "floating point")
case("tensor(2**70)", "L.tensor(2 ** 70)", "overflow|too large|int")
case("tensor([2**70])", "L.tensor([2 ** 70])", "overflow|too large|int")
case("tensor(non-finite)", "L.tensor([float('nan'), float('inf'), -float('inf')])")
case("tensor(9 deep)", "L.tensor([[[[[[[[[1.0]]]]]]]]])", "at most 8 dimensions", expect="RuntimeError")
case("tensor(empty nested)", "L.tensor([[], []])")

# ---- creation from sizes --------------------------------------------------------------
for fn in ("zeros", "ones", "empty", "rand", "randn"):
    case(f"{fn}(-1)", f"L.{fn}(-1)", "negative dimension|must be non-negative")
    case(f"{fn}(2.5)", f"L.{fn}(2.5)", "float|int|size|shape")
    case(f"{fn}('a')", f"L.{fn}('a')", "str|int|size|shape")
    case(f"{fn}(None)", f"L.{fn}(None)", "None|int|size|shape")
    case(f"{fn}([2, None])", f"L.{fn}([2, None])", "None|int|size|shape")
    case(f"{fn}(dtype='x')", f"L.{fn}(2, dtype='x')", "dtype")
    case(f"{fn}(2**40)", f"L.{fn}(BIG)", "allocat|memory")
    case(f"{fn}(overflow)", f"L.{fn}(2 ** 62, 2 ** 62)", "overflow|too large|allocat|memory")
    case(f"{fn}(9 dims)", f"L.{fn}([1] * 9)", "at most 8 dimensions", expect="RuntimeError")
    case(f"{fn}(0 size)", f"L.{fn}(2, 0, 3).shape")
case("full(2**40)", "L.full((BIG,), 1.0)", "allocat|memory")
case("full(str value)", "L.full((2,), 'a')", "str|float|number|value|fill")
case("full(None value)", "L.full((2,), None)", "None|float|number|value|fill")
case("full(int, requires_grad)", "L.full((2,), 1, requires_grad=True)", "floating point")
case("full(9 dims)", "L.full([1] * 9, 1.0)", "at most 8 dimensions", expect="RuntimeError")
case("zeros(int64, requires_grad)", "L.zeros(2, dtype=L.int64, requires_grad=True)", "floating point")
case("ones(bool, requires_grad)", "L.ones(2, dtype=L.bool, requires_grad=True)", "floating point")
case("arange(step 0)", "L.arange(0, 10, 0)", "step")
case("arange(wrong sign)", "L.arange(10, 0, 1)", "bound|sign|step")
case("arange(nan)", "L.arange(0, float('nan'))", "range|finite|nan")
case("arange(inf)", "L.arange(0, float('inf'))", "range|finite|inf")
case("arange(2**42)", "L.arange(0, 2 ** 42)", "allocat|memory")
case("arange(str)", "L.arange('a')", "str|number|float|int")
case("linspace(-1 steps)", "L.linspace(0, 1, -1)", "non-negative|negative|steps")
case("linspace(2**40)", "L.linspace(0, 1, BIG)", "allocat|memory")
case("linspace(float steps)", "L.linspace(0, 1, 2.5)", "int|steps|float")
case("linspace(nan)", "L.linspace(0, float('nan'), 3)")
case("eye(-1)", "L.eye(-1)", "greater or equal|negative|>= 0")
case("eye(2**20)", "L.eye(2 ** 20)", "allocat|memory")
case("randint(low > high)", "L.randint(5, 2, (3,))", "from|to|low|high|less")
case("randint(2**40)", "L.randint(0, 2, (BIG,))", "allocat|memory")
case("randint(float, requires_grad)", "L.randint(0, 2, (3,), dtype=L.int64, requires_grad=True)", "floating point")
case("zeros_like(None)", "L.zeros_like(None)", "None|Tensor|tensor")
case("ones_like(list)", "L.ones_like([1, 2])", "list|Tensor|tensor")
case("full_like(str)", "L.full_like(x, 'a')", "str|float|number|value|fill")
case("from_numpy(list)", "L.from_numpy([1, 2])", "ndarray|list")
case("from_numpy(negative strides)", "L.from_numpy(np.arange(4.0)[::-1])", "negative|stride")
case("from_numpy(9 dims)", "L.from_numpy(np.zeros([1] * 9))", "at most 8 dimensions", expect="RuntimeError")
case("from_numpy(complex)", "L.from_numpy(np.zeros(2, np.complex64))", "complex|type|dtype", expect="TypeError")
case("from_numpy(object)", "L.from_numpy(np.array([None]))", "object|type|dtype")
case("from_numpy(0 size)", "L.from_numpy(np.zeros((0, 4)))")

# ---- operators and math: wrong types, None, shapes, dtypes --------------------------------
OPERATORS = {"+": "x + {}", "-": "x - {}", "*": "x * {}", "/": "x / {}", "**": "x ** {}", "@": "x @ {}",
             "r+": "{} + x", "r-": "{} - x", "r*": "{} * x", "r/": "{} / x", "r**": "{} ** x",
             "//": "x // {}", "%": "x % {}", "<": "x < {}", "==": "x == {}"}
for op, template in OPERATORS.items():
    case(f"x {op} str", template.format("'a'"), "str|unsupported|operand|type|index")
    case(f"x {op} None", template.format("None"), "None|unsupported|operand|type")
    if op not in ("==",):
        case(f"x {op} object", template.format("object()"), "object|unsupported|operand|type")
for op in ("+", "-", "*", "/", "**", "//", "%", "<"):
    case(f"shape mismatch {op}", f"L.ones(3) {op} L.ones(4)", "size of tensor a \\(3\\) must match")
for op, name in (("+=", "iadd"), ("-=", "isub"), ("*=", "imul"), ("/=", "itruediv")):
    case(f"x {op} None", f"y = L.ones(2)\ny {op} None", "None|unsupported|operand|type")
    case(f"x {op} str", f"y = L.ones(2)\ny {op} 'a'", "str|unsupported|operand|type")
    case(f"x {op} wider shape", f"y = L.ones(3)\ny {op} L.ones(2, 3)", "shape|broadcast|size|match")
    if op != "/=":
        case(f"int {op} float", f"y = L.ones(2, dtype=L.int64)\ny {op} 1.5", "result type|cast|Long")
case("int /= int", "y = L.ones(2, dtype=L.int64)\ny /= 2", "result type|cast|Long")
case("bool += int", "y = L.ones(2, dtype=L.bool)\ny += 1", "result type|cast|Bool")

UNARY = ("exp log tanh sigmoid relu neg abs sign sqrt rsqrt sin cos tan sinh cosh asin acos atan erf "
         "reciprocal square exp2 log2 log1p expm1").split()
for fn in UNARY:
    case(f"{fn}(None)", f"L.{fn}(None)", "None|Tensor|tensor")
    case(f"{fn}(float)", f"L.{fn}(2.0)", "float|Tensor|tensor")
    case(f"{fn}(list)", f"L.{fn}([1.0])", "list|Tensor|tensor")
    case(f"{fn}(non-finite)", f"L.{fn}(nf)")
    case(f"{fn}(0 size)", f"L.{fn}(e)")
    case(f"{fn}(int)", f"L.{fn}(i)")
    case(f"{fn}(bool)", f"L.{fn}(b)")
case("non-finite arithmetic", "(nf + nf, nf - nf, nf * nf, nf / nf, nf ** nf, nf // L.ones(6), nf % L.ones(6))")
case("non-finite comparisons", "(nf == nf, nf < nf, nf != nf, L.maximum(nf, nf[[1, 0, 3, 2, 5, 4]]))")
case("division by zero", "(L.ones(3) / L.zeros(3), L.zeros(3) / L.zeros(3), -L.ones(3) / 0.0)")
case("int division by zero", "L.ones(3, dtype=L.int64) // L.zeros(3, dtype=L.int64)", "ZeroDivision|division by zero")
case("int remainder by zero", "L.ones(3, dtype=L.int64) % L.zeros(3, dtype=L.int64)", "ZeroDivision|division by zero")
case("non-finite reductions", "(nf.sum(), nf.mean(), nf.amax(), nf.amin(), nf.prod(), nf.logsumexp(0), nf.norm())")
case("non-finite matmul", "nf.reshape(2, 3) @ nf.reshape(3, 2)")
case("non-finite grad", "t = nf.clone().requires_grad_()\n(t.exp() * t.log().clamp(-1, 1)).sum().backward()\n"
     "out = t.grad")
case("log(0) grad", "t = L.zeros(2, requires_grad=True)\nt.log().sum().backward()\nout = t.grad")
case("sqrt(0) grad", "t = L.zeros(2, requires_grad=True)\nt.sqrt().sum().backward()\nout = t.grad")
case("item(nan)", "L.tensor(float('nan')).item()")
case("tolist(non-finite)", "nf.tolist()")
case("clamp(None, None)", "x.clamp()", "At least one of|min|max")
case("clamp(str)", "x.clamp('a')", "str|float|number|Tensor")
case("where(float cond)", "L.where(x, x, x)", "bool|condition|Bool")
case("where(shape mismatch)", "L.where(L.ones(3, dtype=L.bool), L.ones(4), L.ones(3))", "size|shape|match")
case("atan2(None)", "L.atan2(x, None)", "None|Tensor|tensor")
case("maximum(shape)", "L.maximum(L.ones(3), L.ones(4))", "size|shape|match")
case("lerp(shape)", "L.ones(3).lerp(L.ones(4), 0.5)", "size|shape|match")
case("x.mul(str)", "x.mul('a')", "str")
case("x.div(None)", "x.div(None)", "None")
case("x.pow(str)", "x.pow('a')", "str")
case("x.matmul(2)", "x.matmul(2)", "int")
case("int + 2**70", "i + 2 ** 70", "too big")
case("float + 2**70", "x + 2 ** 70", "too big")
case("tensor(2**53 + 1)", "L.tensor(2 ** 53 + 1)")
case("int + (2**53 + 1)", "i + (2 ** 53 + 1)")
case("pow(int, negative)", "L.tensor([2]) ** -1", "Integers to negative integer powers")

# ---- matmul ----------------------------------------------------------------------------
case("matmul shapes", "L.ones(2, 3) @ L.ones(2, 3)", "cannot be multiplied|shape|size")
case("matmul 1-d", "L.ones(3) @ L.ones(4)", "size|shape|same")
case("matmul batch", "L.ones(2, 3, 4) @ L.ones(5, 4, 2)", "size of tensor a|must match|broadcast")
case("matmul 0-d", "L.tensor(1.0) @ L.ones(3)", "dimension|1D|0D|at least")
case("matmul dtypes", "L.ones(2, 2) @ L.ones(2, 2, dtype=L.float64)", "dtype|Float|Double|same")
case("matmul None", "L.matmul(x, None)", "None|Tensor|tensor")
case("matmul int", "x @ 2", "int|Tensor|tensor|scalar")
case("matmul 0 size", "(L.ones(2, 0) @ L.ones(0, 3), L.ones(0, 2) @ L.ones(2, 3))")
case("matmul huge", "L.ones(2 ** 20, 1).expand(2 ** 20, 1) @ L.ones(1, 2 ** 20)", "allocat|memory")
for fn, args in (("mm", "L.ones(2, 3), L.ones(2, 3)"), ("bmm", "L.ones(2, 3), L.ones(3, 2)"),
                 ("mv", "L.ones(2, 3), L.ones(2)"), ("dot", "L.ones(3), L.ones(4)"),
                 ("outer", "L.ones(2, 2), L.ones(3)")):
    case(f"{fn} wrong shapes", f"L.{fn}({args})", "size|shape|dim|cannot|expected|1D|match|3D|2D|1-D")
    case(f"{fn} None", f"L.{fn}(x, None)", "None|Tensor|tensor")

# ---- reductions ------------------------------------------------------------------------
for fn in ("sum", "mean", "prod", "amax", "amin", "logsumexp", "argmax", "argmin", "var", "std", "norm"):
    dim_arg = "p=2, dim=" if fn == "norm" else ""
    case(f"{fn}(dim out of range)", f"x.{fn}({dim_arg}5)", "Dimension out of range")
    case(f"{fn}(dim str)", f"x.{fn}({dim_arg}'a')", "str|int|dim|name")
    case(f"{fn}(dim float)", f"x.{fn}({dim_arg}1.5)", "float|int|dim")
    case(f"{fn}(0 size dim 1)", f"e.{fn}({dim_arg}1)")
case("prod(dims tuple)", "x.prod((0, 1))", "int|tuple")
for fn in ("sum", "mean", "logsumexp", "var", "std", "norm", "amax", "amin"):
    case(f"{fn}(repeated dims)", f"x.{fn}((0, 0))" if fn not in ("norm",) else "x.norm(2, (0, 0))",
         "appears multiple times|repeated|multiple")
case("sum(9 dims)", "x.sum(tuple(range(9)))", "at most 8 dimensions", expect="RuntimeError")
case("mean(int)", "i.mean()", "dtype|floating|Long")
case("mean(0 size)", "e.mean()")
case("sum(0 size)", "(e.sum(), e.sum(0), e.prod())")
case("amax(0 size)", "e.amax()", "empty|numel|reduction dim|identity")
case("max(0 size)", "e.max()", "empty|numel|reduction dim|identity")
case("argmax(0 size)", "e.argmax()", "empty|numel|reduction dim|identity")
case("max(dim, 0 size)", "e.max(0)", "empty|numel|reduction dim|identity|zero")
case("var(correction > n)", "L.ones(1).var()")
case("std(correction str)", "x.std(correction='a')", "str|int|float|correction|number")

# ---- shape -----------------------------------------------------------------------------
case("reshape(numel)", "x.reshape(5)", "shape '\\[5\\]' is invalid for input of size 6")
case("reshape(-1, -1)", "x.reshape(-1, -1)", "only one dimension can be inferred")
case("reshape(-2)", "x.reshape(-2)", "invalid shape dimension -2")
case("reshape(None)", "x.reshape(None)", "None|int|shape|size")
case("reshape(str)", "x.reshape('a')", "str|int|shape|size")
case("reshape(9 dims)", "z8.reshape([1] * 9)", "at most 8 dimensions", expect="RuntimeError")
case("reshape(0 size, -1)", "e.reshape(0, -1)", "0 elements|unspecified dimension|ambiguous|invalid")
case("view(4, -1)", "x.view(4, -1)", "invalid for input of size 6")
case("view(non-contiguous)", "x.transpose(0, 1).view(6)", "view size is not compatible|contiguous|reshape")
case("view(9 dims)", "z8.view([1] * 9)", "at most 8 dimensions", expect="RuntimeError")
case("transpose(out of range)", "x.transpose(0, 5)", "Dimension out of range")
case("transpose(str)", "x.transpose('a', 0)", "str|int|dim|name")
case("permute(repeated)", "x.permute(0, 0)", "repeated dim|duplicate|appears")
case("permute(count)", "x.permute(0)", "number of dims|doesn't match|dims")
case("permute(out of range)", "x.permute(0, 2)", "Dimension out of range|repeated|range")
case("squeeze(out of range)", "x.squeeze(5)", "Dimension out of range")
case("unsqueeze(out of range)", "x.unsqueeze(10)", "Dimension out of range")
case("unsqueeze(9 dims)", "z8.unsqueeze(0)", "at most 8 dimensions|Dimension out of range", expect="RuntimeError")
case("expand(smaller)", "x.expand(3, 2)", "expanded size|must match|non-singleton")
case("expand(fewer dims)", "x.expand(3)", "number of sizes|fewer|must be greater or equal")
case("expand(-2)", "L.ones(1).expand(-2)", "invalid|negative|-2")
case("expand(9 dims)", "z8.expand([1] * 9)", "at most 8 dimensions", expect="RuntimeError")
case("expand(overflow)", "L.ones(1, 1).expand(2 ** 40, 2 ** 40)", "overflow|too large|numel|size")
case("expand(huge).contiguous", "L.ones(1).expand(BIG).contiguous()", "allocat|memory")
case("expand(huge).exp", "L.ones(1).expand(BIG).exp()", "allocat|memory")
case("expand(huge) + 1", "L.ones(1).expand(BIG) + 1", "allocat|memory")
case("broadcast_to(9 dims)", "z8.broadcast_to([1] * 9)", "at most 8 dimensions", expect="RuntimeError")
case("flatten(range)", "x.flatten(1, 0)", "start_dim|end_dim|flatten")
case("unflatten(sizes)", "x.unflatten(1, (2, 2))", "sizes|product|match|unflatten|invalid")
case("unflatten(9 dims)", "z8.flatten().unflatten(0, [1] * 9)", "at most 8 dimensions", expect="RuntimeError")
case("narrow(out of range)", "x.narrow(0, 5, 1)", "out of range|exceeds|start")
case("narrow(negative length)", "x.narrow(0, 0, -1)", "negative|length")
case("split(0)", "x.split(0)", "split_size|split size|0")
case("split(sizes sum)", "x.split([1, 1], 0)", "sum exactly")
case("split(str)", "x.split('a')", "str|int|split")
case("chunk(0)", "x.chunk(0)", "chunk|greater than 0|> 0")
case("unbind(out of range)", "x.unbind(5)", "Dimension out of range")
case("flip(out of range)", "x.flip(5)", "Dimension out of range")
case("flip(repeated)", "x.flip(0, 0)", "appears multiple times|repeated|multiple|duplicates")
case("roll(mismatch)", "x.roll((1, 2), (0,))", "shifts|dims|same size|match")
case("repeat(negative)", "x.repeat(-1, 1)", "negative|Trying to create tensor")
case("repeat(fewer)", "x.repeat(2)", "Number of dimensions of repeat dims")
case("repeat(9 dims)", "z8.repeat([1] * 9)", "at most 8 dimensions", expect="RuntimeError")
case("repeat(huge)", "L.ones(1).repeat(BIG)", "allocat|memory")
case("tile(huge)", "L.ones(2).tile(BIG)", "allocat|memory")
case("movedim(repeated)", "x.movedim((0, 0), (0, 1))", "repeated|unique|duplicate")
case("cat([])", "L.cat([])", "non-empty")
case("cat(None)", "L.cat(None)", "None|Tensor|tensor|iter|sequence")
case("cat([x, None])", "L.cat([x, None])", "None|Tensor|tensor")
case("cat([x, 1])", "L.cat([x, 1])", "int|Tensor|tensor")
case("cat(ndim mismatch)", "L.cat([L.ones(2, 3), L.ones(3)])", "dimensions|same number|match")
case("cat(shape mismatch)", "L.cat([L.ones(2, 3), L.ones(2, 4)])", "Sizes of tensors must match")
case("cat(dim out of range)", "L.cat([x, x], 5)", "Dimension out of range")
case("cat(0 size)", "L.cat([e, e, x])")
case("cat(mixed dtypes)", "L.cat([x, i, b, xd])")
case("stack([])", "L.stack([])", "non-empty")
case("stack(shape mismatch)", "L.stack([L.ones(2), L.ones(3)])", "equal size")
case("stack([x, 'a'])", "L.stack([x, 'a'])", "str|Tensor|tensor")
case("stack(9 dims)", "L.stack([z8, z8])", "at most 8 dimensions", expect="RuntimeError")
case("stack(0 size)", "L.stack([e, e]).shape")

# ---- indexing ----------------------------------------------------------------------------
case("x[5]", "x[5]", "index 5 is out of bounds|out of range")
case("x[-5]", "x[-5]", "index -5 is out of bounds|out of range")
case("x[0, 5]", "x[0, 5]", "index 5 is out of bounds|out of range")
case("x[2**70]", "x[2 ** 70]", "too large", expect="OverflowError")  # torch: ValueError
case("x[0, 0, 0]", "x[0, 0, 0]", "too many indices")
case("x[1.5]", "x[1.5]", "only integers|float")
# torch tries to make a tensor of the str (TypeError); cgrad says what indices are valid, as numpy
case("x['a']", "x['a']", "only integers|str", expect="IndexError")
case("x[None]*8", "x[None, None, None, None, None, None, None]",
     "at most 8 dimensions", expect="RuntimeError")
case("z8[None]", "z8[None]", "at most 8 dimensions", expect="RuntimeError")
case("x[::0]", "x[::0]", "step|zero")
case("x[::-1]", "x[::-1]", "step|negative|positive")
case("x[[0, 5]]", "x[[0, 5]]", "index 5 is out of bounds|out of range")
case("x[[-3]]", "x[[-3]]", "index -3 is out of bounds|out of range")
case("x[float tensor]", "x[L.tensor([0.5])]", "tensors used as indices must be long")
# torch reads a list holding lists as a tuple of indices (numpy's deprecated rule), and so does cgrad
case("x[ragged list]", "x[[[0, 1], [0]]]")
case("x[bool mask wrong shape]", "x[L.ones(3, dtype=L.bool)]", "shape of the mask")
case("x[int64 out of range]", "x[L.tensor([0, 7])]", "index 7 is out of bounds|out of range")
case("x[int64 2-d out of range]", "x[L.tensor([[0], [-9]])]", "out of bounds|out of range")
case("x[[]]", "x[[]]")
case("e[0]", "e[0]", "index 0 is out of bounds|out of range")
case("e[:, 1]", "e[:, 1]")
case("x[huge index tensor]", "x[L.zeros(1, dtype=L.int64).expand(BIG)]", "allocat|memory")
case("x[5] = 1", "y = L.ones(2, 3)\ny[5] = 1.0", "index 5 is out of bounds|out of range")
case("x[0] = str", "y = L.ones(2, 3)\ny[0] = 'a'", "str|float|number|Tensor|value")
case("x[0] = None", "y = L.ones(2, 3)\ny[0] = None", "None|float|number|Tensor|value")
case("x[0] = shape", "y = L.ones(2, 3)\ny[0] = L.ones(5)", "shape|size|match|broadcast")
case("x[idx] = shape", "y = L.ones(2, 3)\ny[[0, 1]] = L.ones(3, 3)", "shape|size|match|broadcast")
case("x[idx out of range] = 1", "y = L.ones(2, 3)\ny[[0, 9]] = 1.0", "out of bounds|out of range")
case("leaf[0] = 1", "y = L.ones(2, 3, requires_grad=True)\ny[0] = 1.0", "leaf Variable")
case("int[0] = float tensor", "y = L.zeros(3, dtype=L.int64)\ny[0] = L.tensor(1.5)\nout = y")
case("index_select(out of range)", "x.index_select(0, L.tensor([5]))", "out of range|out of bounds|INDICES")
case("index_select(float index)", "x.index_select(0, L.tensor([0.0]))", "Long|Int|index|dtype")
case("index_select(2-d index)", "x.index_select(0, L.tensor([[0]]))", "1-D|one dim|vector|dimension")
case("gather(out of range)", "x.gather(1, L.tensor([[5], [0]]))", "out of bounds|out of range")
case("gather(float index)", "x.gather(1, L.tensor([[0.0]]))", "int64|Long|index|dtype")
case("gather(ndim)", "x.gather(1, L.tensor([0]))", "same number of dimensions|dims")
case("scatter(out of range)", "x.scatter(1, L.tensor([[5], [0]]), 1.0)", "out of bounds|out of range")
case("scatter_add(src dtype)", "x.scatter_add(1, L.tensor([[0], [0]]), xd)", "dtype|Float|Double|same")
case("masked_fill(float mask)", "x.masked_fill(x, 1.0)", "bool|Bool|mask")
case("masked_fill(shape)", "x.masked_fill(L.ones(4, dtype=L.bool), 1.0)", "size|shape|match|expand")
case("index_put_(float index)", "y = L.ones(3)\nout = y.index_put_((L.tensor([0.5]),), L.tensor(1.0))",
     "tensors used as indices must be long|Long|index")
case("nonzero(0 size)", "e.nonzero().shape")

# ---- autograd misuse ---------------------------------------------------------------------
case("backward(int)", "i.sum().backward()", "does not require grad")
case("backward(no grad)", "x.sum().backward()", "does not require grad")
case("backward(non-scalar)", "(xg * 2).backward()", "implicitly created only for scalar outputs")
case("backward(wrong grad shape)", "(xg * 2).backward(L.ones(3))", "Mismatch in shape|shape")
case("backward(grad str)", "(xg * 2).sum().backward('a')", "str|Tensor|tensor|gradient")
case("backward(grad list)", "(xg * 2).sum().backward([1.0])", "list|Tensor|tensor|gradient")
case("backward twice", "y = (xg * xg).sum()\ny.backward()\ny.backward()", "backward through the graph a second time")
case("backward(inputs=[None])", "(xg * 2).sum().backward(inputs=[None])", "None|Tensor|tensor")
case("backward(inputs=['a'])", "(xg * 2).sum().backward(inputs=['a'])", "str|Tensor|tensor")
case("backward(inputs=[])", "(xg * 2).sum().backward(inputs=[])", "inputs|empty|non-empty")
case("backward(0 size)", "(eg * 2).sum().backward()\nout = eg.grad")
case("autograd.backward(None)", "L.autograd.backward(None)", "None|Tensor|tensor|iter")
# torch fails an internal assertion (AssertionError) for non-tensor outputs
case("autograd.backward([1.0])", "L.autograd.backward([1.0])", "float", expect="TypeError")
case("grad(outputs None)", "L.autograd.grad(None, [xg])", "None|Tensor|tensor|iter")
case("grad(outputs float)", "L.autograd.grad([1.0], [xg])", "float", expect="TypeError")
case("grad(inputs None)", "L.autograd.grad([(xg * 2).sum()], [None])", "None|Tensor|tensor")
case("grad(inputs str)", "L.autograd.grad([(xg * 2).sum()], ['a'])", "str|Tensor|tensor")
case("grad(inputs float)", "L.autograd.grad([(xg * 2).sum()], [1.5])", "float|Tensor|tensor")
case("grad(grad_outputs str)", "L.autograd.grad([(xg * 2).sum()], [xg], grad_outputs=['a'])",
     "str|Tensor|tensor|grad")
case("grad(grad_outputs count)", "L.autograd.grad([(xg * 2).sum()], [xg], grad_outputs=[L.ones(()), L.ones(())])",
     "grad_outputs|gradients", expect="RuntimeError")  # torch ignores the extra one
case("grad(input unused)", "L.autograd.grad([(xg * 2).sum()], [L.ones(2, requires_grad=True)])",
     "not have been used in the graph|allow_unused")
case("grad(input no grad)", "L.autograd.grad([(xg * 2).sum()], [x])", "does not require grad")
case("grad(output no grad)", "L.autograd.grad([x.sum()], [xg])", "does not require grad")
case("grad(int output)", "L.autograd.grad([i.sum()], [xg])", "does not require grad")
case("requires_grad int", "y = L.ones(2, dtype=L.int64)\ny.requires_grad = True", "floating point")
case("requires_grad_ int", "i.requires_grad_()", "floating point")
case("requires_grad_ bool", "b.requires_grad_()", "floating point")
case("requires_grad non-leaf off", "(xg * 2).requires_grad_(False)", "leaf")
case("grad = str", "y = L.ones(2, requires_grad=True)\ny.grad = 'a'", "str|Tensor|grad")
case("grad = wrong shape", "y = L.ones(2, requires_grad=True)\ny.grad = L.ones(3)", "different size|shape|size")
case("grad = wrong dtype", "y = L.ones(2, requires_grad=True)\ny.grad = L.ones(2, dtype=L.float64)",
     "different type|dtype|type")
case("grad = int", "y = L.ones(2, requires_grad=True)\ny.grad = L.ones(2, dtype=L.int64)", "different type|dtype|type")
case("retain_grad(no grad)", "x.retain_grad()", "requires_grad=False")
case("register_hook(no grad)", "x.register_hook(lambda g: g)", "doesn't require gradient")
case("register_hook(None)", "xg.register_hook(None)", "None|callable")
case("register_hook(int)", "xg.register_hook(3)", "int|callable")
case("hook returns str", "y = L.ones(2, requires_grad=True)\ny.register_hook(lambda g: 'a')\n(y * 2).sum().backward()",
     "str|Tensor|hook|return")
case("hook returns wrong shape", "y = L.ones(2, requires_grad=True)\ny.register_hook(lambda g: L.ones(3))\n"
     "(y * 2).sum().backward()", "hook|shape|size")
case("hook raises", "y = L.ones(2, requires_grad=True)\n"
     "y.register_hook(lambda g: 1 / 0)\n(y * 2).sum().backward()", "division by zero")
case("leaf in-place", "y = L.ones(2, requires_grad=True)\ny.add_(1)", "leaf Variable")
case("saved modified", "y = L.ones(2, requires_grad=True)\nz = y.exp()\nz.mul_(2)\nz.sum().backward()",
     "modified by an inplace operation")
case("numpy(requires grad)", "xg.numpy()", "requires grad")
case("item(many)", "x.item()", "cannot be converted to Scalar|one element|a Tensor with 6 elements")
case("item(0 size)", "e.item()", "cannot be converted to Scalar|a Tensor with 0 elements")
case("bool(many)", "bool(x)", "ambiguous")
case("bool(0 size)", "bool(e)", "ambiguous|no values")
case("int(many)", "int(x)", "only one element|cannot be converted|a Tensor with 6 elements")
case("len(0-d)", "len(L.tensor(1.0))", "0-d")
case("iter(0-d)", "iter(L.tensor(1.0))", "0-d")
case("index(float)", "[1, 2][L.tensor(0.0)]", "integer|index")
case("to(str)", "x.to('float32')", "str|dtype|device|float32")
case("to(None)", "x.to(None)")
case("to(int) grad", "xg.to(L.int64).requires_grad_()", "floating point")
case("copy_(shape)", "y = L.ones(2, 3)\ny.copy_(L.ones(4))", "size|shape|broadcast|match")
case("copy_(None)", "y = L.ones(2)\ny.copy_(None)", "None|Tensor|tensor")
case("fill_(str)", "y = L.ones(2)\ny.fill_('a')", "str|float|number|value")
case("fill_(tensor 1-d)", "y = L.ones(2)\ny.fill_(L.ones(2))", "0-dimension")
case("detach().requires_grad_ int", "i.detach().requires_grad_()", "floating point")
case("dlpack(requires grad)", "xg.__dlpack__()", "require", expect="RuntimeError")  # torch: BufferError
case("from_dlpack(None)", "L.from_dlpack(None)", "DLPack capsule", expect="ValueError")  # torch: RuntimeError

# ---- nn and optim -------------------------------------------------------------------------
F = "L.nn.functional"
case("linear(shapes)", f"{F}.linear(L.ones(2, 3), L.ones(4, 5))", "cannot be multiplied|shape|size")
case("linear(None)", f"{F}.linear(None, L.ones(4, 3))", "None|Tensor|tensor")
case("linear(bias shape)", f"{F}.linear(L.ones(2, 3), L.ones(4, 3), L.ones(5))", "size|shape|match")
case("softmax(dim)", f"{F}.softmax(x, 5)", "Dimension out of range")
case("log_softmax(int)", f"{F}.log_softmax(i, 1)", "Long|dtype|int|not implemented")
case("mse_loss(shapes)", f"{F}.mse_loss(L.ones(3), L.ones(4))", "size|shape|match")
case("mse_loss(None)", f"{F}.mse_loss(x, None)", "None|Tensor|tensor")
case("l1_loss(reduction)", f"{F}.l1_loss(x, x, reduction='bogus')", "reduction|valid|bogus")
case("cross_entropy(target range)", f"{F}.cross_entropy(L.ones(2, 3), L.tensor([0, 5]))",
     "out of bounds|Target 5|out of range|class")
case("cross_entropy(float target shape)", f"{F}.cross_entropy(L.ones(2, 3), L.ones(2))",
     "size|shape|dtype|Float|Long|match|expected")
case("cross_entropy(batch)", f"{F}.cross_entropy(L.ones(2, 3), L.tensor([0, 1, 2]))",
     "batch|size|match|Expected input batch_size")
case("nll_loss(target dtype)", f"{F}.nll_loss(L.ones(2, 3), L.ones(2))", "Long|Float|dtype|int|expected")
case("binary_cross_entropy(range)", f"{F}.binary_cross_entropy(L.tensor([2.0]), L.tensor([1.0]))",
     "between 0 and 1|range")
case("binary_cross_entropy(shapes)", f"{F}.binary_cross_entropy(L.ones(2) / 2, L.ones(3))", "size|shape|match")
case("bce_with_logits(non-finite)", f"{F}.binary_cross_entropy_with_logits(nf, L.ones(6))")
case("embedding(out of range)", f"{F}.embedding(L.tensor([5]), L.ones(3, 2))", "out of range|index|bounds")
case("embedding(float index)", f"{F}.embedding(L.tensor([0.5]), L.ones(3, 2))", "Long|Int|index|dtype")
case("dropout(p)", f"{F}.dropout(x, 1.5)", "probability|between 0 and 1|p")
case("layer_norm(shape)", f"{F}.layer_norm(x, (4,))", "normalized_shape|shape|size|expected")
case("one_hot(float)", f"{F}.one_hot(x)", "Long|index|int|dtype|one_hot")
case("one_hot(negative)", f"{F}.one_hot(L.tensor([-1]))", "non-negative|negative|Class values")
case("one_hot(classes)", f"{F}.one_hot(L.tensor([3]), 2)", "Class values must be smaller than num_classes")
case("Linear(negative)", "L.nn.Linear(-1, 2)", "negative|Trying to create tensor|dimension")
case("Linear(huge)", "L.nn.Linear(2 ** 20, 2 ** 20)", "allocat|memory")
case("Linear(str)", "L.nn.Linear('a', 2)", "str|int|size")
case("Linear()(wrong shape)", "L.nn.Linear(3, 2)(L.ones(2, 4))", "cannot be multiplied|shape|size")
case("Linear()(None)", "L.nn.Linear(3, 2)(None)", "None|Tensor|tensor|NoneType")
case("Embedding(negative)", "L.nn.Embedding(-1, 2)", "negative|Trying to create tensor|dimension")
case("Sequential(non-module)", "L.nn.Sequential(3)", "Module|int|subclass")
case("load_state_dict(missing)", "L.nn.Linear(2, 2).load_state_dict({})", "Missing key|missing|weight")
case("load_state_dict(shape)", "L.nn.Linear(2, 2).load_state_dict({'weight': L.ones(3, 3), 'bias': L.ones(2)})",
     "size mismatch|shape")
case("SGD(no params)", "L.optim.SGD([], lr=0.1)", "empty parameter list")
case("SGD(negative lr)", "L.optim.SGD([xg], lr=-1)", "Invalid learning rate")
case("SGD(params None)", "L.optim.SGD(None, lr=0.1)", "None|iterable|Tensor|params")
case("SGD(non-tensor)", "L.optim.SGD([1.0], lr=0.1)", "float|Tensor|tensor|optimize")
case("SGD(non-leaf)", "L.optim.SGD([xg * 2], lr=0.1)", "leaf")
case("Adam(betas)", "L.optim.Adam([xg], betas=(1.5, 0.9))", "Invalid beta parameter")
case("Adam(eps)", "L.optim.Adam([xg], eps=-1)", "Invalid epsilon value")
case("Adam(non-finite grad)", "p = L.ones(2, requires_grad=True)\nopt = L.optim.Adam([p])\n"
     "p.grad = L.tensor([float('nan'), float('inf')])\nopt.step()\nout = p")
case("clip_grad_norm_(nan)", "p = L.ones(2, requires_grad=True)\np.grad = L.tensor([float('nan'), 1.0])\n"
     "out = L.nn.utils.clip_grad_norm_([p], 1.0)")
case("clip_grad_norm_(error_if_nonfinite)", "p = L.ones(2, requires_grad=True)\n"
     "p.grad = L.tensor([float('nan'), 1.0])\nL.nn.utils.clip_grad_norm_([p], 1.0, error_if_nonfinite=True)",
     "non-finite|nan|inf")


# ---- a float where torch takes an int -------------------------------------------------------
FLOAT = "must be int|int"
case("eye(2.5) as int", "L.eye(2.5)", FLOAT)
case("transpose(1.5)", "x.transpose(1.5, 0)", FLOAT)
case("narrow(0.5)", "x.narrow(0, 0.5, 1)", FLOAT)
case("narrow(dim 0.0)", "x.narrow(0.0, 0, 1)", FLOAT)
case("unsqueeze(0.7)", "x.unsqueeze(0.7)", FLOAT)
case("cat(dim 0.5)", "L.cat([x, x], 0.5)", FLOAT)
case("stack(dim 0.5)", "L.stack([x, x], 0.5)", FLOAT)
case("unbind(0.5)", "x.unbind(0.5)", FLOAT)
case("softmax(dim 0.5)", "x.softmax(0.5)", FLOAT)
case("split(1.5)", "x.split(1.5)", FLOAT)
case("split(dim 0.5)", "x.split(1, 0.5)", FLOAT)
case("randint(high 5.5)", "L.randint(0, 5.5, (2,))", FLOAT)
case("one_hot(3.5)", f"{F}.one_hot(L.tensor([1]), 3.5)", FLOAT)


# ---- running them -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def results():
    names = sorted(CASES)
    cases = [(n, CASES[n]) for n in names]
    return harness.run_cases(cases, "cgrad", SETUP), harness.run_cases(cases, "torch", SETUP)


def _same(a, b):
    """Result summaries equal, NaN equal to NaN."""
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(p, q) for p, q in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-5, abs_tol=1e-6)
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return math.isclose(a, b, rel_tol=1e-5, abs_tol=1e-6)
    return a == b


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.xfail(reason=KNOWN[n], strict=True))
                                  if n in KNOWN else n for n in sorted(CASES)])
def test_bad_input(name, results):
    ours, theirs = results[0][name], results[1][name]
    assert "crashed" not in ours, f"{name}: {CASES[name]!r} crashed cgrad:\n{ours['crashed']}"
    assert "crashed" not in theirs, theirs["crashed"]
    expected = EXPECT.get(name) or theirs.get("raised")
    if expected:
        assert "raised" in ours, f"{name}: torch raises {theirs.get('raised')} ({theirs.get('message')!r}); " \
                                 f"cgrad returned {ours['ok']!r}"
        assert ours["raised"] == expected, f"{name}: torch raises {expected}: {theirs.get('message')!r}; " \
                                           f"cgrad raised {ours['type']}: {ours['message']!r}"
        pattern = SAYS.get(name)
        assert ours["message"].strip(), f"{name}: cgrad's {ours['type']} has no message"
        if pattern:
            assert re.search(pattern, ours["message"], re.IGNORECASE), \
                f"{name}: cgrad's message {ours['message']!r} does not say /{pattern}/ (torch: {theirs.get('message')!r})"
    else:
        assert "ok" in ours, f"{name}: torch returns {theirs['ok']!r}; cgrad raised {ours['type']}: {ours['message']!r}"
        assert _same(ours["ok"], theirs["ok"]), f"{name}: cgrad gives {ours['ok']!r}, torch {theirs['ok']!r}"


def test_every_case_ran(results):
    assert set(results[0]) == set(CASES) and set(results[1]) == set(CASES)

