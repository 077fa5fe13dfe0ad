"""Higher-order gradients of every differentiable op.

OPS is the one registry: each entry names an op, gives it as ``fn(lib, *inputs)``
(lib is cgrad or torch) and says how to draw its float64 inputs. Every entry is
checked with gradcheck and gradgradcheck (float64 finite differences), and its
first and second derivatives are compared with torch's. Entries marked
``third=True`` (element-wise math) also get a third-order check.

To add an op: append an ``Op(...)`` line in its family's block (a test below
names every backward formula in csrc/ that no entry reaches). An entry may say
``needs="method"`` for an op a branch in flight adds: it is skipped, saying so,
until that branch is merged.
"""
import importlib
from dataclasses import dataclass, field

import numpy as np
import pytest

import cgrad
from cgrad.autograd import grad, gradcheck, gradgradcheck


@dataclass
class Op:
    name: str
    fn: object              # fn(lib, *tensors) -> tensor
    shapes: list            # one shape tuple per input
    domain: object = None   # None: normal; (low, high): uniform; "nonzero"; "positive"; or one per input
    third: bool = False     # also check the third derivative
    requires_grad: list = field(default=None)  # one bool per input; default all True
    tol: dict = field(default_factory=dict)  # gradcheck's eps/atol/rtol, for ops through float32
    needs: str = None       # the Tensor method or cgrad function it needs, for ops of other branches
    torch_second: bool = True  # PyTorch has its second derivative (hardsigmoid's it has not)
    first_only: str = None  # PyTorch's backward is not differentiable: the error its second derivative raises


POS = (0.5, 2.0)  # a domain away from 0 (log, sqrt, pow with a real exponent)
F32 = dict(eps=1e-3, atol=1e-3, rtol=1e-2)  # finite differences through a float32 value

