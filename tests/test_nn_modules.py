"""cgrad.nn modules against torch.nn: reprs, state_dict keys and shapes,
forward/backward with copied weights, registration rules, load_state_dict
checks, Parameter, containers, init and gradient clipping."""
import copy
import math
import pickle
import warnings

import numpy as np
import pytest

import cgrad
import cgrad.nn as nn
from helpers import close_values, type_and_message

torch = pytest.importorskip("torch")
tnn = torch.nn


def to_torch(t):
    return torch.tensor(np.array(t.detach().numpy()))


def copy_weights(src, dst):
    """Loads cgrad module src's state into torch module dst."""
    dst.load_state_dict({k: to_torch(v) for k, v in src.state_dict().items()})


# (name, constructor taking the library's nn) for every layer with the same arguments in both
LAYERS = {
    "Linear": lambda n: n.Linear(3, 4),
    "Linear-nobias": lambda n: n.Linear(3, 4, bias=False),
    "Bilinear": lambda n: n.Bilinear(2, 3, 4),
    "Bilinear-nobias": lambda n: n.Bilinear(2, 3, 4, bias=False),
    "Embedding": lambda n: n.Embedding(10, 3),
    "Embedding-padding": lambda n: n.Embedding(10, 3, padding_idx=0),
    "Embedding-opts": lambda n: n.Embedding(10, 3, padding_idx=-2, max_norm=1.0),
    "Identity": lambda n: n.Identity(54, unused="x"),
    "ReLU": lambda n: n.ReLU(),
    "ReLU-inplace": lambda n: n.ReLU(inplace=True),
    "LeakyReLU": lambda n: n.LeakyReLU(),
    "LeakyReLU-opts": lambda n: n.LeakyReLU(0.2, True),
    "GELU": lambda n: n.GELU(),
    "GELU-tanh": lambda n: n.GELU("tanh"),
    "Tanh": lambda n: n.Tanh(),
    "Sigmoid": lambda n: n.Sigmoid(),
    "Softmax": lambda n: n.Softmax(dim=1),
    "Softmax-none": lambda n: n.Softmax(),
    "LogSoftmax": lambda n: n.LogSoftmax(1),
    "Dropout": lambda n: n.Dropout(),
    "Dropout-opts": lambda n: n.Dropout(0.2, True),
    "LayerNorm": lambda n: n.LayerNorm(4),
    "LayerNorm-2d-noaffine": lambda n: n.LayerNorm((3, 4), elementwise_affine=False),
    "LayerNorm-nobias": lambda n: n.LayerNorm(4, bias=False, eps=1e-3),
    "Flatten": lambda n: n.Flatten(),
    "Flatten-opts": lambda n: n.Flatten(0, 2),
    "MSELoss": lambda n: n.MSELoss(),
    "L1Loss": lambda n: n.L1Loss(reduction="sum"),
    "CrossEntropyLoss": lambda n: n.CrossEntropyLoss(label_smoothing=0.1),
    "CrossEntropyLoss-weight": lambda n: n.CrossEntropyLoss(weight=n_tensor(n, [1.0, 2.0, 3.0])),
    "NLLLoss": lambda n: n.NLLLoss(ignore_index=2),
    "BCELoss": lambda n: n.BCELoss(),
    "BCEWithLogitsLoss": lambda n: n.BCEWithLogitsLoss(pos_weight=n_tensor(n, [1.0, 2.0])),
    "HuberLoss": lambda n: n.HuberLoss(delta=2.0),
    "Sequential": lambda n: n.Sequential(n.Linear(2, 3), n.ReLU(), n.Linear(3, 1)),
    "Sequential-empty": lambda n: n.Sequential(),
    "ModuleList": lambda n: n.ModuleList([n.ReLU(), n.ReLU(), n.Tanh(), n.Linear(2, 2), n.Linear(2, 2)]),
    "ModuleList-empty": lambda n: n.ModuleList(),
    "ModuleDict": lambda n: n.ModuleDict({"a": n.ReLU(), "b": n.Linear(1, 2)}),
    "Nested": lambda n: n.Sequential(n.Sequential(n.Linear(2, 2), n.LayerNorm(2)),
                                     n.ModuleDict({"head": n.Linear(2, 1)})),
}


