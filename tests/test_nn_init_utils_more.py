"""nn.init's trunc_normal_, orthogonal_, eye_, dirac_, sparse_ and nn.utils' vector and norm helpers."""
import math
import warnings

import numpy as np
import pytest

import cgrad
from cgrad import nn
from cgrad.nn import init

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("mean,std,a,b", [(0.0, 1.0, -2.0, 2.0), (0.5, 2.0, -1.0, 1.0), (0.0, 1.0, 3.0, 4.0),
                                          (1.0, 0.1, 0.9, 2.0)])
def test_trunc_normal_draws_the_truncated_distribution(mean, std, a, b):
    cgrad.manual_seed(0)
    t = cgrad.empty(200000, dtype=cgrad.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert init.trunc_normal_(t, mean, std, a, b) is t
    v = t.numpy()
    assert v.min() >= a and v.max() <= b
    alpha, beta = (a - mean) / std, (b - mean) / std
    pdf = [math.exp(-z * z / 2) / math.sqrt(2 * math.pi) for z in (alpha, beta)]
    cdf = [(1 + math.erf(z / math.sqrt(2))) / 2 for z in (alpha, beta)]
    expected_mean = mean + std * (pdf[0] - pdf[1]) / (cdf[1] - cdf[0])
    assert abs(v.mean() - expected_mean) < 5e-3 * max(std, 1.0)


def test_trunc_normal_warns_as_torch_far_from_the_window():
    with pytest.warns(UserWarning, match="mean is more than 2 std from \\[a, b\\]"):
        init.trunc_normal_(cgrad.empty(10), mean=10.0, std=1.0)


@pytest.mark.parametrize("shape", [(30, 50), (50, 30), (8, 3, 3, 3), (40, 40)])
def test_orthogonal_gives_orthonormal_rows_or_columns(shape):
    cgrad.manual_seed(1)
    w = cgrad.empty(*shape, dtype=cgrad.float64, requires_grad=True)
    init.orthogonal_(w, gain=1.5)
    assert w.requires_grad and w.grad_fn is None
    m = w.detach().numpy().reshape(shape[0], -1)
    small = min(m.shape)
    gram = m @ m.T if m.shape[0] == small else m.T @ m
    np.testing.assert_allclose(gram, 2.25 * np.eye(small), atol=1e-12)
    with pytest.raises(ValueError, match="Only tensors with 2 or more dimensions are supported"):
        init.orthogonal_(cgrad.empty(3))


def test_eye_and_dirac_match_torch():
    for shape in ((3, 5), (4, 2)):
        c, t = init.eye_(cgrad.empty(*shape)), torch.nn.init.eye_(torch.empty(shape))
        np.testing.assert_array_equal(c.numpy(), t.numpy())
    for shape, groups in (((4, 2, 3), 1), ((6, 3, 3, 4), 2), ((4, 4, 3, 3, 3), 4), ((2, 5, 3, 3), 1)):
        c = init.dirac_(cgrad.empty(*shape), groups)
        t = torch.nn.init.dirac_(torch.empty(shape), groups)
        np.testing.assert_array_equal(c.numpy(), t.numpy())
    for bad in (lambda lib: lib.nn.init.eye_(lib.empty(2, 2, 2)), lambda lib: lib.nn.init.dirac_(lib.empty(3, 3)),
                lambda lib: lib.nn.init.dirac_(lib.empty(3, 2, 3), 2),
                lambda lib: lib.nn.init.sparse_(lib.empty(3), 0.1)):
        with pytest.raises(ValueError) as t_err:
            bad(torch)
        with pytest.raises(ValueError) as c_err:
            bad(cgrad)
        assert str(c_err.value) == str(t_err.value)


def test_sparse_zeroes_the_same_number_of_rows_in_each_column():
    cgrad.manual_seed(2)
    w = init.sparse_(cgrad.empty(1000, 7), sparsity=0.3, std=0.05)
    v = w.numpy()
    assert list((v == 0).sum(axis=0)) == [300] * 7
    assert abs(v[v != 0].std() - 0.05) < 0.005


def test_parameters_to_vector_and_back_match_torch():
    shapes = [(3, 4), (4,), (2, 2, 2)]
    rng = np.random.default_rng(0)
    values = [rng.standard_normal(s) for s in shapes]
    cp = [nn.Parameter(cgrad.tensor(v)) for v in values]
    tp = [torch.nn.Parameter(torch.tensor(v)) for v in values]
    cv, tv = nn.utils.parameters_to_vector(cp), torch.nn.utils.parameters_to_vector(tp)
    np.testing.assert_array_equal(cv.detach().numpy(), tv.detach().numpy())
    (cv * cgrad.arange(cv.numel(), dtype=cgrad.float64)).sum().backward()
    assert cp[1].grad.tolist() == list(range(12, 16))
    new = cgrad.arange(24, dtype=cgrad.float64)
    nn.utils.vector_to_parameters(new, cp)
    assert cp[0].tolist()[1] == [4.0, 5.0, 6.0, 7.0] and cp[2].shape == (2, 2, 2)
    new[0] = 99.0  # the parameters now share the vector's memory, as in PyTorch
    assert cp[0][0, 0].item() == 99.0 and isinstance(cp[0], nn.Parameter)
    with pytest.raises(TypeError) as t_err:
        torch.nn.utils.vector_to_parameters([1.0], tp)
    with pytest.raises(TypeError) as c_err:
        nn.utils.vector_to_parameters([1.0], cp)
    assert str(c_err.value) == str(t_err.value)


@pytest.mark.parametrize("norm_type", [2.0, 1.0, math.inf, 3.0])
def test_total_norm_and_clipping_with_it_match_torch(norm_type):
    rng = np.random.default_rng(3)
    grads = [rng.standard_normal(s) for s in ((3, 4), (5,), (2, 3))]
    out = []
    for lib in (cgrad, torch):
        params = [lib.zeros(*g.shape, dtype=lib.float64, requires_grad=True) for g in grads]
        for p, g in zip(params, grads):
            p.grad = lib.tensor(g)
        total = lib.nn.utils.get_total_norm([p.grad for p in params], norm_type)
        lib.nn.utils.clip_grads_with_norm_(params, 1.5, total)
        out.append((total.item(), [p.grad.numpy().copy() for p in params]))
    assert out[0][0] == pytest.approx(out[1][0], rel=1e-12)
    for a, b in zip(out[0][1], out[1][1]):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    bad = cgrad.zeros(2, requires_grad=True)
    bad.grad = cgrad.tensor([float("inf"), 1.0])
    with pytest.raises(RuntimeError, match="is non-finite, so it cannot be clipped"):
        nn.utils.get_total_norm([bad.grad], error_if_nonfinite=True)
    assert nn.utils.get_total_norm([]).item() == 0.0
    with pytest.warns(FutureWarning, match="clip_grad_norm` is now deprecated"):
        nn.utils.clip_grad_norm([bad], 1.0)