OPS = [
    # ---- arithmetic (ops_elementwise.c)
    Op("add", lambda m, a, b: a + b, [(3, 4), (3, 4)]),
    Op("add broadcast", lambda m, a, b: a + b, [(2, 1, 4), (3, 1)]),
    Op("add scalar", lambda m, a: a + 2.5, [(3,)]),
    Op("add alpha", lambda m, a, b: m.add(a, b, alpha=3), [(3,), (3,)]),
    Op("sub", lambda m, a, b: a - b, [(3, 4), (4,)]),
    Op("rsub", lambda m, a: 1.5 - a, [(3,)]),
    Op("sub alpha", lambda m, a, b: a.sub(b, alpha=2), [(2, 3), (3,)]),
    Op("mul", lambda m, a, b: a * b, [(3, 4), (3, 4)], third=True),
    Op("mul broadcast", lambda m, a, b: a * b, [(2, 3), ()], third=True),
    Op("mul self", lambda m, a: a * a, [(4,)], third=True),
    Op("mul scalar", lambda m, a: a * 3.0, [(4,)]),
    Op("div", lambda m, a, b: a / b, [(3, 4), (4,)], domain=[None, "nonzero"], third=True),
    Op("rdiv", lambda m, a: 2.0 / a, [(3,)], domain="nonzero", third=True),
    Op("neg", lambda m, a: -a, [(2, 3)]),
    Op("pow 2", lambda m, a: a ** 2, [(3, 2)], third=True),
    Op("pow 3", lambda m, a: a ** 3, [(3,)], third=True),
    Op("pow 0.5", lambda m, a: a ** 0.5, [(3,)], domain=POS, third=True),
    Op("pow -1", lambda m, a: a ** -1, [(3,)], domain="nonzero", third=True),
    Op("pow -0.5", lambda m, a: a ** -0.5, [(3,)], domain=POS, third=True),
    Op("pow 2.5", lambda m, a: a ** 2.5, [(3,)], domain=POS, third=True),
    Op("pow 0", lambda m, a: a ** 0, [(3,)]),
    Op("pow 1", lambda m, a: a ** 1, [(3,)]),
    Op("pow tensor", lambda m, a, b: a ** b, [(3,), (3,)], domain=[POS, None], third=True),
    Op("pow tensor broadcast", lambda m, a, b: a ** b, [(2, 3), (3,)], domain=[POS, None]),
    Op("rpow", lambda m, a: 2.0 ** a, [(3,)], third=True),
    Op("exp", lambda m, a: a.exp(), [(3, 2)], third=True),
    Op("log", lambda m, a: a.log(), [(3, 2)], domain=POS, third=True),
    Op("tanh", lambda m, a: a.tanh(), [(3, 2)], third=True),
    Op("sigmoid", lambda m, a: a.sigmoid(), [(3, 2)], third=True),
    Op("relu", lambda m, a: a.relu(), [(3, 2)], domain="nonzero", third=True),
    Op("to float32 and back", lambda m, a: a.float().double() * a, [(3,)], tol=F32),
    Op("mixed dtypes", lambda m, a, b: a.float() * b, [(3,), (3,)], tol=F32),
    Op("clone", lambda m, a: a.clone() * a, [(2, 3)]),
    # in place, on a non-leaf
    Op("add_", lambda m, a, b: (a * 1).add_(b * b), [(3,), (3,)]),
    Op("sub_", lambda m, a, b: (a * a).sub_(b), [(3,), (3,)]),
    Op("mul_", lambda m, a, b: (a * 1).mul_(b * a), [(3,), (3,)]),
    Op("div_", lambda m, a, b: (a * a).div_(b), [(3,), (3,)], domain=[None, "nonzero"]),
    Op("copy_", lambda m, a, b: (a * 1).copy_(b * b) * a, [(2, 3), (3,)]),
    Op("fill_", lambda m, a: (a * 1).fill_(2.0) * a, [(2, 3)]),
    Op("zero_", lambda m, a: (a * a).zero_() + a * a, [(2, 3)]),
    # ---- reductions (ops_reduce.c)
    Op("sum", lambda m, a: (a * a).sum(), [(3, 4)]),
    Op("sum dim", lambda m, a: (a * a).sum(1), [(3, 4)]),
    Op("sum dims keepdim", lambda m, a: (a * a).sum((0, 2), keepdim=True), [(2, 3, 4)]),
    Op("nansum dim", lambda m, a: m.nansum(a * a, 1), [(3, 4)]),
    Op("mean", lambda m, a: (a * a).mean(), [(3, 4)]),
    Op("mean dim", lambda m, a: (a * a).mean(-1, keepdim=True), [(3, 4)]),
    # ---- linear algebra (ops_linalg.c)
    Op("matmul dot", lambda m, a, b: (a * a) @ b, [(4,), (4,)]),
    Op("matmul mv", lambda m, a, b: a @ (b * b), [(3, 4), (4,)]),
    Op("matmul mm", lambda m, a, b: (a @ b).tanh(), [(3, 4), (4, 2)]),
    Op("matmul vm", lambda m, a, b: a @ b.exp(), [(4,), (4, 2)]),
    Op("matmul batched", lambda m, a, b: (a @ b) * (a @ b), [(2, 3, 4), (2, 4, 2)]),
    Op("matmul broadcast", lambda m, a, b: (a @ b).sigmoid(), [(2, 1, 3, 4), (3, 4, 2)]),
    Op("matmul folded", lambda m, a, b: (a @ b) ** 2, [(2, 3, 4), (4, 2)]),
    Op("matmul 2d @ 3d", lambda m, a, b: (a @ b) ** 2, [(3, 4), (2, 4, 2)]),
    Op("matmul self", lambda m, a: a @ a.T, [(3, 4)]),
    Op("addmm", lambda m, i, a, b: m.addmm(i, a, b, beta=0.5, alpha=-1.5).tanh(), [(4,), (3, 2), (2, 4)]),
    Op("baddbmm", lambda m, i, a, b: m.baddbmm(i, a, b, beta=2, alpha=0.5) ** 2, [(3, 1), (2, 3, 2), (2, 2, 4)]),
    Op("cross", lambda m, a, b: m.cross(a, b, dim=1) ** 2, [(2, 3), (1, 3)]),
    Op("inverse", lambda m, a: m.inverse(a), [(3, 3)]),
    Op("det", lambda m, a: m.det(a), [(2, 3, 3)]),
    Op("slogdet", lambda m, a: m.slogdet(a)[1], [(3, 3)]),
    Op("pinverse", lambda m, a: m.pinverse(a), [(3, 4)]),
    Op("pinverse tall", lambda m, a: m.pinverse(a.mT), [(2, 4)]),
    # ---- factorizations and solvers (ops_linalg_lapack.c)
    Op("linalg.cholesky", lambda m, a: m.linalg.cholesky(a @ a.mT + 3 * m.eye(3, dtype=a.dtype)), [(3, 3)]),
    Op("linalg.solve", lambda m, a, b: m.linalg.solve(a + 3 * m.eye(3, dtype=a.dtype), b), [(3, 3), (3, 2)]),
    Op("linalg.solve_triangular", lambda m, a, b: m.linalg.solve_triangular(a + 3 * m.eye(3, dtype=a.dtype), b,
                                                                            upper=True), [(3, 3), (3, 2)]),
    Op("linalg.lu_factor", lambda m, a: m.linalg.lu_factor(a).LU, [(3, 3)]),
    Op("linalg.lu", lambda m, a: m.linalg.lu(a).U, [(3, 4)]),
    Op("linalg.lu_solve", lambda m, a, b: m.linalg.lu_solve(*m.linalg.lu_factor(a + 3 * m.eye(3, dtype=a.dtype)), b),
       [(3, 3), (3, 2)]),
    Op("linalg.eigh", lambda m, a: m.linalg.eigh(a + a.mT).eigenvectors.abs(), [(3, 3)]),
    Op("linalg.qr", lambda m, a: m.linalg.qr(a).Q, [(4, 3)]),
    Op("linalg.svd", lambda m, a: m.linalg.svd(a, full_matrices=False).U.abs(), [(4, 3)]),
    # ---- shape (ops_shape.c)
    Op("reshape", lambda m, a: a.reshape(4, 3) ** 2, [(3, 4)]),
    Op("view", lambda m, a: a.view(-1) * a.view(-1), [(3, 4)]),
    Op("reshape non-contiguous", lambda m, a: a.T.reshape(-1) ** 2, [(3, 4)]),
    Op("transpose", lambda m, a: a.transpose(0, 1) * a.transpose(0, 1), [(3, 4)]),
    Op("permute", lambda m, a: a.permute(2, 0, 1) ** 2, [(2, 3, 4)]),
    Op("T", lambda m, a, b: a.T * b, [(3, 4), (4, 3)]),
    Op("mT", lambda m, a: a.mT @ a, [(2, 3, 4)]),
    Op("t", lambda m, a: a.t() * a.t().exp(), [(2, 3)]),
    Op("div floor", lambda m, a, b: m.div(a, b, rounding_mode="floor") * a, [(2, 3), (3,)], domain="nonzero"),
    Op("div trunc", lambda m, a: a.div(0.3, rounding_mode="trunc") + a * a, [(4,)]),
    Op("round decimals", lambda m, a: a.round(decimals=2) * a, [(2, 3)]),
    Op("sgn", lambda m, a: (a.sgn() + m.sgn(a) * a) ** 2, [(2, 3)]),
    Op("getitem of everything", lambda m, a: a[...] * a[:, :].exp(), [(2, 3)]),
    Op("fill_ with a tensor", lambda m, a, v: (a * 1).fill_(v.sum()) * a, [(2, 3), (3,)]),
    Op("t of a vector", lambda m, a: m.t(a) ** 2, [(3,)]),
    Op("unsqueeze", lambda m, a: a.unsqueeze(1) * a.unsqueeze(0), [(3,)]),
    Op("squeeze", lambda m, a: a.squeeze() ** 2, [(3, 1, 2)]),
    Op("squeeze dim", lambda m, a: a.squeeze(1) ** 2, [(3, 1, 2)]),
    Op("squeeze dims", lambda m, a: a.squeeze((1, 3)) ** 2, [(3, 1, 2, 1)]),
    Op("expand", lambda m, a: a.expand(3, 4) * a.expand(3, 4), [(1, 4)]),
    Op("contiguous", lambda m, a: a.T.contiguous() ** 2, [(3, 4)]),
    Op("flatten", lambda m, a: a.flatten(1) ** 2, [(2, 3, 2)]),
    Op("unflatten", lambda m, a: a.unflatten(1, (2, 2)) ** 2, [(3, 4)]),
    Op("view_as", lambda m, a, b: a.view_as(b) * b, [(3, 4), (4, 3)]),
    Op("expand_as", lambda m, a, b: a.expand_as(b) * b, [(1, 4), (3, 4)]),
    Op("broadcast_to", lambda m, a: a.broadcast_to((2, 3)) ** 2, [(3,)]),
    Op("movedim", lambda m, a: a.movedim(0, 2) ** 2, [(2, 3, 4)]),
    Op("swapaxes", lambda m, a: a.swapaxes(0, 1) ** 2, [(2, 3)]),
    Op("flip", lambda m, a: a.flip(0) * a, [(3, 2)]),
    Op("roll", lambda m, a: a.roll(1, 1) * a, [(3, 4)]),
    Op("repeat", lambda m, a: a.repeat(2, 3) ** 2, [(2, 2)]),
    Op("tile", lambda m, a: a.tile((2,)) ** 2, [(3,)]),
    Op("narrow", lambda m, a: a.narrow(1, 1, 2) ** 2, [(3, 4)]),
    Op("view_copy", lambda m, a: m.view_copy(a.T, (-1,)) ** 2, [(3, 4)]),
    Op("transpose_copy", lambda m, a: m.transpose_copy(a, 0, 1) ** 2, [(3, 4)]),
    Op("narrow_copy", lambda m, a: a.narrow_copy(1, 1, 2) ** 2, [(3, 4)]),
    Op("t_", lambda m, a: (a * 1).t_() ** 2, [(3, 4)]),
    Op("transpose_", lambda m, a: (a * a).transpose_(0, 2) * 1, [(2, 3, 2)]),
    Op("unsqueeze_", lambda m, a: (a * 1).unsqueeze_(1) ** 2, [(3,)]),
    Op("squeeze_", lambda m, a: (a * 1).squeeze_() ** 2, [(3, 1, 2)]),
    Op("squeeze_ dim", lambda m, a: (a * 1).squeeze_(1) ** 2, [(3, 1, 2)]),
    Op("squeeze_ dims", lambda m, a: (a * 1).squeeze_((1, 3)) ** 2, [(3, 1, 2, 1)]),
    Op("conj_physical_", lambda m, a: (a * a).conj_physical_() * a, [(2, 3)]),
    Op("conj_physical_ on a view", lambda m, a: (lambda y: (y[1:].conj_physical_(), y)[1])(a * a) * a, [(3, 2)]),
    # ---- indexing and joining (ops_index.c)
    Op("select", lambda m, a: a[1] * a[2], [(3, 4)]),
    Op("slice", lambda m, a: a[1:, ::2] ** 2, [(3, 4)]),
    Op("index none ellipsis", lambda m, a: a[None, ..., 1] ** 2, [(2, 3)]),
    Op("index tensor", lambda m, a: a[m.tensor([2, 0, 1, 1])] ** 2, [(3, 4)]),
    Op("index list", lambda m, a: a[[0, 2], 1:] ** 2, [(3, 4)]),
    Op("index mask", lambda m, a: a[m.tensor([True, False, True])] ** 2, [(3, 2)]),
    Op("setitem", lambda m, a, b: _setitem(a, b), [(3, 4), (4,)]),
    Op("index_put accumulate", lambda m, a, b: (a * 1).index_put((m.tensor([0, 0, 2]),), b, accumulate=True),
       [(3, 2), (3, 2)]),
    Op("split", lambda m, a: a.split(2, 1)[1] * a.split(2, 1)[0], [(3, 4)]),
    Op("split sizes", lambda m, a: a.split([1, 3], 1)[1] ** 2, [(3, 4)]),
    Op("chunk", lambda m, a: a.chunk(2, 0)[0] ** 2, [(4, 3)]),
    Op("unbind", lambda m, a: a.unbind(1)[0] * a.unbind(1)[2], [(2, 3)]),
    Op("cat", lambda m, a, b: m.cat([a, b * b], 0) ** 2, [(2, 3), (1, 3)]),
    Op("stack", lambda m, a, b: m.stack([a, b], 1) ** 2, [(2, 3), (2, 3)]),
    # ---- diagonals, windows and regions replaced (ops_views.c)
    Op("diagonal", lambda m, a: a.diagonal(1, -1, 0) ** 2, [(3, 4, 2)]),
    Op("trace", lambda m, a: m.trace(a) * a, [(3, 4)]),
    Op("diag_embed", lambda m, a: m.diag_embed(a, -1, 0, 2) ** 2, [(2, 3)]),
    Op("tril", lambda m, a: a.tril(-1) * a, [(2, 3, 4)]),
    Op("triu", lambda m, a: m.triu(a, 1) ** 2, [(4, 3)]),
    Op("tril_ on a non-leaf", lambda m, a: (a * 1).tril_(1) * a, [(3, 3)]),
    Op("unfold", lambda m, a: a.unfold(1, 2, 3) ** 2, [(3, 5)]),
    Op("unfold overlapping", lambda m, a: a.unfold(-1, 3, 1) ** 2, [(2, 5)]),
    # as_strided and its family (ops_strided.c); as_strided_scatter's input gradient: test_as_strided.py
    Op("as_strided windows", lambda m, a: a.as_strided((4, 3), (1, 1)) ** 2, [(6,)]),
    Op("as_strided of a transpose", lambda m, a: a.t().as_strided((3, 2), (1, 3), 1) ** 2, [(3, 4)]),
    Op("as_strided of an expanded input", lambda m, a: a.expand(2, 3).as_strided((2, 2), (1, 1)) ** 2, [(3,)]),
    Op("as_strided_", lambda m, a: (a * 1).as_strided_((2, 2), (1, 2), 1) ** 2, [(6,)]),
    Op("as_strided_copy", lambda m, a: m.as_strided_copy(a, (2, 3), (1, 1)) ** 2, [(4,)]),
    Op("as_strided_scatter", lambda m, a, b: m.as_strided_scatter(a, b * b, (2, 2), (1, 3), 1) ** 2,
       [(6,), (2, 2)], requires_grad=[False, True]),
    Op("diagonal_scatter", lambda m, a, b: m.diagonal_scatter(a, b, -1) ** 2, [(3, 4), (2,)]),
    Op("select_scatter", lambda m, a, b: m.select_scatter(a, b, 1, -2) ** 2, [(3, 4), (3,)]),
    Op("slice_scatter", lambda m, a, b: m.slice_scatter(a, b, 1, 1, None, 2) ** 2, [(3, 4), (3, 2)]),
    Op("rot90", lambda m, a: m.rot90(a, 3, [1, 0]) * m.rot90(a, 1), [(3, 3)]),
    Op("aminmax", lambda m, a: m.aminmax(a, dim=1).min * a.aminmax().max, [(3, 4)]),
    Op("aminmax keepdim", lambda m, a: a.aminmax(dim=0, keepdim=True).max * 2, [(3, 4)]),
    # ---- element-wise math (ops_math.c)
    Op("sin", lambda m, a: a.sin(), [(3, 2)], third=True, needs="sin"),
    Op("cos", lambda m, a: a.cos(), [(3, 2)], third=True, needs="cos"),
    Op("tan", lambda m, a: a.tan(), [(3, 2)], domain=(-1, 1), third=True, needs="tan"),
    Op("asin", lambda m, a: a.asin(), [(3,)], domain=(-0.8, 0.8), third=True, needs="asin"),
    Op("acos", lambda m, a: a.acos(), [(3,)], domain=(-0.8, 0.8), third=True, needs="acos"),
    Op("atan", lambda m, a: a.atan(), [(3,)], third=True, needs="atan"),
    Op("sinh", lambda m, a: a.sinh(), [(3,)], third=True, needs="sinh"),
    Op("cosh", lambda m, a: a.cosh(), [(3,)], third=True, needs="cosh"),
    Op("erf", lambda m, a: a.erf(), [(3,)], third=True, needs="erf"),
    Op("abs", lambda m, a: a.abs() * a, [(3,)], domain="nonzero", third=True, needs="abs"),
    Op("sign", lambda m, a: a.sign() * a, [(3,)], domain="nonzero", needs="sign"),
    Op("floor", lambda m, a: a.floor() * a, [(3,)], domain=(1.1, 1.9), needs="floor"),
    Op("ceil", lambda m, a: a.ceil() * a, [(3,)], domain=(1.1, 1.9), needs="ceil"),
    Op("round", lambda m, a: a.round() * a, [(3,)], domain=(1.1, 1.4), needs="round"),
    Op("trunc", lambda m, a: a.trunc() * a, [(3,)], domain=(-1.9, -1.1), needs="trunc"),
    Op("frac", lambda m, a: a.frac() * a, [(3,)], domain=(1.1, 1.9), third=True, needs="frac"),
    Op("sqrt", lambda m, a: a.sqrt(), [(3,)], domain=POS, third=True, needs="sqrt"),
    Op("rsqrt", lambda m, a: a.rsqrt(), [(3,)], domain=POS, third=True, needs="rsqrt"),
    Op("reciprocal", lambda m, a: a.reciprocal(), [(3,)], domain="nonzero", third=True, needs="reciprocal"),
    Op("exp2", lambda m, a: a.exp2(), [(3,)], third=True, needs="exp2"),
    Op("expm1", lambda m, a: a.expm1(), [(3,)], third=True, needs="expm1"),
    Op("log1p", lambda m, a: a.log1p(), [(3,)], domain=POS, third=True, needs="log1p"),
    Op("log2", lambda m, a: a.log2(), [(3,)], domain=POS, third=True, needs="log2"),
    Op("log10", lambda m, a: a.log10(), [(3,)], domain=POS, third=True, needs="log10"),
    Op("cumsum", lambda m, a: a.cumsum(1) * a, [(2, 3)], third=True, needs="cumsum"),
    Op("cumprod", lambda m, a: a.cumprod(1) * a, [(2, 4)], domain="nonzero", third=True, needs="cumprod"),
    Op("cumsum_", lambda m, a: (a * a).cumsum_(1) * a, [(2, 3)]),
    Op("cumprod_", lambda m, a: (a * 1).cumprod_(-1) * a, [(2, 4)], domain="nonzero"),
    Op("cummax", lambda m, a: a.cummax(1).values * a, [(2, 4)], needs="cummax"),
    Op("cummin", lambda m, a: a.cummin(0)[0] * a, [(3, 2)], needs="cummin"),
    Op("logcumsumexp", lambda m, a: a.logcumsumexp(1) * a, [(2, 4)], needs="logcumsumexp"),
    Op("fmod", lambda m, a, b: m.fmod(a, b) * a, [(2, 3), (3,)], domain=[(1.1, 1.9), (0.5, 0.9)], needs="fmod"),
    Op("fmod by a number", lambda m, a: a.fmod(0.7) * a, [(3,)], domain=(1.5, 1.9), needs="fmod"),
    Op("hypot", lambda m, a, b: m.hypot(a, b), [(2, 3), (3,)], third=True, needs="hypot"),
    Op("addcmul", lambda m, a, b, c: m.addcmul(a, b, c, value=0.7), [(2, 3), (3,), (2, 1)], third=True,
       needs="addcmul"),
    Op("addcmul_", lambda m, a, b, c: (a * 1).addcmul_(b, c * a, value=-0.5), [(2, 3), (3,), (2, 1)]),
    Op("addcdiv", lambda m, a, b, c: m.addcdiv(a, b, c, value=0.7), [(2, 3), (3,), (2, 1)],
       domain=[None, None, "nonzero"], third=True),
    Op("addcdiv_", lambda m, a, b, c: (a * 1).addcdiv_(b * a, c, value=2), [(2, 3), (2, 3), (3,)],
       domain=[None, None, "nonzero"]),
    Op("deg2rad", lambda m, a: a.deg2rad() * a, [(2, 3)]),
    Op("rad2deg", lambda m, a: m.rad2deg(a) ** 2, [(3,)]),
    Op("deg2rad_", lambda m, a: (a * a).deg2rad_(), [(3,)]),
    Op("rad2deg_", lambda m, a: (a * 1).rad2deg_() * a, [(2, 2)]),
    Op("nan_to_num", lambda m, a: a.log().nan_to_num(0.5) * a, [(2, 3)], domain="nonzero"),
    Op("nan_to_num_", lambda m, a: a.log().nan_to_num_(posinf=1.0, neginf=-1.0) * a, [(2, 3)], domain="nonzero"),
    Op("normal_", lambda m, a: (a * 1).normal_(2.0, 0.0) * a, [(2, 3)]),
    Op("uniform_", lambda m, a: (a * a).uniform_(-1.5, -1.5) * a, [(3,)]),
    Op("atan2", lambda m, a, b: m.atan2(a, b), [(3,), (3,)], domain=[POS, POS], third=True, needs="atan2"),
    Op("clamp", lambda m, a: a.clamp(-0.5, 0.5) * a, [(6,)], needs="clamp"),
    Op("clamp min=", lambda m, a: a.clamp(min=-0.3) * a, [(6,)], needs="clamp"),
    Op("clamp max=", lambda m, a: a.clamp(max=0.3) * a, [(6,)], needs="clamp"),
    Op("clamp tensor", lambda m, a, b: a.clamp(b) * a, [(6,), (6,)], needs="clamp"),
    Op("clamp tensor max=", lambda m, a, b: a.clamp(max=b) * a, [(6,), (6,)], needs="clamp"),
    Op("clamp_min", lambda m, a: a.clamp_min(-0.3) * a, [(6,)], needs="clamp_min"),
    Op("clamp_max", lambda m, a: a.clamp_max(0.3) * a, [(6,)], needs="clamp_max"),
    Op("clamp_min tensor", lambda m, a, b: a.clamp_min(b) * a, [(6,), (6,)], needs="clamp_min"),
    Op("clamp_max tensor", lambda m, a, b: a.clamp_max(b) * a, [(6,), (6,)], needs="clamp_max"),
    Op("maximum", lambda m, a, b: m.maximum(a, b) * a, [(4,), (4,)], needs="maximum"),
    Op("minimum", lambda m, a, b: m.minimum(a, b) * a, [(4,), (4,)], needs="minimum"),
    Op("where", lambda m, a, b: m.where(a > 0, a * a, b), [(4,), (4,)], needs="where"),
    Op("lerp", lambda m, a, b: m.lerp(a, b, 0.3) ** 2, [(4,), (4,)], needs="lerp"),
    Op("lerp tensor", lambda m, a, b, c: m.lerp(a, b, c) ** 2, [(4,), (4,), (4,)], needs="lerp"),
    Op("remainder", lambda m, a, b: m.remainder(a, b), [(4,), (4,)], domain=[POS, (2.5, 3.0)],
       needs="remainder"),
    Op("remainder scalar", lambda m, a: m.remainder(a, 0.7), [(4,)], domain=POS, needs="remainder"),
    Op("logaddexp", lambda m, a, b: m.logaddexp(a, b), [(2, 3), (3,)], third=True),
    Op("xlogy", lambda m, a, b: m.xlogy(a, b), [(2, 3), (3,)], domain=[None, POS], third=True),
    Op("xlogy number y", lambda m, a: m.xlogy(a, 0.7) * a, [(3,)], third=True),
    Op("xlogy number x", lambda m, b: m.xlogy(1.5, b), [(3,)], domain=POS, third=True),
    Op("sinc", lambda m, a: a.sinc(), [(3, 2)], third=True),
    Op("erfinv", lambda m, a: a.erfinv(), [(3,)], domain=(-0.8, 0.8), third=True),
    Op("asinh", lambda m, a: a.asinh(), [(3,)], third=True),
    Op("acosh", lambda m, a: a.acosh(), [(3,)], domain=(1.2, 3.0), third=True),
    Op("atanh", lambda m, a: a.atanh(), [(3,)], domain=(-0.8, 0.8), third=True),
    Op("erfc", lambda m, a: a.erfc(), [(3,)], third=True),
    Op("lgamma", lambda m, a: a.lgamma(), [(3,)], domain=POS, third=True),
    Op("digamma", lambda m, a: a.digamma(), [(3,)], domain=POS, third=True),
    Op("polygamma 2", lambda m, a: m.polygamma(2, a), [(3,)], domain=POS, third=True),
    Op("mvlgamma 3", lambda m, a: m.mvlgamma(a, 3), [(3,)], domain=(2.0, 4.0), third=True),
    Op("polygamma_", lambda m, a: (a * 1).polygamma_(1), [(3,)], domain=POS, third=True),
    Op("mvlgamma_", lambda m, a: (a * 1).mvlgamma_(2), [(3,)], domain=(2.0, 4.0)),
    Op("i0", lambda m, a: a.i0(), [(3,)], third=True),
    Op("logit", lambda m, a: a.logit(), [(3,)], domain=(0.1, 0.9), third=True),
    Op("logit eps", lambda m, a: m.logit(a, eps=0.2), [(4,)], domain=(0.05, 0.95), third=True),
    Op("copysign", lambda m, a, b: m.copysign(a, b), [(2, 3), (3,)], domain=["nonzero", "nonzero"], third=True),
    Op("copysign number", lambda m, a: a.copysign(-1.5), [(3,)], domain="nonzero", third=True),
    Op("fmax", lambda m, a, b: m.fmax(a, b), [(2, 3), (3,)]),
    Op("nextafter", lambda m, a, b: m.nextafter(a, b), [(2, 3), (3,)]),
    Op("fmin", lambda m, a, b: a.fmin(b), [(3,), (2, 3)]),
    Op("logaddexp2", lambda m, a, b: m.logaddexp2(a, b), [(2, 3), (3,)], third=True),
    Op("ldexp", lambda m, a, b: m.ldexp(a, b), [(2, 3), (3,)], third=True),
    Op("float_power", lambda m, a, b: m.float_power(a, b), [(2, 3), (3,)], domain=[POS, None], third=True),
    # ---- torch.special (ops_math.c, kernels_special.c)
    Op("special.erfcx", lambda m, a: m.special.erfcx(a), [(3,)], third=True),
    Op("special.i0e", lambda m, a: m.special.i0e(a), [(3,)], third=True),
    Op("special.i1", lambda m, a: m.special.i1(a), [(3,)], third=True),
    Op("special.i1e", lambda m, a: m.special.i1e(a), [(3,)], third=True),
    Op("special.ndtri", lambda m, a: m.special.ndtri(a), [(3,)], domain=(0.1, 0.9), third=True),
    Op("special.log_ndtr", lambda m, a: m.special.log_ndtr(a), [(3,)], third=True),
    Op("special.ndtr", lambda m, a: m.special.ndtr(a), [(3,)], third=True),
    Op("special.entr", lambda m, a: m.special.entr(a), [(3,)], domain=POS, third=True),
    Op("special.xlog1py", lambda m, a, b: m.special.xlog1py(a, b), [(2, 3), (3,)], domain=[None, POS], third=True),
    Op("special.xlog1py number y", lambda m, a: m.special.xlog1py(a, 0.7) * a, [(3,)], third=True),
    Op("special.xlog1py number x", lambda m, b: m.special.xlog1py(1.5, b), [(3,)], domain=POS, third=True),
    Op("special.zeta", lambda m, a, b: m.special.zeta(a, b), [(3,), (3,)], domain=[(2.0, 3.0), POS],
       requires_grad=[False, True], third=True),
    Op("special.zeta number s", lambda m, b: m.special.zeta(2.5, b), [(3,)], domain=POS, third=True),
    # ---- reductions, gather and scatter (ops_reduce.c, ops_gather.c)
    Op("prod", lambda m, a: a.prod(), [(4,)], domain="nonzero", needs="prod"),
    Op("prod dim", lambda m, a: a.prod(1), [(2, 3)], domain="nonzero", needs="prod"),
    Op("var", lambda m, a: a.var(1), [(2, 4)], needs="var"),
    Op("std", lambda m, a: a.std(), [(5,)], needs="std"),
    Op("amax", lambda m, a: a.amax(1) * 2, [(2, 4)], needs="amax"),
    Op("amin", lambda m, a: a.amin(1) * 2, [(2, 4)], needs="amin"),
    Op("max", lambda m, a: a.max() * a, [(4,)], needs="max"),
    Op("max dim", lambda m, a: a.max(1).values * 2, [(2, 4)], needs="max"),
    Op("min", lambda m, a: a.min() * a, [(4,)], needs="min"),
    Op("min dim", lambda m, a: a.min(1)[0] * 2, [(2, 4)], needs="min"),
    Op("kthvalue", lambda m, a: a.kthvalue(2, 1).values * a.sum(1), [(2, 4)], needs="kthvalue"),
    Op("median", lambda m, a: a.median() * a, [(5,)], needs="median"),
    Op("median dim", lambda m, a: a.median(1, keepdim=True).values * a, [(2, 4)], needs="median"),
    Op("mode", lambda m, a: a.mode(0).values * a, [(3, 2)], needs="mode"),
    Op("logsumexp", lambda m, a: a.logsumexp(1), [(2, 4)], third=True, needs="logsumexp"),
    Op("norm", lambda m, a: a.norm(), [(4,)], third=True, needs="norm"),
    Op("gather", lambda m, a: a.gather(1, m.tensor([[0, 2], [1, 1]])) ** 2, [(2, 3)], needs="gather"),
    Op("sort", lambda m, a: a.sort(1, descending=True).values ** 2, [(2, 4)]),
    Op("topk", lambda m, a: a.topk(2, 0).values * a[:2], [(3, 4)]),
    Op("sort stable", lambda m, a: m.sort(a, stable=True, dim=0).values.exp(), [(3, 2)]),
    Op("index_select", lambda m, a: a.index_select(0, m.tensor([1, 0, 1])) ** 2, [(2, 3)],
       needs="index_select"),
    Op("masked_fill", lambda m, a: a.masked_fill(m.tensor([True, False, True]), 0.5) * a, [(3,)],
       needs="masked_fill"),
    Op("masked_fill tensor", lambda m, a, b: a.masked_fill(m.tensor([True, False, True]), b) * a, [(3,), ()],
       needs="masked_fill"),
    Op("scatter", lambda m, a, b: a.scatter(1, m.tensor([[0], [2]]), b) ** 2, [(2, 3), (2, 1)], needs="scatter"),
    Op("scatter_add", lambda m, a, b: a.scatter_add(1, m.tensor([[0, 0], [2, 1]]), b) ** 2, [(2, 3), (2, 2)],
       needs="scatter_add"),
    Op("index_add", lambda m, a, b: a.index_add(1, m.tensor([2, 0, 2]), b, alpha=-1.5) ** 2, [(2, 3), (2, 3)]),
    Op("index_copy", lambda m, a, b: a.index_copy(0, m.tensor([1]), b) ** 2, [(2, 3), (1, 3)]),
    Op("index_fill", lambda m, a: a.index_fill(1, m.tensor([-1, 0]), 0.5) * a, [(2, 3)]),
    Op("index_fill tensor", lambda m, a, b: a.index_fill(1, m.tensor([2, 0]), b) * a, [(2, 3), ()]),
    Op("masked_scatter", lambda m, a, b: a.masked_scatter(m.tensor([True, False, True]), b) ** 2, [(2, 3), (5,)]),
    Op("put", lambda m, a, b: a.put(m.tensor([[4, -1]]), b) ** 2, [(2, 3), (1, 2)]),
    Op("put accumulate", lambda m, a, b: a.put(m.tensor([3, 3, 0]), b, accumulate=True) ** 2, [(2, 3), (3,)]),
    # ---- random draws (random.c): their gradient is zero; the draws themselves do not enter the value
    Op("bernoulli", lambda m, a: m.bernoulli(a.sigmoid(), generator=m.Generator().manual_seed(0)) * 0 + a * a, [(3,)]),
    Op("bernoulli_ tensor p", lambda m, a: (a * 1).bernoulli_(a.sigmoid(), generator=m.Generator().manual_seed(0)) * 0
       + a * a, [(3,)]),
    Op("bernoulli_ number p", lambda m, a: (a * 1).bernoulli_(0.5, generator=m.Generator().manual_seed(0)) * 0 + a * a,
       [(3,)]),
    # ---- neural-network functions (ops_nn.c)
    Op("linear", lambda m, x, w, b: m.nn.functional.linear(x, w, b).tanh(), [(3, 4), (2, 4), (2,)],
       needs="nn.functional.linear"),
    Op("gelu", lambda m, a: m.nn.functional.gelu(a), [(3, 2)], third=True, needs="nn.functional.gelu"),
    Op("leaky_relu", lambda m, a: m.nn.functional.leaky_relu(a, 0.1) * a, [(5,)], domain="nonzero",
       needs="nn.functional.leaky_relu"),
    Op("silu", lambda m, a: m.nn.functional.silu(a), [(3, 2)], third=True, needs="nn.functional.silu"),
    Op("elu", lambda m, a: m.nn.functional.elu(a, 0.7), [(3, 2)], domain="nonzero", third=True,
       needs="nn.functional.elu"),
    Op("selu", lambda m, a: m.nn.functional.selu(a), [(5,)], domain="nonzero", third=True,
       needs="nn.functional.selu"),
    Op("celu", lambda m, a: m.nn.functional.celu(a, 2.0), [(5,)], domain="nonzero", third=True,
       needs="nn.functional.celu"),
    Op("elu_", lambda m, a: m.nn.functional.elu_(a * 1.0, 0.7), [(3, 2)], domain="nonzero",
       needs="nn.functional.elu_"),
    Op("celu_", lambda m, a: m.nn.functional.celu_(a * 1.0, 2.0), [(5,)], domain="nonzero",
       needs="nn.functional.celu_"),
    Op("softplus", lambda m, a: m.nn.functional.softplus(a), [(3, 2)], third=True, needs="nn.functional.softplus"),
    Op("softplus beta threshold", lambda m, a: m.nn.functional.softplus(a, 2.0, 6.0), [(5,)], domain=(-4, 4),
       third=True, needs="nn.functional.softplus"),
    Op("hardtanh", lambda m, a: m.nn.functional.hardtanh(a, -0.5, 0.5) * a, [(5,)], domain="nonzero",
       needs="nn.functional.hardtanh"),
    Op("relu6", lambda m, a: m.nn.functional.relu6(a * 4) * a, [(5,)], domain="nonzero",
       needs="nn.functional.relu6"),
    Op("hardsigmoid", lambda m, a: m.nn.functional.hardsigmoid(a * 4) * a, [(5,)], domain="nonzero",
       torch_second=False, needs="nn.functional.hardsigmoid"),
    Op("hardswish", lambda m, a: m.nn.functional.hardswish(a * 4), [(5,)], domain="nonzero",
       needs="nn.functional.hardswish"),
    Op("mish", lambda m, a: m.nn.functional.mish(a), [(3, 2)], third=True, needs="nn.functional.mish"),
    Op("glu", lambda m, a: m.nn.functional.glu(a), [(3, 4)], third=True, needs="nn.functional.glu"),
    Op("glu dim 0 of a view", lambda m, a: m.nn.functional.glu(a.t(), 0), [(3, 2)], third=True,
       needs="nn.functional.glu"),
    Op("softmax", lambda m, a: m.nn.functional.softmax(a, dim=1), [(2, 4)], third=True,
       needs="nn.functional.softmax"),
    Op("log_softmax", lambda m, a: m.nn.functional.log_softmax(a, dim=1), [(2, 4)], third=True,
       needs="nn.functional.log_softmax"),
    Op("layer_norm", lambda m, a, w, b: m.nn.functional.layer_norm(a, (4,), w, b), [(3, 4), (4,), (4,)],
       needs="nn.functional.layer_norm"),
    Op("embedding", lambda m, w: m.nn.functional.embedding(m.tensor([[0, 2], [1, 1]]), w) ** 2, [(3, 2)],
       needs="nn.functional.embedding"),
    Op("mse_loss", lambda m, a, b: m.nn.functional.mse_loss(a, b), [(3, 2), (3, 2)],
       needs="nn.functional.mse_loss"),
    Op("l1_loss", lambda m, a, b: m.nn.functional.l1_loss(a, b) * (a * a).sum(), [(3, 2), (3, 2)],
       needs="nn.functional.l1_loss"),
    Op("huber_loss", lambda m, a, b: m.nn.functional.huber_loss(a, b, delta=0.5), [(3, 2), (3, 2)],
       needs="nn.functional.huber_loss"),
    Op("nll_loss", lambda m, a: m.nn.functional.nll_loss(m.nn.functional.log_softmax(a, 1), m.tensor([0, 2, 1])),
       [(3, 4)], needs="nn.functional.nll_loss"),
    Op("cross_entropy", lambda m, a: m.nn.functional.cross_entropy(a, m.tensor([0, 2, 1])), [(3, 4)],
       needs="nn.functional.cross_entropy"),
    Op("binary_cross_entropy", lambda m, a, t: m.nn.functional.binary_cross_entropy(a.sigmoid(), t),
       [(3, 2), (3, 2)], domain=[None, (0.1, 0.9)], requires_grad=[True, False],
       needs="nn.functional.binary_cross_entropy"),
    Op("binary_cross_entropy_with_logits",
       lambda m, a, t: m.nn.functional.binary_cross_entropy_with_logits(a, t), [(3, 2), (3, 2)],
       domain=[None, (0.1, 0.9)], requires_grad=[True, False], needs="nn.functional.binary_cross_entropy_with_logits"),
    # ---- pooling (ops_pool.c)
    Op("max_pool2d", lambda m, a: m.nn.functional.max_pool2d(a, 3, 2, 1, ceil_mode=True), [(1, 2, 5, 6)],
       needs="nn.functional.max_pool2d"),
    Op("max_pool1d", lambda m, a: m.nn.functional.max_pool1d(a, 2, 1, 1, 2), [(2, 5)], needs="nn.functional.max_pool1d"),
    Op("adaptive_max_pool2d", lambda m, a: m.nn.functional.adaptive_max_pool2d(a, (2, 3)), [(2, 3, 5)],
       needs="nn.functional.adaptive_max_pool2d"),
    Op("avg_pool2d", lambda m, a: m.nn.functional.avg_pool2d(a, 3, 2, 1, True, False), [(1, 2, 5, 6)],
       needs="nn.functional.avg_pool2d"),
    Op("avg_pool1d", lambda m, a: m.nn.functional.avg_pool1d(a, 2, 1, 1), [(2, 5)], needs="nn.functional.avg_pool1d"),
    Op("adaptive_avg_pool2d", lambda m, a: m.nn.functional.adaptive_avg_pool2d(a, (2, 3)), [(2, 3, 5)],
       needs="nn.functional.adaptive_avg_pool2d"),
    Op("max_pool3d", lambda m, a: m.nn.functional.max_pool3d(a, 2, 1, 1, ceil_mode=True), [(1, 2, 3, 4, 3)],
       needs="nn.functional.max_pool3d"),
    Op("adaptive_max_pool3d", lambda m, a: m.nn.functional.adaptive_max_pool3d(a, (2, 3, 2)), [(2, 3, 5, 3)],
       needs="nn.functional.adaptive_max_pool3d"),
    Op("avg_pool3d", lambda m, a: m.nn.functional.avg_pool3d(a, 2, 1, 1, True, False), [(1, 2, 3, 4, 3)],
       needs="nn.functional.avg_pool3d"),
    Op("adaptive_avg_pool3d", lambda m, a: m.nn.functional.adaptive_avg_pool3d(a, (2, 3, 2)), [(2, 3, 5, 3)],
       needs="nn.functional.adaptive_avg_pool3d"),
    Op("max_unpool2d", lambda m, a: m.nn.functional.max_unpool2d(
        *m.nn.functional.max_pool2d(a, 2, return_indices=True), 2), [(2, 4, 4)], needs="nn.functional.max_unpool2d"),
    Op("max_unpool3d", lambda m, a: m.nn.functional.max_unpool3d(
        *m.nn.functional.max_pool3d(a, 2, return_indices=True), 2), [(1, 2, 4, 2)], needs="nn.functional.max_unpool3d"),
    Op("fractional_max_pool2d", lambda m, a: m.nn.functional.fractional_max_pool2d(
        a, 2, 2, _random_samples=m.full((1, 2, 2), 0.4, dtype=a.dtype)), [(2, 4, 5)],
       needs="nn.functional.fractional_max_pool2d"),
    Op("fractional_max_pool3d", lambda m, a: m.nn.functional.fractional_max_pool3d(
        a, 2, 2, _random_samples=m.full((1, 2, 3), 0.7, dtype=a.dtype)), [(2, 4, 4, 5)],
       needs="nn.functional.fractional_max_pool3d"),
    # ---- scaled products, vdot, kron, dist: one node each, as torch (ops_linalg.c, ops_reduce.c)
    Op("addmv", lambda m, i, a, v: m.addmv(i, a, v), [(3,), (3, 4), (4,)]),
    Op("addmv broadcast", lambda m, i, a, v: m.addmv(i, a, v, beta=0.5, alpha=-2), [(1,), (3, 2), (2,)]),
    Op("addmv scalar input", lambda m, i, a, v: i.addmv(a, v, beta=2, alpha=0.5), [(), (2, 3), (3,)]),
    Op("addmv beta 0", lambda m, i, a, v: m.addmv(i, a, v, beta=0, alpha=1.5), [(3,), (3, 2), (2,)]),
    Op("addmv alpha 0", lambda m, i, a, v: m.addmv(i, a, v, beta=3, alpha=0), [(3,), (3, 2), (2,)]),
    Op("addmm_", lambda m, i, a, b: (i * 1).addmm_(a, b * b, beta=0.5, alpha=-2), [(3, 4), (3, 2), (2, 4)]),
    Op("baddbmm_", lambda m, i, a, b: (i * 1).baddbmm_(a, b, beta=2, alpha=0.5) ** 2, [(2, 3, 4), (2, 3, 2), (2, 2, 4)]),
    Op("addmv_", lambda m, i, a, v: (i * 1).addmv_(a * a, v, beta=-1, alpha=2), [(3,), (3, 2), (2,)]),
    Op("addr", lambda m, i, a, b: m.addr(i, a, b), [(3, 4), (3,), (4,)]),
    Op("addr broadcast", lambda m, i, a, b: m.addr(i, a, b, beta=-1.5, alpha=2), [(4,), (3,), (4,)]),
    Op("addr scalar input", lambda m, i, a, b: i.addr(a, b, beta=0.5), [(), (2,), (3,)]),
    Op("addr beta 0", lambda m, i, a, b: m.addr(i, a, b, beta=0, alpha=-1), [(2, 3), (2,), (3,)]),
    Op("addr_", lambda m, i, a, b: (i * 1).addr_(a, b * a.sum(), alpha=3), [(2, 3), (2,), (3,)]),
    Op("addbmm", lambda m, i, a, b: m.addbmm(i, a, b), [(3, 4), (2, 3, 5), (2, 5, 4)]),
    Op("addbmm broadcast", lambda m, i, a, b: m.addbmm(i, a, b, beta=2, alpha=-0.5), [(1, 4), (3, 2, 2), (3, 2, 4)]),
    Op("addbmm beta 0", lambda m, i, a, b: m.addbmm(i, a, b, beta=0, alpha=2), [(2, 2), (2, 2, 3), (2, 3, 2)]),
    Op("addbmm_", lambda m, i, a, b: (i * 1).addbmm_(a, b, beta=0.5), [(2, 3), (2, 2, 4), (2, 4, 3)]),
    Op("vdot", lambda m, a, b: m.vdot(a, b), [(4,), (4,)]),
    Op("vdot self", lambda m, a: a.vdot(a), [(3,)]),
    Op("kron", lambda m, a, b: m.kron(a, b), [(2, 3), (3, 2)]),
    Op("kron broadcast", lambda m, a, b: m.kron(a, b), [(2,), (2, 1, 3)]),
    Op("dist", lambda m, a, b: m.dist(a, b), [(3, 4), (3, 4)]),
    Op("dist broadcast", lambda m, a, b: m.dist(a, b, 2), [(2, 3), (3,)]),
    Op("dist p 1", lambda m, a, b: a.dist(b, 1) ** 2, [(2, 3), (2, 1)]),  # ** 2: torch's sgn'' is a ZeroTensor
    Op("dist p 3", lambda m, a, b: m.dist(a, b, 3), [(4,), (4,)]),
    Op("dist p 1.5", lambda m, a, b: m.dist(a, b, 1.5), [(2, 2), ()]),
    Op("dist p 0.5", lambda m, a, b: m.dist(a, b, 0.5), [(3,), (3,)]),
    Op("dist p inf", lambda m, a, b: m.dist(a, b, float("inf")) ** 2, [(2, 3), (3,)]),
    Op("dist p -inf", lambda m, a, b: m.dist(a, b, -float("inf")) ** 2, [(4,), (4,)]),
    Op("dist p 0", lambda m, a, b: m.dist(a, b, 0) * a.sum(), [(3,), (3,)], requires_grad=[True, False]),
    # ---- convolutions and sliding blocks (ops_conv.c)
    Op("conv2d", lambda m, x, w, b: m.nn.functional.conv2d(x, w, b, stride=(2, 1), padding=1, dilation=(1, 2)),
       [(2, 2, 5, 4), (3, 2, 3, 2), (3,)]),
    Op("conv1d groups", lambda m, x, w: m.nn.functional.conv1d(x, w, padding=2, groups=2), [(2, 4, 5), (4, 2, 3)]),
    Op("unfold", lambda m, x: m.nn.functional.unfold(x, 2, stride=(2, 1), padding=1), [(1, 2, 4, 5)]),
    Op("fold", lambda m, c: m.nn.functional.fold(c, (3, 5), (1, 2), dilation=(1, 2)), [(1, 4, 9)]),
    # ---- embedding bags, CTC loss, grid sampling (ops_bag.c, ops_ctc.c, ops_grid.c)
    Op("embedding_bag mean", lambda m, w: m.nn.functional.embedding_bag(m.tensor([[0, 2], [1, 1]]), w) ** 2,
       [(3, 2)], torch_second=False, needs="nn.functional.embedding_bag"),
    Op("embedding_bag max", lambda m, w: m.nn.functional.embedding_bag(m.tensor([0, 2, 1]), w, m.tensor([0, 1]),
                                                                       mode="max") ** 2,
       [(3, 2)], torch_second=False, needs="nn.functional.embedding_bag"),
    Op("embedding_bag per_sample_weights",
       lambda m, w, p: m.nn.functional.embedding_bag(m.tensor([0, 2, 1, 0]), w, m.tensor([0, 3]), mode="sum",
                                                     per_sample_weights=p) ** 2,
       [(3, 2), (4,)], torch_second=False, needs="nn.functional.embedding_bag"),
    Op("ctc_loss", lambda m, x: m.nn.functional.ctc_loss(x.log_softmax(2), m.tensor([[1, 2], [2, 0]]), (4, 3), (2, 1)),
       [(4, 2, 3)], first_only="derivative for aten::_ctc_loss_backward is not implemented",
       needs="nn.functional.ctc_loss"),
    Op("grid_sample", lambda m, x, g: m.nn.functional.grid_sample(x, g.tanh(), mode="bicubic", align_corners=False),
       [(1, 2, 3, 3), (1, 2, 2, 2)], first_only="derivative for aten::grid_sampler_2d_backward is not implemented",
       needs="nn.functional.grid_sample"),
    Op("grid_sample 3-d", lambda m, x, g: m.nn.functional.grid_sample(x, g.tanh(), align_corners=True),
       [(1, 1, 2, 3, 2), (1, 2, 1, 2, 3)],
       first_only="derivative for aten::grid_sampler_3d_backward is not implemented", needs="nn.functional.grid_sample"),
    # ---- incomplete gamma (ops_math.c: a gradient in x only) and Poisson draws (random.c)
    Op("igamma", lambda m, a, x: m.igamma(a, x), [(3,), (2, 3)], domain=[POS, POS], requires_grad=[False, True]),
    Op("igammac", lambda m, a, x: m.igammac(a, x), [(3,), (2, 3)], domain=[POS, POS], requires_grad=[False, True]),
    Op("poisson", lambda m, a: m.poisson(a.exp(), generator=m.Generator().manual_seed(0)) * 0 + a * a, [(3,)]),
]