def n_tensor(n, values):
    return (cgrad if n is nn else torch).tensor(values)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_repr_matches_torch(name):
    assert repr(LAYERS[name](nn)) == repr(LAYERS[name](tnn))


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_state_dict_keys_and_shapes_match_torch(name):
    ours, theirs = LAYERS[name](nn).state_dict(), LAYERS[name](tnn).state_dict()
    assert list(ours) == list(theirs)
    for k in ours:
        assert tuple(ours[k].shape) == tuple(theirs[k].shape), k
        assert str(ours[k].dtype).split(".")[-1] == str(theirs[k].dtype).split(".")[-1], k
    assert [n for n, _ in LAYERS[name](nn).named_parameters()] == [n for n, _ in LAYERS[name](tnn).named_parameters()]


def run_both(ours, theirs, inputs, backward=True):
    """Forward (and backward with a fixed upstream) through both modules on the same inputs."""
    c_in = [cgrad.tensor(a, requires_grad=a.dtype.kind == "f" and backward) if isinstance(a, np.ndarray) else a
            for a in inputs]
    t_in = [torch.tensor(a, requires_grad=a.dtype.kind == "f" and backward) if isinstance(a, np.ndarray) else a
            for a in inputs]
    out, tout = ours(*c_in), theirs(*t_in)
    close_values(out, tout, rtol=1e-5, atol=1e-6)
    if backward:
        g = np.linspace(-1, 1, max(out.numel(), 1)).reshape(tuple(out.shape)).astype(np.float32)
        out.backward(cgrad.tensor(g))
        tout.backward(torch.tensor(g))
        for (n, p), (_, tp) in zip(ours.named_parameters(), theirs.named_parameters()):
            close_values(p.grad, tp.grad, rtol=1e-5, atol=1e-5)
        for a, b in zip(c_in, t_in):
            if isinstance(a, cgrad.Tensor) and a.requires_grad:
                close_values(a.grad, b.grad, rtol=1e-5, atol=1e-5)
    return out


rng = np.random.default_rng(0)
FORWARD = {
    "Linear": [rng.standard_normal((5, 3)).astype(np.float32)],
    "Linear-nobias": [rng.standard_normal((2, 5, 3)).astype(np.float32)],
    "Bilinear": [rng.standard_normal((5, 2)).astype(np.float32), rng.standard_normal((5, 3)).astype(np.float32)],
    "Embedding-padding": [np.array([[0, 3], [9, 0]])],
    "LeakyReLU": [rng.standard_normal((3, 4)).astype(np.float32)],
    "GELU-tanh": [rng.standard_normal((3, 4)).astype(np.float32)],
    "Tanh": [rng.standard_normal((3, 4)).astype(np.float32)],
    "Sigmoid": [rng.standard_normal((3, 4)).astype(np.float32)],
    "Softmax": [rng.standard_normal((3, 4)).astype(np.float32)],
    "LogSoftmax": [rng.standard_normal((3, 4)).astype(np.float32)],
    "LayerNorm": [rng.standard_normal((3, 4)).astype(np.float32)],
    "LayerNorm-2d-noaffine": [rng.standard_normal((2, 3, 4)).astype(np.float32)],
    "Flatten": [rng.standard_normal((2, 3, 4)).astype(np.float32)],
    "Flatten-opts": [rng.standard_normal((2, 3, 4, 5)).astype(np.float32)],
    "MSELoss": [rng.standard_normal((3, 4)).astype(np.float32), rng.standard_normal((3, 4)).astype(np.float32)],
    "L1Loss": [rng.standard_normal((3, 4)).astype(np.float32), rng.standard_normal((3, 4)).astype(np.float32)],
    "HuberLoss": [rng.standard_normal((3, 4)).astype(np.float32) * 3, rng.standard_normal((3, 4)).astype(np.float32)],
    "CrossEntropyLoss": [rng.standard_normal((4, 3)).astype(np.float32), np.array([0, 2, 1, 2])],
    "CrossEntropyLoss-weight": [rng.standard_normal((4, 3)).astype(np.float32), np.array([0, 2, 1, 2])],
    "NLLLoss": [rng.standard_normal((4, 3)).astype(np.float32), np.array([0, 2, 1, 2])],
    "BCELoss": [rng.uniform(0.1, 0.9, (3, 2)).astype(np.float32), rng.uniform(0, 1, (3, 2)).astype(np.float32)],
    "BCEWithLogitsLoss": [rng.standard_normal((3, 2)).astype(np.float32),
                          rng.uniform(0, 1, (3, 2)).astype(np.float32)],
    "Sequential": [rng.standard_normal((5, 2)).astype(np.float32)],
    "Identity": [rng.standard_normal((2, 2)).astype(np.float32)],
}


