"""nn.Module's hooks (state dict, load, forward with kwargs, global), its other methods, and nn.utils'
spectral and orthogonal parametrizations, against torch.nn: values, state-dict keys, reprs, errors."""
from collections import OrderedDict
import copy
import inspect
import pickle
import warnings

import numpy as np
import pytest

import cgrad
from cgrad.nn.modules import module as cmodule
from helpers import error_summary, in_both

torch = pytest.importorskip("torch")
from torch.nn.modules import module as tmodule  # noqa: E402

LIBS = [cgrad, torch]


def arr(t):
    return t.detach().numpy().copy()


def net(lib):
    lib.manual_seed(0)
    return lib.nn.Sequential(lib.nn.Linear(2, 3), lib.nn.BatchNorm1d(3), lib.nn.Sequential(lib.nn.Linear(3, 1)))


def torch_weights(c, t):
    """c takes t's parameters and buffers."""
    c.load_state_dict({k: cgrad.tensor(v.numpy()) for k, v in t.state_dict().items()})


# ---- the audit: every public torch.nn.Module method, with its parameters ----------------------------

def _params(fn):
    return [(p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values()]


@pytest.mark.parametrize("name", sorted(n for n in dir(torch.nn.Module) if not n.startswith("_")))
def test_module_has_torchs_public_methods_and_signatures(name):
    theirs = getattr(torch.nn.Module, name)
    assert hasattr(cgrad.nn.Module, name)
    if callable(theirs) and not isinstance(theirs, type) and name != "T_destination":
        assert _params(getattr(cgrad.nn.Module, name)) == _params(theirs)


def test_module_level_hook_functions_match_torch():
    assert cmodule.__all__ == tmodule.__all__
    for name in tmodule.__all__[:-1]:
        assert _params(getattr(cmodule, name)) == _params(getattr(tmodule, name))
        assert getattr(cgrad.nn.modules.module, name) is getattr(cmodule, name)


def test_init_errors_match_torch():
    class M(cgrad.nn.Module):
        pass

    class TM(torch.nn.Module):
        pass
    for args, kwargs in [((1,), {}), ((), {"x": 1}), ((1, 2), {"y": 2})]:
        ours, theirs = error_summary(lambda: M(*args, **kwargs)), error_summary(lambda: TM(*args, **kwargs))
        assert ours == (theirs[0], theirs[1].replace("TM", "M"))


def test_call_super_init_passes_arguments_on():
    class Base:
        def __init__(self, a=0):
            self.a = a

    def make(lib):
        class M(lib.nn.Module, Base):
            call_super_init = True
        return M(a=3).a
    assert in_both(make) == (3, 3)


# ---- state_dict hooks ----------------------------------------------------------------------------

def test_state_dict_metadata_matches_torch():
    ours, theirs = net(cgrad).state_dict(), net(torch).state_dict()
    assert list(ours) == list(theirs)
    assert dict(ours._metadata) == dict(theirs._metadata)
    ours, theirs = net(cgrad).state_dict(prefix="m."), net(torch).state_dict(prefix="m.")
    assert dict(ours._metadata) == dict(theirs._metadata)


def test_state_dict_pre_and_post_hooks_match_torch():
    def run(lib):
        m, calls = net(lib), []
        m.register_state_dict_pre_hook(lambda mod, prefix, keep_vars: calls.append(("pre", prefix, keep_vars)))
        m[2].register_state_dict_pre_hook(lambda mod, prefix, keep_vars: calls.append(("pre2", prefix)))

        def post(mod, sd, prefix, local_metadata):
            calls.append(("post", prefix, sorted(sd), dict(local_metadata)))
            sd[prefix + "extra"] = lib.zeros(1)
        h = m[2].register_state_dict_post_hook(post)
        keys = list(m.state_dict(keep_vars=True))
        h.remove()
        keys_after = list(m.state_dict())
        return calls, keys, keys_after
    ours, theirs = in_both(run)
    assert ours == theirs


def test_state_dict_post_hook_rules_match_torch():
    def run(lib):
        m = lib.nn.Linear(2, 2)
        out = []
        def returns_a_dict(*args):
            return {}
        h = m.register_state_dict_post_hook(returns_a_dict)
        out.append(error_summary(m.state_dict))
        out.append(error_summary(lambda: m._register_state_dict_hook(returns_a_dict)))
        h.remove()
        # the private form's result replaces the state dict
        m._register_state_dict_hook(lambda mod, sd, prefix, meta: {"only": 1})
        out.append(dict(m.state_dict()))
        return out
    ours, theirs = in_both(run)
    assert ours == theirs


# ---- load_state_dict hooks -----------------------------------------------------------------------

def test_load_pre_hooks_rename_keys_and_see_torchs_arguments():
    def run(lib):
        m, seen = net(lib), []

        def public(mod, sd, prefix, local_metadata, strict, missing, unexpected, errors):
            seen.append(("public", type(mod).__name__, prefix, dict(local_metadata), strict))
            if prefix + "old_weight" in sd:
                sd[prefix + "weight"] = sd.pop(prefix + "old_weight")

        def private(sd, prefix, local_metadata, strict, missing, unexpected, errors):
            seen.append(("private", prefix, sorted(sd)))
        m[0].register_load_state_dict_pre_hook(public)
        handle = m[2]._register_load_state_dict_pre_hook(private)
        sd = m.state_dict()
        sd["0.old_weight"] = sd.pop("0.weight") * 0 + 1
        result = m.load_state_dict(sd)
        handle.remove()
        m.load_state_dict(m.state_dict())
        return seen, repr(result), arr(m[0].weight).tolist()
    ours, theirs = in_both(run)
    assert ours == theirs


def test_load_post_hooks_see_and_change_the_incompatible_keys():
    def run(lib):
        m, order = net(lib), []

        def forgive(mod, keys):
            order.append((type(mod).__name__, list(keys.missing_keys), list(keys.unexpected_keys)))
            keys.missing_keys.clear()
        m.register_load_state_dict_post_hook(forgive)
        m[2].register_load_state_dict_post_hook(lambda mod, keys: order.append(("inner", list(keys.missing_keys))))
        sd = m.state_dict()
        del sd["2.0.bias"], sd["0.weight"]
        sd["bogus"] = lib.zeros(1)
        strict_error = error_summary(lambda: m.load_state_dict(sd))
        loose = m.load_state_dict(sd, strict=False)
        return order, strict_error, repr(loose)
    ours, theirs = in_both(run)
    assert ours == theirs


def test_load_post_hook_returning_a_value_is_an_error():
    def run(lib):
        m = lib.nn.Linear(2, 2)
        m.register_load_state_dict_post_hook(lambda mod, keys: keys)
        return error_summary(lambda: m.load_state_dict(m.state_dict()))
    ours, theirs = in_both(run)
    assert ours == theirs


def test_load_state_dict_assign_takes_the_tensors():
    for lib in LIBS:
        m = lib.nn.Linear(2, 3)
        m.weight.requires_grad_(False)
        w, b = lib.ones(3, 2), lib.nn.Parameter(lib.zeros(3))
        bn = lib.nn.BatchNorm1d(3)
        mean = lib.full((3,), 2.0)
        assert repr(m.load_state_dict({"weight": w, "bias": b}, assign=True)) == "<All keys matched successfully>"
        assert isinstance(m.weight, lib.nn.Parameter) and not m.weight.requires_grad and m.bias is b
        assert m.bias.requires_grad
        sd = bn.state_dict()
        sd["running_mean"] = mean
        bn.load_state_dict(sd, assign=True)
        assert bn.running_mean is mean


def test_batchnorm_loads_a_state_dict_without_num_batches_tracked():
    def run(lib):
        bn = lib.nn.BatchNorm1d(2)
        bn.num_batches_tracked.fill_(5)
        plain = {k: v for k, v in bn.state_dict().items() if k != "num_batches_tracked"}
        result = bn.load_state_dict(plain)
        versioned = bn.state_dict()
        del versioned["num_batches_tracked"]
        error = error_summary(lambda: bn.load_state_dict(versioned))
        return repr(result), int(bn.num_batches_tracked), error
    ours, theirs = in_both(run)
    assert ours == theirs


def test_instance_norm_refuses_old_running_stats_as_torch():
    def run(lib):
        m = lib.nn.InstanceNorm1d(2)
        return error_summary(lambda: m.load_state_dict({"running_mean": lib.zeros(2), "running_var": lib.ones(2)}))
    ours, theirs = in_both(run)
    assert ours == theirs and ours is not None


# ---- forward hooks: kwargs, prepend, always_call ----------------------------------------------------

class Scale:
    @staticmethod
    def make(lib):
        class M(lib.nn.Module):
            def forward(self, x, scale=1.0, fail=False):
                if fail:
                    raise ValueError("forward failed")
                return x * scale
        return M()


def test_forward_hooks_with_kwargs_and_prepend_match_torch():
    def run(lib):
        m, calls = Scale.make(lib), []
        m.register_forward_pre_hook(lambda mod, args: calls.append("pre") or (args[0] + 1,))
        m.register_forward_pre_hook(lambda mod, args, kwargs: calls.append(("kw", dict(kwargs)))
                                    or (args, {**kwargs, "scale": 3.0}), with_kwargs=True)
        m.register_forward_pre_hook(lambda mod, args: calls.append("first"), prepend=True)
        m.register_forward_hook(lambda mod, args, kwargs, out: calls.append(("out", dict(kwargs))) or out * 2,
                                with_kwargs=True)
        m.register_forward_hook(lambda mod, args, out: calls.append("very first"), prepend=True)
        out = m(lib.ones(2), scale=2.0)
        return calls, arr(out).tolist()
    ours, theirs = in_both(run)
    assert ours == theirs


def test_forward_pre_hook_with_kwargs_bad_return_matches_torch():
    def run(lib):
        m = Scale.make(lib)
        m.register_forward_pre_hook(lambda mod, args, kwargs: args, with_kwargs=True)
        return error_summary(lambda: m(lib.ones(1)))
    ours, theirs = in_both(run)
    assert ours[0] == theirs[0] == "RuntimeError"
    assert ours[1].startswith("forward pre-hook must return None or a tuple of (new_args, new_kwargs), but got (")


def test_always_call_hooks_run_when_forward_raises():
    def run(lib):
        m, calls = Scale.make(lib), []
        m.register_forward_hook(lambda mod, args, out: calls.append(("always", out)), always_call=True)
        m.register_forward_hook(lambda mod, args, kwargs, out: calls.append(("always kw", sorted(kwargs))),
                                with_kwargs=True, always_call=True)
        m.register_forward_hook(lambda mod, args, out: calls.append("normal"))

        def bad(mod, args, out):
            raise KeyError("hook failed")
        m.register_forward_hook(bad, always_call=True)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            error = error_summary(lambda: m(lib.ones(1), fail=True))
        return calls, error, [str(w.message) for w in caught]
    ours, theirs = in_both(run)
    assert ours == theirs


def test_removed_forward_hooks_leave_no_flags_behind():
    m = Scale.make(cgrad)
    h = m.register_forward_hook(lambda *a: None, with_kwargs=True, always_call=True)
    g = m.register_forward_pre_hook(lambda *a: None, with_kwargs=True)
    with h, g:
        assert m._forward_hooks_with_kwargs and m._forward_hooks_always_called and m._forward_pre_hooks_with_kwargs
    assert not (m._forward_hooks or m._forward_hooks_with_kwargs or m._forward_hooks_always_called
                or m._forward_pre_hooks or m._forward_pre_hooks_with_kwargs)


# ---- global hooks --------------------------------------------------------------------------------

def test_global_forward_hooks_run_before_the_modules_own():
    def run(lib):
        mod = lib.nn.modules.module
        m, calls = lib.nn.Sequential(lib.nn.Identity()), []
        m.register_forward_pre_hook(lambda module, args: calls.append("own pre"))
        m.register_forward_hook(lambda module, args, out: calls.append("own"))
        handles = [mod.register_module_forward_pre_hook(lambda module, args: calls.append(("pre", type(module)
                                                                                            .__name__))),
                   mod.register_module_forward_hook(lambda module, args, out: calls.append(("post", type(module)
                                                                                             .__name__))),
                   mod.register_module_forward_hook(lambda module, args, kwargs, out: calls.append("kw"),
                                                    with_kwargs=True)]
        try:
            m(lib.ones(1))
        finally:
            for h in handles:
                h.remove()
        m(lib.ones(1))
        return calls
    ours, theirs = in_both(run)
    assert ours == theirs


def test_global_backward_hooks_match_torch():
    def run(lib):
        mod = lib.nn.modules.module
        calls = []
        lin = lib.nn.Linear(2, 1, dtype=lib.float64)
        handles = [
            mod.register_module_full_backward_pre_hook(lambda m, go: calls.append(("pre", arr(go[0]).tolist()))),
            mod.register_module_full_backward_hook(lambda m, gi, go: calls.append(("full", arr(gi[0]).tolist())))]
        try:
            x = lib.tensor([[1.0, 2.0]], dtype=lib.float64, requires_grad=True)
            with lib.no_grad():
                lin.weight.copy_(lib.tensor([[0.5, -1.0]], dtype=lib.float64))
            (lin(x) * 3).sum().backward()
            calls.append(error_summary(lambda: mod.register_module_backward_hook(lambda *a: None)))
        finally:
            for h in handles:
                h.remove()
            mod._global_is_full_backward_hook = None
        return calls
    ours, theirs = in_both(run)
    assert ours == theirs


def test_registration_hooks_may_replace_what_is_registered():
    def run(lib):
        mod, seen = lib.nn.modules.module, []
        handles = [
            mod.register_module_buffer_registration_hook(lambda m, n, b: seen.append(("buffer", n)) or b * 0 + 7),
            mod.register_module_parameter_registration_hook(lambda m, n, p: seen.append(("param", n))),
            mod.register_module_module_registration_hook(lambda m, n, s: seen.append(("module", n)))]
        try:
            m = lib.nn.Module()
            m.register_buffer("b", lib.ones(2))
            m.p = lib.nn.Parameter(lib.ones(1))
            m.child = lib.nn.Identity()
            m.add_module("other", None)
            m.b = lib.zeros(2)
        finally:
            for h in handles:
                h.remove()
        return seen, arr(m.b).tolist()
    ours, theirs = in_both(run)
    assert ours == theirs


# ---- non-full backward hooks ----------------------------------------------------------------------

def test_non_full_backward_hook_sees_the_last_nodes_gradients():
    def run(lib):
        class M(lib.nn.Module):
            def forward(self, x):
                return x * lib.tensor([2.0, 3.0], dtype=lib.float64)
        m, seen = M(), []
        m.register_backward_hook(lambda mod, gi, go: seen.append(([None if g is None else arr(g).tolist()
                                                                   for g in gi], [arr(g).tolist() for g in go])))
        x = lib.tensor([1.0, 1.0], dtype=lib.float64, requires_grad=True)
        with warnings.catch_warnings(record=True):  # the leaf input warns: its node is not the product's
            warnings.simplefilter("always")
            y = m(x)
        y.sum().backward()
        full_error = error_summary(lambda: m.register_full_backward_hook(lambda *a: None))
        return seen, arr(x.grad).tolist(), full_error
    ours, theirs = in_both(run)
    assert ours == theirs


def test_non_full_backward_hook_warns_as_torch():
    def run(lib):
        class M(lib.nn.Module):
            def forward(self, x):
                return (x * 2).exp()
        m = M()
        m.register_backward_hook(lambda *a: None)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            m(lib.ones(2, requires_grad=True))
        return [(w.category.__name__, str(w.message)) for w in caught]
    ours, theirs = in_both(run)
    assert ours == theirs and len(ours) == 1


# ---- other methods -----------------------------------------------------------------------------------

def test_modules_without_removing_duplicates():
    def run(lib):
        lin = lib.nn.Linear(1, 1)
        m = lib.nn.Sequential(lin, lin)
        return ([type(x).__name__ for x in m.modules()], [type(x).__name__ for x in m.modules(remove_duplicate=False)],
                [n for n, _ in m.named_parameters(remove_duplicate=False)])
    ours, theirs = in_both(run)
    assert ours == theirs


def test_to_empty_keeps_shapes_dtypes_and_identity():
    m = net(cgrad).double()
    params = list(m.parameters())
    assert m.to_empty(device="cpu") is m
    assert [p is q for p, q in zip(m.parameters(), params)] == [True] * len(params)
    assert [(k, tuple(v.shape), v.dtype) for k, v in m.state_dict().items()] == \
        [(k, tuple(v.shape), v.dtype) for k, v in net(cgrad).double().state_dict().items()]
    m.to_empty(device=None, recurse=False)
    with pytest.raises(AssertionError, match="Torch not compiled with CUDA enabled"):  # torch's, without CUDA
        m.to_empty(device="cuda")
    with pytest.raises(AssertionError, match="Torch not compiled with CUDA enabled"):
        m.cuda()
    with pytest.raises(NotImplementedError, match="cgrad.compile"):
        m.compile()


def test_type_and_positional_state_dict_match_torch():
    def run(lib):
        m = lib.nn.Linear(1, 1).type(lib.float64)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            dest = {}
            sd = m.state_dict(dest, "pre.")
        return str(m.weight.dtype).split(".")[-1], list(sd), sd is dest, [w.category.__name__ for w in caught]
    ours, theirs = in_both(run)
    assert ours == theirs


def test_modules_with_hooks_copy_and_pickle():
    m = net(cgrad)
    m.register_load_state_dict_pre_hook(_noop_load_pre_hook)
    m.register_forward_hook(_noop_forward_hook, with_kwargs=True)
    for other in (copy.deepcopy(m), pickle.loads(pickle.dumps(m))):
        hook = next(iter(other._load_state_dict_pre_hooks.values()))
        assert hook.module() is other
        assert list(other._forward_hooks_with_kwargs.values()) == [True]
        other.load_state_dict(m.state_dict())
    old = net(cgrad)
    for name in ("_forward_hooks_with_kwargs", "_state_dict_pre_hooks", "_load_state_dict_post_hooks"):
        del old.__dict__[name]
    revived = pickle.loads(pickle.dumps(old))
    revived(cgrad.ones(2, 2))
    assert revived._load_state_dict_post_hooks == {}


def _noop_load_pre_hook(*args):
    pass


def _noop_forward_hook(*args):
    pass


def test_removable_handle_is_torchs():
    from cgrad.utils.hooks import RemovableHandle
    hooks, extra = OrderedDict(), OrderedDict()
    h = RemovableHandle(hooks, extra_dict=[extra])
    hooks[h.id], extra[h.id] = "hook", True
    assert isinstance(cgrad.nn.Linear(1, 1).register_forward_hook(lambda *a: None), RemovableHandle)
    h2 = pickle.loads(pickle.dumps(h))
    assert h2.id == h.id and RemovableHandle.next_id > h.id
    h.remove()
    h.remove()
    assert hooks == {} and extra == {}


# ---- parametrizations.orthogonal --------------------------------------------------------------------

def copy_into(c, t):
    with cgrad.no_grad():
        c.copy_(cgrad.tensor(t.detach().numpy()))


def linear_pair(shape, bias=True):
    t = torch.nn.Linear(shape[1], shape[0], bias=bias, dtype=torch.float64)
    c = cgrad.nn.Linear(shape[1], shape[0], bias=bias, dtype=cgrad.float64)
    copy_into(c.weight, t.weight)
    if bias:
        copy_into(c.bias, t.bias)
    return c, t


def same_state(c, t, tol=1e-12):
    ours, theirs = c.state_dict(), t.state_dict()
    assert list(ours) == list(theirs)
    for k, v in theirs.items():
        np.testing.assert_allclose(ours[k].numpy(), v.numpy(), rtol=tol, atol=tol, err_msg=k)


MAPS = ["matrix_exp", "cayley", "householder"]
SHAPES = [(3, 3), (4, 2), (2, 5)]


@pytest.mark.parametrize("trivialization", [True, False])
@pytest.mark.parametrize("orthogonal_map", MAPS + [None])
@pytest.mark.parametrize("shape", SHAPES)
def test_orthogonal_matches_torch(shape, orthogonal_map, trivialization):
    c, t = linear_pair(shape)
    torch.nn.utils.parametrizations.orthogonal(t, orthogonal_map=orthogonal_map, use_trivialization=trivialization)
    cgrad.nn.utils.parametrizations.orthogonal(c, orthogonal_map=orthogonal_map, use_trivialization=trivialization)
    assert repr(c) == repr(t)
    # the starting point is deterministic (a wide or tall base is completed at random, but only its first
    # columns reach the weight)
    np.testing.assert_allclose(arr(c.weight), arr(t.weight), rtol=1e-12, atol=1e-12)
    if not trivialization or shape[0] == shape[1]:
        same_state(c, t)
    c.load_state_dict({k: cgrad.tensor(v.numpy()) for k, v in t.state_dict().items()})
    # a trained original: move it off the starting point, then compare the weight and its gradient
    # (off the diagonal: a Householder original keeps the signs of R there, and truncates them to ints)
    step = torch.linspace(-0.3, 0.4, shape[0] * shape[1], dtype=torch.float64).reshape(shape)
    with torch.no_grad():
        t.parametrizations.weight.original.add_(step * (1 - torch.eye(*shape, dtype=torch.float64)))
    copy_into(c.parametrizations.weight.original, t.parametrizations.weight.original)
    x = np.linspace(-1, 1, 2 * shape[1]).reshape(2, shape[1])
    (t(torch.tensor(x)) ** 2).sum().backward()
    (c(cgrad.tensor(x)) ** 2).sum().backward()
    w = arr(c.weight)
    eye = np.eye(min(shape))
    np.testing.assert_allclose(w.T @ w if shape[0] >= shape[1] else w @ w.T, eye, atol=1e-12)
    np.testing.assert_allclose(w, arr(t.weight), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(arr(c.parametrizations.weight.original.grad),
                               arr(t.parametrizations.weight.original.grad), rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("orthogonal_map", MAPS)
def test_orthogonal_assignment_matches_torch(orthogonal_map):
    for trivialization in (True, False):
        c, t = linear_pair((3, 3), bias=False)
        torch.nn.utils.parametrizations.orthogonal(t, orthogonal_map=orthogonal_map,
                                                   use_trivialization=trivialization)
        cgrad.nn.utils.parametrizations.orthogonal(c, orthogonal_map=orthogonal_map,
                                                   use_trivialization=trivialization)
        target = np.linalg.qr(np.arange(9.0).reshape(3, 3) + np.eye(3) * 5)[0]

        def assign(m, lib):
            m.weight = lib.tensor(target)
        ours, theirs = error_summary(lambda: assign(c, cgrad)), error_summary(lambda: assign(t, torch))
        assert ours == theirs
        if ours is None:
            same_state(c, t, 1e-10)
            np.testing.assert_allclose(arr(c.weight), target, atol=1e-12)


def test_orthogonal_errors_match_torch():
    for errs in [lambda lib: lib.nn.utils.parametrizations.orthogonal(lib.nn.Linear(2, 2), "nope"),
                 lambda lib: lib.nn.utils.parametrizations.orthogonal(lib.nn.Linear(2, 2), "bias"),
                 lambda lib: lib.nn.utils.parametrizations.orthogonal(lib.nn.Linear(2, 2), orthogonal_map="qr"),
                 lambda lib: setattr(lib.nn.utils.parametrizations.orthogonal(lib.nn.Linear(2, 2)), "weight",
                                     lib.eye(3))]:
        ours, theirs = error_summary(lambda: errs(cgrad)), error_summary(lambda: errs(torch))
        assert ours[0] == theirs[0] and ours[1].replace("cgrad", "torch") == theirs[1]


def test_orthogonal_batch_is_orthogonal_and_equals_torch():
    t = torch.nn.Module()
    t.register_buffer("w", torch.tensor(np.random.default_rng(0).standard_normal((2, 3, 4))))
    c = cgrad.nn.Module()
    c.register_buffer("w", cgrad.tensor(t.w.numpy()))
    for lib, m in ((torch, t), (cgrad, c)):
        lib.nn.utils.parametrizations.orthogonal(m, "w", orthogonal_map="householder", use_trivialization=False)
    np.testing.assert_allclose(arr(c.w), arr(t.w), atol=1e-12)
    for q in arr(c.w):
        np.testing.assert_allclose(q @ q.T, np.eye(3), atol=1e-12)


# ---- spectral norm: the parametrization and the older hook ----------------------------------------

SPECTRAL_MODULES = {
    "linear": lambda lib: lib.nn.Linear(4, 3, dtype=lib.float64),
    "conv2d": lambda lib: lib.nn.Conv2d(2, 3, 2, dtype=lib.float64),
    "conv_transpose1d": lambda lib: lib.nn.ConvTranspose1d(2, 3, 2, dtype=lib.float64),
}
SPECTRAL_INPUTS = {"linear": (2, 4), "conv2d": (1, 2, 3, 3), "conv_transpose1d": (1, 2, 4)}


def spectral_pair(name, apply, **kwargs):
    t, c = SPECTRAL_MODULES[name](torch), SPECTRAL_MODULES[name](cgrad)
    copy_into(c.weight, t.weight)
    copy_into(c.bias, t.bias)
    apply(torch)(t, **kwargs)
    apply(cgrad)(c, **kwargs)
    # the power iteration starts from random vectors: cgrad starts from torch's
    c.load_state_dict({k: cgrad.tensor(v.numpy()) for k, v in t.state_dict().items()})
    return c, t


def run_steps(c, t, name, steps=3):
    x = np.linspace(-1, 1, int(np.prod(SPECTRAL_INPUTS[name]))).reshape(SPECTRAL_INPUTS[name])
    for _ in range(steps):
        a, b = t(torch.tensor(x)), c(cgrad.tensor(x))
        np.testing.assert_allclose(arr(b), arr(a), rtol=1e-10, atol=1e-12)
    (a ** 2).sum().backward()
    (b ** 2).sum().backward()


@pytest.mark.parametrize("n_power_iterations", [1, 3])
@pytest.mark.parametrize("name", list(SPECTRAL_MODULES))
def test_parametrized_spectral_norm_matches_torch(name, n_power_iterations):
    c, t = spectral_pair(name, lambda lib: lib.nn.utils.parametrizations.spectral_norm,
                         n_power_iterations=n_power_iterations)
    assert repr(c) == repr(t)
    assert c.parametrizations.weight[0].dim == t.parametrizations.weight[0].dim
    run_steps(c, t, name)
    same_state(c, t, 1e-10)
    np.testing.assert_allclose(arr(c.parametrizations.weight.original.grad),
                               arr(t.parametrizations.weight.original.grad), rtol=1e-9, atol=1e-11)
    # eval mode: no power iteration, the buffers stay
    c.eval(), t.eval()
    run_steps(c, t, name, steps=2)
    same_state(c, t, 1e-10)


def test_parametrized_spectral_norm_starts_near_the_largest_singular_value():
    m = cgrad.nn.utils.parametrizations.spectral_norm(cgrad.nn.Linear(5, 4, dtype=cgrad.float64))
    assert abs(np.linalg.svd(arr(m.weight), compute_uv=False)[0] - 1) < 1e-6
    v = cgrad.nn.Module()
    v.register_buffer("w", cgrad.tensor([3.0, 4.0]))
    cgrad.nn.utils.parametrizations.spectral_norm(v, "w")
    np.testing.assert_allclose(arr(v.w), [0.6, 0.8], rtol=1e-6)


def test_parametrized_spectral_norm_errors_match_torch():
    for errs in [lambda lib: lib.nn.utils.parametrizations.spectral_norm(lib.nn.Linear(2, 2), dim=2),
                 lambda lib: lib.nn.utils.parametrizations.spectral_norm(lib.nn.Linear(2, 2), n_power_iterations=0),
                 lambda lib: lib.nn.utils.parametrizations.spectral_norm(lib.nn.Linear(2, 2), "nope")]:
        ours, theirs = error_summary(lambda: errs(cgrad)), error_summary(lambda: errs(torch))
        assert ours[0] == theirs[0] and ours[1].replace("cgrad", "torch") == theirs[1]


def test_spectral_norm_backpropagates_through_two_forwards():
    m = cgrad.nn.utils.parametrizations.spectral_norm(cgrad.nn.Linear(3, 3))
    x = cgrad.ones(1, 3)
    loss = m(x).sum() - m(2 * x).sum()
    loss.backward()
    assert m.parametrizations.weight.original.grad is not None


@pytest.mark.parametrize("name", list(SPECTRAL_MODULES))
def test_old_spectral_norm_matches_torch(name):
    c, t = spectral_pair(name, lambda lib: lib.nn.utils.spectral_norm)
    assert repr(c) == repr(t)
    assert dict(c.state_dict()._metadata) == dict(t.state_dict()._metadata)
    run_steps(c, t, name)
    same_state(c, t, 1e-10)
    np.testing.assert_allclose(arr(c.weight_orig.grad), arr(t.weight_orig.grad), rtol=1e-9, atol=1e-11)
    # a state dict of version 0 kept the weight, not v: v is solved for from u and the weight
    sd = t.state_dict()
    del sd._metadata[""]["spectral_norm"]
    sd["weight"] = t.weight.detach()
    del sd["weight_v"]
    t.load_state_dict(sd)
    ours = OrderedDict((k, cgrad.tensor(v.numpy())) for k, v in sd.items())
    ours._metadata = sd._metadata
    c.load_state_dict(ours)
    np.testing.assert_allclose(arr(c.weight_v), arr(t.weight_v), rtol=1e-8, atol=1e-10)
    torch.nn.utils.remove_spectral_norm(t)
    cgrad.nn.utils.remove_spectral_norm(c)
    assert repr(c) == repr(t)
    same_state(c, t, 1e-10)
    assert not c._state_dict_hooks and not c._load_state_dict_pre_hooks and not c._forward_pre_hooks
    # torch keeps its load pre-hook here, and then refuses the module's own state dict
    assert repr(c.load_state_dict(c.state_dict())) == "<All keys matched successfully>"


def test_old_spectral_norm_errors_match_torch():
    def twice(lib):
        m = lib.nn.utils.spectral_norm(lib.nn.Linear(2, 2))
        lib.nn.utils.spectral_norm(m)
    for errs in [twice, lambda lib: lib.nn.utils.remove_spectral_norm(lib.nn.Linear(2, 2)),
                 lambda lib: lib.nn.utils.spectral_norm(lib.nn.Linear(2, 2, bias=False), "bias"),
                 lambda lib: lib.nn.utils.spectral_norm(lib.nn.Linear(2, 2), n_power_iterations=-1)]:
        ours, theirs = error_summary(lambda: errs(cgrad)), error_summary(lambda: errs(torch))
        assert ours[0] == theirs[0] and ours[1].replace("cgrad", "torch") == theirs[1]


# ---- weight_norm: an old state dict into the parametrization --------------------------------------

@pytest.mark.parametrize("dim", [0, 1, None])
def test_old_weight_norm_state_dict_loads_into_the_parametrization(dim):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        old = torch.nn.utils.weight_norm(torch.nn.Linear(3, 2, dtype=torch.float64), dim=dim)
    sd = old.state_dict()
    assert "weight_g" in sd and "weight_v" in sd
    t = torch.nn.utils.parametrizations.weight_norm(torch.nn.Linear(3, 2, dtype=torch.float64), dim=dim)
    c = cgrad.nn.utils.parametrizations.weight_norm(cgrad.nn.Linear(3, 2, dtype=cgrad.float64), dim=dim)
    assert repr(t.load_state_dict(sd)) == repr(c.load_state_dict({k: cgrad.tensor(v.numpy())
                                                                  for k, v in sd.items()}))
    same_state(c, t)
    np.testing.assert_allclose(arr(c.weight), arr(old.weight), rtol=1e-12)


# ---- nn.Buffer and parametrize.transfer_parametrizations_and_params -------------------------------

def test_buffer_assignment_registers_as_torch():
    def run(lib):
        m = lib.nn.Module()
        m.b = lib.nn.Buffer(lib.ones(2))
        m.c = lib.nn.Buffer(lib.zeros(1, requires_grad=True), persistent=False)
        m.plain = lib.zeros(1)
        m.b = lib.full((2,), 3.0)  # a plain tensor into a registered buffer keeps it registered
        copied = copy.deepcopy(m)
        return (list(m.state_dict()), [n for n, _ in m.named_buffers()], isinstance(m.c, lib.nn.Buffer),
                m.c.requires_grad, arr(m.b).tolist(), list(copied.state_dict()), tuple(lib.nn.Buffer().shape),
                error_summary(lambda: setattr(m, "b", 3)))
    ours, theirs = in_both(run)
    assert ours == theirs


def test_transfer_parametrizations_and_params_matches_torch():
    def run(lib):
        lib.manual_seed(0)
        src = lib.nn.utils.parametrizations.weight_norm(lib.nn.Linear(3, 2, dtype=lib.float64))
        with lib.no_grad():
            src.parametrizations.weight.original0.copy_(lib.tensor([[1.5], [2.0]], dtype=lib.float64))
            src.parametrizations.weight.original1.copy_(lib.arange(6.0, dtype=lib.float64).reshape(2, 3))
        dst = lib.nn.utils.parametrize.transfer_parametrizations_and_params(src, lib.nn.Linear(3, 2,
                                                                                                dtype=lib.float64))
        shared = dst.parametrizations.weight.original1 is src.parametrizations.weight.original1
        return repr(dst), shared, list(dst.state_dict()), arr(dst.weight).round(12).tolist()
    ours, theirs = in_both(run)
    assert ours == theirs
    assert cgrad.nn.utils.parametrize.__all__ == torch.nn.utils.parametrize.__all__


# ---- nn.utils.fusion, stateless, skip_init ----------------------------------------------------------

FUSIONS = {
    "conv2d": (lambda lib: lib.nn.Conv2d(2, 3, 2, dtype=lib.float64), lambda lib: lib.nn.BatchNorm2d(3, dtype=lib
                                                                                                        .float64),
               (1, 2, 3, 3), False),
    "conv_transpose1d": (lambda lib: lib.nn.ConvTranspose1d(2, 3, 2, bias=False, dtype=lib.float64),
                         lambda lib: lib.nn.BatchNorm1d(3, affine=False, dtype=lib.float64), (1, 2, 4), True),
    "linear": (lambda lib: lib.nn.Linear(4, 3, dtype=lib.float64), lambda lib: lib.nn.BatchNorm1d(3, dtype=lib
                                                                                                 .float64),
               (2, 4), None),
}


@pytest.mark.parametrize("name", list(FUSIONS))
def test_fusion_matches_torch_and_the_unfused_pair(name):
    make_layer, make_bn, shape, transpose = FUSIONS[name]
    t_layer, t_bn = make_layer(torch), make_bn(torch)
    with torch.no_grad():
        for p in list(t_bn.parameters()):
            p.copy_(torch.linspace(0.5, 1.5, p.numel(), dtype=torch.float64))
        t_bn.running_mean.copy_(torch.linspace(-1, 1, 3, dtype=torch.float64))
        t_bn.running_var.copy_(torch.linspace(0.5, 2, 3, dtype=torch.float64))
    c_layer, c_bn = make_layer(cgrad), make_bn(cgrad)
    torch_weights(c_layer, t_layer)
    torch_weights(c_bn, t_bn)
    x = np.linspace(-1, 1, int(np.prod(shape))).reshape(shape)
    errors = []
    for lib, layer, bn in ((cgrad, c_layer, c_bn), (torch, t_layer, t_bn)):
        fuse = (lambda: lib.nn.utils.fuse_linear_bn_eval(layer, bn)) if transpose is None else \
            (lambda: lib.nn.utils.fuse_conv_bn_eval(layer, bn, transpose=transpose))
        errors.append(error_summary(fuse))
        layer.eval(), bn.eval()
    assert errors[0] == errors[1] == ("AssertionError", "Fusion only for eval!")
    if transpose is None:
        fused, t_fused = (lib.nn.utils.fuse_linear_bn_eval(layer, bn)
                          for lib, layer, bn in ((cgrad, c_layer, c_bn), (torch, t_layer, t_bn)))
    else:
        fused, t_fused = (lib.nn.utils.fuse_conv_bn_eval(layer, bn, transpose)
                          for lib, layer, bn in ((cgrad, c_layer, c_bn), (torch, t_layer, t_bn)))
    assert fused is not c_layer and repr(fused) == repr(t_fused)
    same_state(fused, t_fused)
    assert isinstance(fused.weight, cgrad.nn.Parameter) and fused.weight.requires_grad
    np.testing.assert_allclose(arr(fused(cgrad.tensor(x))), arr(c_bn(c_layer(cgrad.tensor(x)))), rtol=1e-12,
                               atol=1e-12)


def test_fuse_linear_bn_refuses_mismatched_features_as_torch():
    def run(lib):
        return error_summary(lambda: lib.nn.utils.fuse_linear_bn_eval(lib.nn.Linear(2, 3).eval(),
                                                                 lib.nn.BatchNorm1d(2).eval()))
    ours, theirs = in_both(run)
    assert ours == theirs and ours is not None


def test_stateless_functional_call_warns_and_calls():
    def run(lib):
        m = lib.nn.Linear(2, 1, bias=False)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out = lib.nn.utils.stateless.functional_call(m, {"weight": lib.ones(1, 2)}, (lib.ones(1, 2),))
        return arr(out).tolist(), [(w.category.__name__, str(w.message)) for w in caught]
    ours, theirs = in_both(run)
    assert ours == theirs


def test_skip_init_matches_torch():
    def run(lib):
        m = lib.nn.utils.skip_init(lib.nn.Linear, 3, 4, bias=False)

        class NoDevice(lib.nn.Module):
            pass
        return (repr(m), tuple(m.weight.shape), m.weight.requires_grad,
                error_summary(lambda: lib.nn.utils.skip_init(NoDevice)),
                error_summary(lambda: lib.nn.utils.skip_init(int)))
    ours, theirs = in_both(run)
    assert ours == theirs


def test_global_non_full_backward_hook_matches_torch():
    def run(lib):
        mod, seen = lib.nn.modules.module, []

        class M(lib.nn.Module):
            def forward(self, x):
                return x * lib.tensor([2.0, 3.0], dtype=lib.float64)
        handle = mod.register_module_backward_hook(lambda m, gi, go: seen.append((type(m).__name__,
                                                                                   arr(gi[0]).tolist())))
        try:
            x, m = lib.tensor([1.0, -1.0], dtype=lib.float64, requires_grad=True), M()
            with warnings.catch_warnings(record=True):
                warnings.simplefilter("always")
                y = m(x * 1)
            (y * y).sum().backward()
            seen.append(error_summary(lambda: mod.register_module_full_backward_hook(lambda *a: None)))
        finally:
            handle.remove()
            mod._global_is_full_backward_hook = None
        return seen
    ours, theirs = in_both(run)
    assert ours == theirs


def test_lazy_modules_load_and_infer_through_hooks():
    for lib in LIBS:
        m = lib.nn.LazyLinear(2)
        assert len(m._load_state_dict_pre_hooks) == 1 and len(m._forward_pre_hooks_with_kwargs) == 1
        m.load_state_dict(lib.nn.Linear(3, 2).state_dict())
        assert tuple(m.weight.shape) == (2, 3)
        m(lib.ones(1, 3))
        assert type(m) is lib.nn.Linear and not m._load_state_dict_pre_hooks and not m._forward_pre_hooks


def test_parametrized_modules_deepcopy_but_do_not_pickle():
    def run(lib):
        m = lib.nn.utils.parametrizations.orthogonal(lib.nn.Linear(3, 3, dtype=lib.float64))
        c = copy.deepcopy(m)
        shared = c.parametrizations.weight.original is m.parametrizations.weight.original
        np.testing.assert_allclose(arr(c.weight), arr(m.weight))
        return (type(c).__name__, shared, list(c.state_dict()) == list(m.state_dict()),
                error_summary(lambda: pickle.dumps(m)))
    ours, theirs = in_both(run)
    assert ours == theirs