def _available(op):
    """Whether the op's family is on this branch: needs names a Tensor method or a
    (dotted) attribute of cgrad, such as "nn.functional.gelu"."""
    if op.needs is None or hasattr(cgrad.Tensor, op.needs):
        return True
    module, _, name = ("cgrad." + op.needs).rpartition(".")
    try:
        return hasattr(importlib.import_module(module), name)
    except ImportError:
        return False


def _setitem(a, b):
    y = a * 1
    y[1] = b * b
    return y * a


def _draw(rng, shape, domain):
    if domain is None:
        return rng.standard_normal(shape)
    if domain == "nonzero":
        magnitude = rng.uniform(0.5, 1.5, shape)
        return np.where(rng.random(shape) < 0.5, -magnitude, magnitude)
    low, high = domain
    return rng.uniform(low, high, shape)


def _inputs(op, lib, seed=0):
    rng = np.random.default_rng(seed)
    domains = op.domain if isinstance(op.domain, list) else [op.domain] * len(op.shapes)
    flags = op.requires_grad or [True] * len(op.shapes)
    arrays = [np.asarray(_draw(rng, s, d), dtype=np.float64) for s, d in zip(op.shapes, domains)]
    return [lib.tensor(a, dtype=lib.float64, requires_grad=f) for a, f in zip(arrays, flags)]