@pytest.mark.parametrize("name", sorted(FORWARD))
def test_forward_backward_with_copied_weights(name):
    ours, theirs = LAYERS[name](nn), LAYERS[name](tnn)
    copy_weights(ours, theirs)
    inputs = [a if a.dtype.kind == "f" else a for a in FORWARD[name]]
    if name.startswith(("CrossEntropy", "NLL")):
        inputs[1] = cgrad.tensor(inputs[1]), torch.tensor(inputs[1])
        c_x, t_x = cgrad.tensor(inputs[0], requires_grad=True), torch.tensor(inputs[0], requires_grad=True)
        out, tout = ours(c_x, inputs[1][0]), theirs(t_x, inputs[1][1])
        close_values(out, tout, rtol=1e-5, atol=1e-6)
        out.backward()
        tout.backward()
        close_values(c_x.grad, t_x.grad, rtol=1e-5, atol=1e-6)
        return
    run_both(ours, theirs, inputs)


def test_embedding_module_and_from_pretrained():
    ours = nn.Embedding(10, 3, padding_idx=0)
    assert (ours.weight.detach().numpy()[0] == 0).all()
    theirs = tnn.Embedding(10, 3, padding_idx=0)
    copy_weights(ours, theirs)
    run_both(ours, theirs, [np.array([[0, 3], [9, 0]])], backward=False)
    w = cgrad.randn(4, 2)
    e = nn.Embedding.from_pretrained(w)
    assert not e.weight.requires_grad and e.num_embeddings == 4
    assert repr(e) == "Embedding(4, 2)"


def test_dropout_module_train_eval():
    cgrad.manual_seed(0)
    d = nn.Dropout(0.5)
    x = cgrad.ones(1000)
    assert 0.4 < (d(x).numpy() == 0).mean() < 0.6
    d.eval()
    assert d(x) is x
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1, but got -0.1"):
        nn.Dropout(-0.1)


# ---- Module behaviour ----------------------------------------------------------------------


def make_net(lib):
    """The same small model class, named Net, for cgrad or torch."""
    n = lib.nn

    class Net(n.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = n.Linear(2, 3)
            self.act = n.ReLU()
            self.fc2 = n.Linear(3, 1)
            self.register_buffer("running", lib.zeros(3))
            self.register_buffer("scratch", lib.ones(1), persistent=False)
            self.scale = n.Parameter(lib.ones(()))

        def forward(self, x):
            return self.fc2(self.act(self.fc1(x))) * self.scale

    return Net


Net, TNet = make_net(cgrad), make_net(torch)


def test_custom_module_matches_torch():
    ours, theirs = Net(), TNet()
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()]
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    assert [n for n, _ in ours.named_children()] == [n for n, _ in theirs.named_children()]
    copy_weights(ours, theirs)
    run_both(ours, theirs, [rng.standard_normal((4, 2)).astype(np.float32)])


