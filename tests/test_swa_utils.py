"""optim.swa_utils against torch: AveragedModel trajectories under every averaging rule, SWALR's learning
rates, update_bn's statistics, state dicts and errors."""
import warnings

import numpy as np
import pytest

import cgrad
from helpers import assert_same_error

torch = pytest.importorskip("torch")


def _np(x):
    return x.detach().numpy()


def _model(lib, dtype="float64"):
    rng = np.random.default_rng(0)
    model = lib.nn.Sequential(lib.nn.Linear(3, 4), lib.nn.BatchNorm1d(4), lib.nn.ReLU(), lib.nn.Linear(4, 2))
    model = model.double() if dtype == "float64" else model.float()
    with lib.no_grad():
        for p in model.parameters():
            p.copy_(lib.tensor(rng.standard_normal(tuple(p.shape))))
    return model


def _averaging(lib, kind):
    su = lib.optim.swa_utils
    return {"default": {}, "ema_multi": {"multi_avg_fn": su.get_ema_multi_avg_fn(0.9)},
            "swa_multi": {"multi_avg_fn": su.get_swa_multi_avg_fn()},
            "ema": {"avg_fn": su.get_ema_avg_fn(0.8)}, "swa": {"avg_fn": su.get_swa_avg_fn()}}[kind]


def _trajectory(lib, kind, use_buffers, dtype, steps=5):
    model = _model(lib, dtype)
    avg = lib.optim.swa_utils.AveragedModel(model, use_buffers=use_buffers, **_averaging(lib, kind))
    opt = lib.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    rng = np.random.default_rng(1)
    out = []
    for _ in range(steps):
        x = lib.tensor(rng.standard_normal((8, 3)), dtype=getattr(lib, dtype))
        opt.zero_grad()
        (model(x) ** 2).mean().backward()
        opt.step()
        avg.update_parameters(model)
        out.append({k: v.detach().numpy().copy() for k, v in avg.state_dict().items()})
    with lib.no_grad():
        out.append({"forward": _np(avg(lib.tensor(rng.standard_normal((4, 3)), dtype=getattr(lib, dtype))))})
    return out


@pytest.mark.parametrize("kind", ["default", "ema_multi", "swa_multi", "ema", "swa"])
@pytest.mark.parametrize("use_buffers", [False, True])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_averaged_model_trajectory_matches_torch(kind, use_buffers, dtype):
    if kind == "swa_multi" and use_buffers:  # the integer batch count: addcdiv refuses integer division
        assert_same_error(lambda lib: _trajectory(lib, kind, use_buffers, dtype))
        return
    ours = _trajectory(cgrad, kind, use_buffers, dtype)
    theirs = _trajectory(torch, kind, use_buffers, dtype)
    for a, b in zip(ours, theirs):
        assert list(a) == list(b)
        for k in a:
            assert a[k].dtype == b[k].dtype, k
            tol = 1e-12 if dtype == "float64" else 2e-6
            np.testing.assert_allclose(a[k], b[k], rtol=tol, atol=tol, err_msg=k)


def test_averaged_model_structure():
    for lib in (cgrad, torch):
        avg = lib.optim.swa_utils.AveragedModel(_model(lib))
        assert avg.n_averaged.dtype == lib.int64 and avg.n_averaged.item() == 0
        assert list(avg.state_dict())[:2] == ["n_averaged", "module.0.weight"]
    ours = list(cgrad.optim.swa_utils.AveragedModel(_model(cgrad)).state_dict())
    assert ours == list(torch.optim.swa_utils.AveragedModel(_model(torch)).state_dict())
    model = _model(cgrad)
    avg = cgrad.optim.swa_utils.AveragedModel(model)
    assert avg.module is not model and avg.module[0].weight is not model[0].weight


def test_averaged_model_is_exact_mean():
    model = cgrad.nn.Linear(2, 1).double()
    avg = cgrad.optim.swa_utils.AveragedModel(model)
    seen = []
    for k in range(4):
        with cgrad.no_grad():
            model.weight.fill_(float(k * k))
        seen.append(k * k)
        avg.update_parameters(model)
    np.testing.assert_allclose(_np(avg.module.weight), np.full((1, 2), np.mean(seen)))
    assert avg.n_averaged.item() == 4


def test_averaging_errors():
    assert_same_error(lambda lib: lib.optim.swa_utils.get_ema_avg_fn(1.5))
    assert_same_error(lambda lib: lib.optim.swa_utils.get_ema_multi_avg_fn(-0.1))
    assert_same_error(lambda lib: lib.optim.swa_utils.AveragedModel(
        lib.nn.Linear(2, 2), avg_fn=lib.optim.swa_utils.get_swa_avg_fn(),
        multi_avg_fn=lib.optim.swa_utils.get_swa_multi_avg_fn()))