def _call(op, lib):
    def f(*xs):
        return op.fn(lib, *xs)
    return f


def _params(ops):
    """The ops as pytest parameters; an op of a family not merged here yet is skipped, naming it."""
    return [pytest.param(op, id=op.name, marks=pytest.mark.skipif(
        not _available(op), reason=f"{op.needs} is not on this branch yet")) for op in ops]


@pytest.mark.parametrize("op", _params(OPS))
def test_gradcheck(op):
    assert gradcheck(_call(op, cgrad), tuple(_inputs(op, cgrad)), **op.tol)


@pytest.mark.parametrize("op", _params(OPS))
def test_gradgradcheck(op):
    if op.first_only:  # as PyTorch's, the second derivative raises
        with pytest.raises(RuntimeError, match=op.first_only):
            gradgradcheck(_call(op, cgrad), tuple(_inputs(op, cgrad)), **op.tol)
        return
    assert gradgradcheck(_call(op, cgrad), tuple(_inputs(op, cgrad)), **op.tol)


def _second_order(lib, op, seed=0):
    """(first, second): the gradients of sum(w * f(x)), then of sum(v * those), all inputs."""
    xs_all = _inputs(op, lib, seed)
    rng = np.random.default_rng(seed + 1)
    out = op.fn(lib, *xs_all)
    xs = [x for x in xs_all if x.requires_grad]
    w = lib.tensor(rng.standard_normal(tuple(out.shape)), dtype=lib.float64)
    firsts = lib.autograd.grad(out, xs, w, create_graph=True, allow_unused=True)
    vs = [lib.tensor(rng.standard_normal(tuple(x.shape)), dtype=lib.float64) for x in xs]
    total = sum((g * v).sum() for g, v in zip(firsts, vs) if g is not None and g.requires_grad)
    seconds = [None] * len(xs)
    if not isinstance(total, int):
        seconds = lib.autograd.grad(total, xs, allow_unused=True)
    return firsts, seconds


