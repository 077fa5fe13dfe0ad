"""Tensor._base and Tensor._is_view(): which results are views, and of what, and the writes into views
made in no_grad mode that are refused, against torch."""
import re

import pytest
from helpers import outcome

import cgrad

torch = pytest.importorskip("torch")

MAKERS = {
    "view": lambda x: x.view(6, 4),
    "reshape, contiguous": lambda x: x.reshape(4, 6),
    "reshape, transposed": lambda x: x.t().reshape(24),
    "slice": lambda x: x[1:],
    "slice of a slice": lambda x: x[1:][1:],
    "index": lambda x: x[0],
    "ellipsis": lambda x: x[...],
    "int tensor index": lambda x: x[x.new_tensor([0, 2]).long()],
    "bool mask": lambda x: x[x > 0],
    "t": lambda x: x.t(),
    "transpose of a view": lambda x: x[1:].transpose(0, 1),
    "permute": lambda x: x.permute(1, 0),
    "expand": lambda x: x[:1].expand(3, 8),
    "squeeze": lambda x: x[:1].squeeze(0),
    "unsqueeze": lambda x: x.unsqueeze(0),
    "narrow": lambda x: x.narrow(1, 2, 3),
    "select": lambda x: x.select(1, 2),
    "diagonal": lambda x: x.diagonal(),
    "unfold": lambda x: x.unfold(1, 2, 2),
    "as_strided": lambda x: x.as_strided((2, 2), (1, 2)),
    "split": lambda x: x.split(1)[1],
    "chunk": lambda x: x.chunk(3, 1)[2],
    "unbind": lambda x: x.unbind(1)[0],
    "view_as": lambda x: x.view_as(x),
    "flatten": lambda x: x.flatten(),
    "flatten, transposed": lambda x: x.t().flatten(),
    "movedim": lambda x: x.movedim(0, 1),
    "detach": lambda x: x.detach(),
    "detach of a view": lambda x: x[1:].detach(),
    "data": lambda x: x.data,
    "clone": lambda x: x.clone(),
    "contiguous of a view": lambda x: x.t().contiguous(),
    "arithmetic": lambda x: x * 2,
    "itself": lambda x: x,
}


@pytest.mark.parametrize("maker", list(MAKERS))
@pytest.mark.parametrize("requires_grad", [False, True])
def test_views_and_their_base(maker, requires_grad):
    def answer(lib):
        x = lib.arange(24.0).reshape(3, 8).detach().requires_grad_(requires_grad)
        y = MAKERS[maker](x)
        return y._is_view(), y._base is x, y._base is None
    assert answer(cgrad) == answer(torch)


def test_a_base_outlives_its_wrapper():
    y = cgrad.arange(6.0)[2:]  # the base's Python object is gone; the view holds the tensor
    base = y._base
    assert base.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0] and y._base is base and not base._is_view()


def written(fn, lib):
    """outcome(fn, lib); the view op an error names is left out (cgrad's error does not know it)."""
    r = outcome(fn, lib)
    if isinstance(r, tuple) and len(r) == 2 and isinstance(r[1], str):
        return r[0], re.sub(r"^Output 0 of .* is a view of a view", "Output 0 of a view op is a view of a view", r[1])
    return r


BASES = {
    "leaf that requires grad": lambda T: T.ones(3, requires_grad=True),
    "result": lambda T: T.ones(3, requires_grad=True) * 2,
    "plain tensor": lambda T: T.ones(3),
}
WRITES = {
    "mul_ by a number": lambda v, T, w: v.mul_(2),
    "mul_ by a tensor that requires grad": lambda v, T, w: v.mul_(w),
    "zero_": lambda v, T, w: v.zero_(),
    "setitem": lambda v, T, w: v.__setitem__(0, 5.0),
}


@pytest.mark.parametrize("base", list(BASES))
@pytest.mark.parametrize("write", list(WRITES))
@pytest.mark.parametrize("where", ["view in no_grad, write in grad mode", "both in no_grad",
                                   "both in grad mode", "view in grad mode, write in no_grad"])
def test_writing_into_a_view_made_in_no_grad(base, write, where):
    def run(T):
        b = BASES[base](T)
        w = T.full((2,), 3.0, requires_grad=True)
        view_mode, write_mode = {"view in no_grad, write in grad mode": (False, True),
                                 "both in no_grad": (False, False), "both in grad mode": (True, True),
                                 "view in grad mode, write in no_grad": (True, False)}[where]
        with T.set_grad_enabled(view_mode):
            v = b[1:]
        with T.set_grad_enabled(write_mode):
            WRITES[write](v, T, w)
        return b.tolist(), b.requires_grad
    assert written(run, cgrad) == written(run, torch)


def test_a_view_of_a_view_made_in_no_grad_is_refused_too():
    b = cgrad.ones(3, requires_grad=True) * 2
    with cgrad.no_grad():
        v = b[1:]
    with pytest.raises(RuntimeError, match="is a view of a view which was created in no_grad mode"):
        v[1:].mul_(2)


def test_the_gradient_a_refused_write_would_have_got_wrong():
    """The write used to be taken and the base's gradient left that of its old values."""
    a = cgrad.ones(3, requires_grad=True)
    b = a * 2
    with cgrad.no_grad():
        v = b[1:]
    with pytest.raises(RuntimeError, match="A view was created in no_grad mode"):
        v.mul_(3)


OPS_WITH_INNER_VIEWS = {
    "affine_grid": lambda T, x: T.nn.functional.affine_grid(x.reshape(1, 2, 3)[:, :, :3] * 1.0, (1, 1, 2, 2),
                                                            align_corners=False),
    "nanmedian values": lambda T, x: x.reshape(2, 3).nanmedian(1).values,
    "index_reduce": lambda T, x: x.reshape(2, 3).index_reduce(0, T.tensor([0, 0]), x.reshape(2, 3) * 1.0, "prod"),
    "empty_permuted": lambda T, x: T.empty_permuted((2, 3), (1, 0)).copy_(x.reshape(2, 3)),
}


@pytest.mark.parametrize("op", list(OPS_WITH_INNER_VIEWS))
def test_results_of_ops_that_make_views_inside_can_be_written(op):
    def run(T):
        x = T.arange(1.0, 7.0, dtype=T.float64).requires_grad_(True)
        out = OPS_WITH_INNER_VIEWS[op](T, x)
        out.mul_(2)
        out.sum().backward()
        return x.grad.tolist(), out._is_view()
    assert written(run, cgrad) == written(run, torch)