def _swalr_lrs(lib, steps=14, **kw):
    params = [lib.ones(1, requires_grad=True) for _ in range(2)]
    opt = lib.optim.SGD([{"params": [params[0]], "lr": 0.5}, {"params": [params[1]], "lr": 0.2}], lr=0.1)
    sched = lib.optim.swa_utils.SWALR(opt, **kw)
    out = [sched.get_last_lr()]
    for _ in range(steps):
        opt.step()
        sched.step()
        out.append(sched.get_last_lr())
    return out, sched


@pytest.mark.parametrize("kw", [dict(swa_lr=0.05), dict(swa_lr=0.05, anneal_strategy="linear"),
                                dict(swa_lr=[0.01, 0.3], anneal_epochs=4),
                                dict(swa_lr=0.02, anneal_epochs=0), dict(swa_lr=0.02, anneal_epochs=1),
                                dict(swa_lr=[0.1, 0.05], anneal_epochs=6, anneal_strategy="linear")])
def test_swalr_matches_torch(kw):
    ours, sched = _swalr_lrs(cgrad, **kw)
    theirs, sched_t = _swalr_lrs(torch, **kw)
    assert ours == theirs
    sd, sd_t = sched.state_dict(), sched_t.state_dict()
    assert set(sd) == set(sd_t)
    assert "anneal_func" not in sd and sd["_anneal_strategy"] == sd_t["_anneal_strategy"]


def test_swalr_state_dict_round_trip():
    _, sched = _swalr_lrs(cgrad, steps=3, swa_lr=0.05, anneal_strategy="linear")
    sd = sched.state_dict()
    _, other = _swalr_lrs(cgrad, steps=0, swa_lr=0.3)
    other.load_state_dict(sd)
    assert other.anneal_func is other._linear_anneal and other.anneal_epochs == sched.anneal_epochs


def test_swalr_errors_and_warnings():
    def make(lib, **kw):
        opt = lib.optim.SGD([lib.ones(1, requires_grad=True)], lr=0.1)
        return lib.optim.swa_utils.SWALR(opt, **kw)
    assert_same_error(lambda lib: make(lib, swa_lr=0.1, anneal_strategy="exp"))
    assert_same_error(lambda lib: make(lib, swa_lr=0.1, anneal_epochs=-1))
    assert_same_error(lambda lib: make(lib, swa_lr=0.1, anneal_epochs=2.0))
    assert_same_error(lambda lib: make(lib, swa_lr=[0.1, 0.2]))
    for lib in (cgrad, torch):
        sched = make(lib, swa_lr=0.1)
        with pytest.warns(UserWarning, match="please use `get_last_lr\\(\\)`"):
            sched.get_lr()


def _bn_stats(lib, batches):
    model = _model(lib)
    model[1].momentum = 0.3
    model.eval()
    rng = np.random.default_rng(4)
    data = [lib.tensor(rng.standard_normal((5, 3))) for _ in range(3)]
    loader = [(x, 0) for x in data] if batches == "tuples" else data
    lib.optim.swa_utils.update_bn(loader, model)
    bn = model[1]
    return [_np(bn.running_mean), _np(bn.running_var), bn.num_batches_tracked.item(), bn.momentum, model.training]


@pytest.mark.parametrize("batches", ["tensors", "tuples"])
def test_update_bn_matches_torch(batches):
    ours, theirs = _bn_stats(cgrad, batches), _bn_stats(torch, batches)
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-12)
    np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-12)
    assert ours[2:] == theirs[2:] == [3, 0.3, False]


def test_update_bn_without_batch_norm_does_nothing():
    model = cgrad.nn.Linear(2, 2)
    calls = []

    class Loader:
        def __iter__(self):
            calls.append(1)
            return iter([])
    cgrad.optim.swa_utils.update_bn(Loader(), model)
    assert calls == []


def test_swa_training_loop():
    """The documented recipe: train, average from some epoch on under SWALR, update_bn, evaluate."""
    def run(lib):
        model = _model(lib)
        opt = lib.optim.SGD(model.parameters(), lr=0.1)
        swa_model = lib.optim.swa_utils.AveragedModel(model)
        swa_sched = lib.optim.swa_utils.SWALR(opt, swa_lr=0.05, anneal_epochs=2)
        rng = np.random.default_rng(5)
        loader = [lib.tensor(rng.standard_normal((6, 3))) for _ in range(3)]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for epoch in range(6):
                for x in loader:
                    opt.zero_grad()
                    (model(x) ** 2).mean().backward()
                    opt.step()
                if epoch >= 3:
                    swa_model.update_parameters(model)
                    swa_sched.step()
        lib.optim.swa_utils.update_bn(loader, swa_model)
        swa_model.eval()
        with lib.no_grad():
            return _np(swa_model(loader[0])), [g["lr"] for g in opt.param_groups]
    (a, lr_a), (b, lr_b) = run(cgrad), run(torch)
    np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    assert lr_a == lr_b