def _first_order(lib, op, seed=0):
    """The gradients of sum(w * f(x)), as _second_order draws them."""
    xs_all = _inputs(op, lib, seed)
    out = op.fn(lib, *xs_all)
    w = lib.tensor(np.random.default_rng(seed + 1).standard_normal(tuple(out.shape)), dtype=lib.float64)
    return lib.autograd.grad(out, [x for x in xs_all if x.requires_grad], w, allow_unused=True)


def _np(t):
    return None if t is None else np.array(t.detach().numpy(), dtype=np.float64)


@pytest.mark.parametrize("op", _params(OPS))
def test_first_and_second_derivatives_match_torch(op):
    torch = pytest.importorskip("torch")
    if op.first_only:
        for mine, ref in zip(_first_order(cgrad, op), _first_order(torch, op)):
            _assert_same(mine, ref, 1e-10, "order 1")
        return
    ours = _second_order(cgrad, op)
    theirs = _second_order(torch, op) if op.torch_second else (_first_order(torch, op), ours[1])
    for order, (mine, ref) in enumerate(zip(ours, theirs), start=1):
        for i, (a, b) in enumerate(zip(mine, ref)):
            _assert_same(a, b, 1e-10, f"order {order}, input {i}")


def _assert_same(a, b, rtol, what):
    """Equal gradients, where None (unused) and all zeros count as the same."""
    a, b = _np(a), _np(b)
    if a is None or b is None:
        other = b if a is None else a
        assert other is None or not np.any(other), f"{what}: cgrad {a}, torch {b}"
        return
    np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * 1e-2, err_msg=what)