def test_registration_rules():
    m = Net()
    assert isinstance(m.fc1.weight, nn.Parameter) and isinstance(m.fc1.weight, cgrad.Tensor)
    assert "fc1" not in m.__dict__ and "running" not in m.__dict__
    m.extra = 3
    assert m.extra == 3 and "extra" in m.__dict__
    m.fc1 = None
    assert m.fc1 is None and "fc1" in m._modules
    with pytest.raises(TypeError, match="cannot assign 'int' as child module 'fc1'"):
        m.fc1 = 3
    with pytest.raises(TypeError, match=r"cannot assign 'torch.FloatTensor' as parameter 'scale' "
                                        r"\(torch.nn.Parameter or None expected\)"):
        m.scale = cgrad.ones(())
    m.running = cgrad.ones(3)
    assert m.running.numpy().tolist() == [1, 1, 1]
    with pytest.raises(TypeError, match="cannot assign 'str' as buffer 'running'"):
        m.running = "x"
    with pytest.raises(KeyError, match="attribute 'extra' already exists"):
        m.register_buffer("extra", cgrad.ones(1))
    with pytest.raises(KeyError, match='contain "."'):
        m.register_buffer("a.b", cgrad.ones(1))
    with pytest.raises(TypeError, match="cannot assign 'int' object to buffer 'b'"):
        m.register_buffer("b", 1)
    with pytest.raises(TypeError, match="cannot assign 'torch.FloatTensor' object to parameter 'p'"):
        m.register_parameter("p", cgrad.ones(1))
    with pytest.raises(ValueError, match="Cannot assign non-leaf Tensor to parameter 'q'"):
        m.register_parameter("q", _non_leaf_parameter())
    with pytest.raises(AttributeError, match="'Net' object has no attribute 'nothing'"):
        m.nothing
    del m.running
    assert "running" not in dict(m.named_buffers())
    del m.extra
    assert not hasattr(m, "extra")

    class Early(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(cgrad.ones(1))

    with pytest.raises(AttributeError, match="cannot assign parameters before Module.__init__\\(\\) call"):
        Early()


def _non_leaf_parameter():
    """A Parameter that gained history through an in-place op."""
    p = nn.Parameter(cgrad.ones(2), requires_grad=False)
    p.mul_(cgrad.ones(2, requires_grad=True))
    return p


def test_parameters_shared_and_traversal():
    shared = nn.Linear(2, 2)
    seq = nn.Sequential(shared, nn.ReLU(), shared)
    assert len(list(seq.parameters())) == 2
    assert len(list(seq.named_parameters(remove_duplicate=False))) == 4
    assert len(list(seq.modules())) == 3
    assert list(seq.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert [n for n, _ in seq.named_parameters(prefix="model")] == ["model.0.weight", "model.0.bias"]
    assert len(list(seq.parameters(recurse=False))) == 0
    assert seq.get_submodule("2") is shared
    assert seq.get_parameter("0.bias") is shared.bias


def test_train_eval_requires_grad_apply():
    m = Net()
    assert m.training and m.fc1.training
    assert m.eval() is m
    assert not m.training and not m.fc1.training
    m.train()
    assert m.fc2.training
    with pytest.raises(ValueError, match="training mode is expected to be boolean"):
        m.train("yes")
    m.requires_grad_(False)
    assert not any(p.requires_grad for p in m.parameters())
    seen = []
    m.apply(lambda mod: seen.append(type(mod).__name__))
    assert seen == ["Linear", "ReLU", "Linear", "Net"]


def test_zero_grad_modes():
    m = nn.Linear(3, 2)
    m(cgrad.randn(4, 3)).sum().backward()
    g = m.weight.grad
    m.zero_grad(set_to_none=False)
    assert m.weight.grad is not None and (m.weight.grad.numpy() == 0).all()
    assert g.numpy().sum() == 0
    m.zero_grad()
    assert m.weight.grad is None and m.bias.grad is None


def test_to_dtype_keeps_parameters_and_converts_grads():
    m = Net()
    w = m.fc1.weight
    m(cgrad.randn(4, 2)).sum().backward()
    assert m.double() is m
    assert m.fc1.weight is w and w.dtype == cgrad.float64 and isinstance(w, nn.Parameter)
    assert w.grad.dtype == cgrad.float64
    assert m.running.dtype == cgrad.float64
    out = m(cgrad.randn(4, 2, dtype=cgrad.float64))
    assert out.dtype == cgrad.float64
    m.to(cgrad.float32)
    assert w.dtype == cgrad.float32 and m.scale.dtype == cgrad.float32
    m.float()
    m.to(dtype=cgrad.float64)
    assert w.dtype == cgrad.float64
    with pytest.raises(TypeError, match="floating point or complex dtypes"):
        m.to(cgrad.int64)
    assert m.to("cpu") is m


def test_forward_hooks_and_missing_forward():
    m = nn.Linear(2, 2)
    calls = []
    h1 = m.register_forward_pre_hook(lambda mod, args: calls.append("pre"))
    h2 = m.register_forward_hook(lambda mod, args, out: out * 0)
    assert (m(cgrad.ones(1, 2)).detach().numpy() == 0).all() and calls == ["pre"]
    h1.remove()
    h2.remove()
    assert (m(cgrad.ones(1, 2)).detach().numpy() != 0).any()

    class NoForward(nn.Module):
        pass

    with pytest.raises(NotImplementedError, match='Module \\[NoForward\\] is missing the required "forward" function'):
        NoForward()(1)


# ---- load_state_dict -------------------------------------------------------------------------


def test_load_state_dict_round_trip_and_torch_weights():
    theirs = TNet()
    ours = Net()
    result = ours.load_state_dict({k: cgrad.tensor(v.numpy()) for k, v in theirs.state_dict().items()})
    assert repr(result) == "<All keys matched successfully>"
    for k, v in theirs.state_dict().items():
        np.testing.assert_array_equal(ours.state_dict()[k].numpy(), v.numpy())
    w = ours.fc1.weight
    ours.load_state_dict(Net().state_dict())
    assert ours.fc1.weight is w  # copied in place


def test_load_state_dict_errors_match_torch():
    ours, theirs = Net(), TNet()
    sd, tsd = dict(ours.state_dict()), dict(theirs.state_dict())
    for mutate in (lambda d: d.pop("fc1.bias"),
                   lambda d: d.update({"bogus": d["running"]}),
                   lambda d: d.update({"fc9.weight": d["running"]}),
                   lambda d: (d.pop("scale"), d.update({"extra.x": d["running"]}))):
        a, b = dict(sd), dict(tsd)
        mutate(a)
        mutate(b)
        ea, eb = type_and_message(lambda: ours.load_state_dict(a)), type_and_message(lambda: theirs.load_state_dict(b))
        assert ea == eb
        res, tres = ours.load_state_dict(a, strict=False), theirs.load_state_dict(b, strict=False)
        assert (res.missing_keys, res.unexpected_keys) == (tres.missing_keys, tres.unexpected_keys)
        assert repr(res) == repr(tres)
    a = dict(sd)
    a["fc1.weight"] = cgrad.zeros(2, 2)
    kind, msg = type_and_message(lambda: ours.load_state_dict(a))
    assert kind is RuntimeError
    assert msg == ("Error(s) in loading state_dict for Net:\n\tsize mismatch for fc1.weight: copying a param with "
                   "shape cgrad.Size([2, 2]) from checkpoint, the shape in current model is cgrad.Size([3, 2]).")
    a["fc1.weight"] = 3
    message = type_and_message(lambda: ours.load_state_dict(a))[1]
    assert "expected torch.Tensor or Tensor-like object from checkpoint" in message


# ---- Parameter -----------------------------------------------------------------------------


def test_parameter():
    data = cgrad.tensor(np.array([1.0, 2.0]))
    p = nn.Parameter(data)
    tp = tnn.Parameter(torch.tensor(np.array([1.0, 2.0])))
    assert repr(p) == repr(tp).replace("torch.", "cgrad.")
    assert p.requires_grad and p.is_leaf and p.grad_fn is None
    assert p.data_ptr() == data.data_ptr()  # shares memory
    assert not nn.Parameter(cgrad.ones(1), requires_grad=False).requires_grad
    assert nn.Parameter().shape == (0,)
    assert repr(nn.Parameter(cgrad.ones(2), requires_grad=False)) == repr(tnn.Parameter(torch.ones(2), False))
    q = copy.deepcopy(p)
    assert isinstance(q, nn.Parameter) and q.data_ptr() != p.data_ptr() and q.requires_grad
    r = pickle.loads(pickle.dumps(p))
    assert isinstance(r, nn.Parameter) and r.detach().numpy().tolist() == [1.0, 2.0] and r.requires_grad
    y = (p * 2).sum()
    y.backward()
    assert p.grad.numpy().tolist() == [2.0, 2.0]
    assert type(p * 2) is cgrad.Tensor
    m = copy.deepcopy(nn.Linear(2, 2))
    assert isinstance(m.weight, nn.Parameter)


# ---- containers ------------------------------------------------------------------------------


def test_sequential_ops():
    a, b, c = nn.Linear(1, 1), nn.ReLU(), nn.Tanh()
    s = nn.Sequential(a, b)
    assert len(s) == 2 and s[0] is a and s[-1] is b and list(s) == [a, b]
    assert isinstance(s[0:1], nn.Sequential) and list(s[0:1]) == [a]
    s.append(c)
    assert s[2] is c
    s.insert(1, nn.Identity())
    assert [type(m).__name__ for m in s] == ["Linear", "Identity", "ReLU", "Tanh"]
    del s[1]
    assert list(s._modules) == ["0", "1", "2"]
    s[1] = nn.Sigmoid()
    assert isinstance(s[1], nn.Sigmoid)
    from collections import OrderedDict

    named = nn.Sequential(OrderedDict([("first", nn.Linear(2, 2)), ("act", nn.ReLU())]))
    assert list(named.state_dict()) == ["first.weight", "first.bias"]
    with pytest.raises(IndexError):
        s[5]


def test_module_list_and_dict_ops():
    ml = nn.ModuleList([nn.ReLU()])
    ml.append(nn.Linear(1, 1))
    ml.extend([nn.Tanh()])
    ml += [nn.Sigmoid()]
    assert len(ml) == 4 and isinstance(ml[-1], nn.Sigmoid)
    assert len(list(ml.parameters())) == 2
    del ml[0]
    assert list(ml._modules) == ["0", "1", "2"]
    ml.insert(0, nn.GELU())
    assert isinstance(ml[0], nn.GELU) and isinstance(ml[1], nn.Linear)
    assert isinstance(ml[1:], nn.ModuleList)
    md = nn.ModuleDict({"a": nn.Linear(1, 1)})
    md["b"] = nn.ReLU()
    md.update([("c", nn.Tanh())])
    assert list(md.keys()) == ["a", "b", "c"] and "b" in md and len(md) == 3
    assert list(md.state_dict()) == ["a.weight", "a.bias"]
    assert isinstance(md.pop("a"), nn.Linear) and list(md) == ["b", "c"]


# ---- init ----------------------------------------------------------------------------------


def test_calculate_gain_matches_torch():
    for args in [("linear",), ("sigmoid",), ("tanh",), ("relu",), ("leaky_relu",), ("leaky_relu", 0.2),
                 ("selu",), ("conv2d",)]:
        assert nn.init.calculate_gain(*args) == tnn.init.calculate_gain(*args)
    with pytest.raises(ValueError, match="Unsupported nonlinearity foo"):
        nn.init.calculate_gain("foo")


@pytest.mark.parametrize("shape", [(30, 40), (8, 6, 3, 3)], ids=str)
def test_fans_and_bounds(shape):
    t = cgrad.empty(*shape)
    assert nn.init._calculate_fan_in_and_fan_out(t) == tnn.init._calculate_fan_in_and_fan_out(torch.empty(*shape))
    fan_in, fan_out = nn.init._calculate_fan_in_and_fan_out(t)
    cgrad.manual_seed(0)
    cases = [
        (nn.init.kaiming_uniform_, {}, math.sqrt(3) * math.sqrt(2 / (1 + 0.01 ** 2)) / math.sqrt(fan_in), "uniform"),
        (nn.init.kaiming_uniform_, {"a": math.sqrt(5)}, 1 / math.sqrt(fan_in), "uniform"),
        (nn.init.kaiming_uniform_, {"mode": "fan_out", "nonlinearity": "relu"},
         math.sqrt(3) * math.sqrt(2) / math.sqrt(fan_out), "uniform"),
        (nn.init.xavier_uniform_, {"gain": 2.0}, 2.0 * math.sqrt(6 / (fan_in + fan_out)), "uniform"),
        (nn.init.kaiming_normal_, {"nonlinearity": "tanh"}, 5 / 3 / math.sqrt(fan_in), "normal"),
        (nn.init.xavier_normal_, {}, math.sqrt(2 / (fan_in + fan_out)), "normal"),
    ]
    for fn, kw, scale, kind in cases:
        out = fn(t, **kw)
        assert out is t
        v = t.numpy()
        if kind == "uniform":
            assert np.abs(v).max() <= scale and np.abs(v).max() > 0.9 * scale
        else:
            assert abs(v.std() / scale - 1) < 0.15 and abs(v.mean()) < 0.2 * scale


def test_simple_inits_and_errors():
    t = cgrad.empty(3, 4, requires_grad=True)
    assert (nn.init.ones_(t).detach().numpy() == 1).all()
    assert (nn.init.zeros_(t).detach().numpy() == 0).all()
    assert (nn.init.constant_(t, 0.5).detach().numpy() == 0.5).all()
    nn.init.uniform_(t, -2, -1)
    assert ((t.detach().numpy() >= -2) & (t.detach().numpy() < -1)).all()
    nn.init.normal_(t, mean=10.0, std=0.01)
    assert abs(t.detach().numpy().mean() - 10) < 0.1
    assert t.is_leaf and t.grad_fn is None
    with pytest.raises(ValueError, match="Fan in and fan out can not be computed for tensor with fewer than 2"):
        nn.init.xavier_uniform_(cgrad.empty(3))
    with pytest.raises(ValueError, match="Mode fan_up not supported"):
        nn.init.kaiming_uniform_(cgrad.empty(3, 3), mode="fan_up")
    with pytest.warns(UserWarning, match="Initializing zero-element tensors is a no-op"):
        nn.init.kaiming_uniform_(cgrad.empty(0, 3))


@pytest.mark.parametrize("case", [("normal_", (0.0, -1.0), "float32"), ("uniform_", (2.0, 1.0), "float32"),
                                  ("uniform_", (0.0, 1.0), "int64")])
def test_random_inits_check_arguments_as_torch(case):
    """nn.init's draws are Tensor.normal_/uniform_, so they refuse what those refuse."""
    torch = pytest.importorskip("torch")
    name, args, dt = case
    with pytest.raises(Exception) as want:
        getattr(torch.nn.init, name)(torch.zeros(3, dtype=getattr(torch, dt)), *args)
    t = cgrad.zeros(3, dtype=getattr(cgrad, dt))
    with pytest.raises(type(want.value)):
        getattr(nn.init, name)(t, *args)
    assert (t.numpy() == 0).all()


def test_default_layer_init_ranges():
    lin = nn.Linear(50, 20)
    bound = 1 / math.sqrt(50)
    assert np.abs(lin.weight.detach().numpy()).max() <= bound
    assert np.abs(lin.bias.detach().numpy()).max() <= bound
    bil = nn.Bilinear(4, 9, 3)
    assert np.abs(bil.weight.detach().numpy()).max() <= 1 / math.sqrt(4)
    ln = nn.LayerNorm(5)
    assert (ln.weight.detach().numpy() == 1).all() and (ln.bias.detach().numpy() == 0).all()
    emb = nn.Embedding(1000, 4)
    assert abs(emb.weight.detach().numpy().std() - 1) < 0.1


# ---- gradient clipping -------------------------------------------------------------------------


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, float("inf")])
@pytest.mark.parametrize("max_norm", [0.5, 100.0])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    grads = [rng.standard_normal((3, 4)), rng.standard_normal(5), rng.standard_normal(())]
    ps = [cgrad.zeros(g.shape, dtype=cgrad.float64, requires_grad=True) for g in grads]
    tps = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
    for p, tp, g in zip(ps, tps, grads):
        p.grad = cgrad.tensor(g)
        tp.grad = torch.tensor(g)
    extra = cgrad.zeros(2, requires_grad=True)  # no grad: skipped
    total = nn.utils.clip_grad_norm_(ps + [extra], max_norm, norm_type)
    ttotal = tnn.utils.clip_grad_norm_(tps, max_norm, norm_type)
    close_values(total, ttotal, rtol=1e-12)
    for p, tp in zip(ps, tps):
        close_values(p.grad, tp.grad, rtol=1e-12)


def test_clip_grad_value_and_edge_cases():
    p = cgrad.zeros(4, requires_grad=True)
    p.grad = cgrad.tensor([-3.0, 0.5, 2.0, -0.2])
    nn.utils.clip_grad_value_(p, 1.0)
    np.testing.assert_allclose(p.grad.numpy(), [-1.0, 0.5, 1.0, -0.2], rtol=1e-7)
    assert nn.utils.clip_grad_norm_([cgrad.zeros(2, requires_grad=True)], 1.0).item() == 0.0
    q = cgrad.zeros(2, requires_grad=True)
    q.grad = cgrad.tensor([float("nan"), 1.0])
    with pytest.raises(RuntimeError, match="is non-finite, so it cannot be clipped"):
        nn.utils.clip_grad_norm_(q, 1.0, error_if_nonfinite=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nn.utils.clip_grad_norm_(q, 1.0)