THIRD = [op for op in OPS if op.third]


@pytest.mark.parametrize("op", _params(THIRD))
def test_third_derivative(op):
    """gradgradcheck of the first derivative: finite differences of the second."""
    def first(*xs):
        out = op.fn(cgrad, *xs)
        return grad(out.sum(), [x for x in xs if x.requires_grad], create_graph=True)

    assert gradgradcheck(first, tuple(_inputs(op, cgrad)))


@pytest.mark.parametrize("op", _params(THIRD))
def test_third_derivative_matches_torch(op):
    torch = pytest.importorskip("torch")

    def third(lib):
        xs_all = _inputs(op, lib)
        out = op.fn(lib, *xs_all).sum()
        xs = [x for x in xs_all if x.requires_grad]
        for _ in range(3):
            gs = lib.autograd.grad(out, xs, create_graph=True, allow_unused=True)
            out = sum(g.sum() for g in gs if g is not None and g.requires_grad)
            if isinstance(out, int):  # the next derivative is zero
                return [None] * len(xs)
        return gs

    for i, (a, b) in enumerate(zip(third(cgrad), third(torch))):
        _assert_same(a, b, 1e-9, f"input {i}")




def test_registry_covers_every_named_backward():
    """The node each registry op makes is named as torch names it."""
    torch = pytest.importorskip("torch")
    for op in OPS:
        if not _available(op):
            continue
        ours = _call(op, cgrad)(*_inputs(op, cgrad))
        theirs = _call(op, torch)(*_inputs(op, torch))
        assert ours.grad_fn.name() == theirs.grad_fn.name(), op.name


# ---- coverage: every backward formula in csrc/ is reached by the registry ----------

# Nodes that are not an op's formula: the leaves' accumulator, PyTorch's
# copy into a first .grad under create_graph, and the nodes whose backward
# only raises, as PyTorch's do: unique's (tests/test_unique.py), unique_consecutive's
# (tests/test_ops_stats.py) and those of asinh_, acosh_ and atanh_ (tests/test_ops_hyperbolic.py).
NOT_OPS = {"AccumulateGrad", "CopyBackwards", "Unique2Backward0", "UniqueDimBackward0",
           "AsinhBackward1", "AcoshBackward1", "AtanhBackward1", "UniqueConsecutiveBackward0",
           "SpecialZetaBackward2",  # zeta(s, number q): s, its one input, has no derivative; it only raises
           "GeqrfBackward0"}  # PyTorch defines no derivative for geqrf (tests/test_fft_lowrank.py)


def _declared_backward_names():
    import re
    from pathlib import Path
    csrc = Path(__file__).resolve().parent.parent / "csrc"
    names = set()
    for path in csrc.glob("*.c"):
        names |= set(re.findall(r'"([A-Z]\w*Backward\w*)"', path.read_text()))  # every node name
    return names - NOT_OPS


def _reached_names():
    from cgrad.autograd.graph import walk
    names = set()
    for op in filter(_available, OPS):
        xs = _inputs(op, cgrad)
        out = op.fn(cgrad, *xs)
        v = cgrad.ones(out.shape, dtype=out.dtype, requires_grad=True)  # as gradgradcheck: v needs grad too
        firsts = grad(out, [x for x in xs if x.requires_grad], v, create_graph=True, allow_unused=True)
        roots = [out.grad_fn] + [g.grad_fn for g in firsts if g is not None and g.grad_fn is not None]
        names |= {type(node).__name__ for node in walk(roots)}
    return names


def test_every_backward_formula_is_in_the_registry():
    missing = _declared_backward_names() - _reached_names()
    assert not missing, (f"backward formulas no registry entry reaches: {sorted(missing)}; add an Op(...) "
                         "line for each to OPS at the top of this file")
