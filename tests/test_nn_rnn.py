"""Recurrent layers and cells (nn.RNN, LSTM, GRU and their cells) against PyTorch."""
import itertools
import math
import warnings

import numpy as np
import pytest

import cgrad
from cgrad import nn
from helpers import raises_like_torch

torch = pytest.importorskip("torch")
# torch says so when an LSTM with projections leaves its oneDNN path
pytestmark = pytest.mark.filterwarnings("ignore:LSTM with projections is not supported with oneDNN")

TOL = {cgrad.float64: dict(rtol=1e-10, atol=1e-12), cgrad.float32: dict(rtol=2e-5, atol=2e-6)}
NP = {cgrad.float64: np.float64, cgrad.float32: np.float32}
TORCH_DTYPE = {cgrad.float64: torch.float64, cgrad.float32: torch.float32}


def twins(name, *args, dtype=cgrad.float64, **kwargs):
    """The cgrad module and the torch module of the same construction, with torch's parameter values."""
    t = getattr(torch.nn, name)(*args, dtype=TORCH_DTYPE[dtype], **kwargs)
    c = getattr(nn, name)(*args, dtype=dtype, **kwargs)
    c.load_state_dict({k: cgrad.tensor(v.detach().numpy()) for k, v in t.state_dict().items()})
    return c, t


def pair(shape, dtype, seed):
    x = np.random.default_rng(seed).standard_normal(shape).astype(NP[dtype])
    return cgrad.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)


def close(c, t, dtype):
    np.testing.assert_allclose(c.detach().numpy(), t.detach().numpy(), **TOL[dtype])


def flat(out):
    """The tensors of a recurrent module's result, (output, h) or (output, (h, c)), in order."""
    if isinstance(out, tuple):
        return [x for part in out for x in flat(part)]
    return [out]


def weighted_sum(tensors):
    # each output counted with its own weight, so a wrong routing between them shows
    return sum((k + 1) * x.sum() for k, x in enumerate(tensors))


def check_forward_backward(c_mod, t_mod, c_args, t_args, dtype, leaves=()):
    c_out, t_out = flat(c_mod(*c_args)), flat(t_mod(*t_args))
    assert len(c_out) == len(t_out)
    for a, b in zip(c_out, t_out):
        assert tuple(a.shape) == tuple(b.shape)
        close(a, b, dtype)
    weighted_sum(c_out).backward()
    weighted_sum(t_out).backward()
    t_params = dict(t_mod.named_parameters())
    for n, p in c_mod.named_parameters():
        close(p.grad, t_params[n].grad, dtype)
    for a, b in leaves:
        close(a.grad, b.grad, dtype)


# ---- cells ---------------------------------------------------------------------------------------

CELLS = [("RNNCell", {}), ("RNNCell", {"nonlinearity": "relu"}), ("LSTMCell", {}), ("GRUCell", {}),
         ("RNNCell", {"bias": False}), ("LSTMCell", {"bias": False}), ("GRUCell", {"bias": False})]


@pytest.mark.parametrize("dtype", [cgrad.float64, cgrad.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("name,kw", CELLS, ids=[f"{n}-{k}" for n, k in CELLS])
@pytest.mark.parametrize("batched", [True, False], ids=["batched", "unbatched"])
@pytest.mark.parametrize("with_hx", [True, False], ids=["hx", "no-hx"])
def test_cells_match_torch(name, kw, dtype, batched, with_hx):
    torch.manual_seed(1)
    c, t = twins(name, 6, 5, dtype=dtype, **kw)
    lead = (4,) if batched else ()
    cx, tx = pair(lead + (6,), dtype, 0)
    c_args, t_args, leaves = [cx], [tx], [(cx, tx)]
    if with_hx:
        if name == "LSTMCell":
            (ch, th), (cc, tc) = pair(lead + (5,), dtype, 1), pair(lead + (5,), dtype, 2)
            c_args.append((ch, cc))
            t_args.append((th, tc))
            leaves += [(ch, th), (cc, tc)]
        else:
            ch, th = pair(lead + (5,), dtype, 1)
            c_args.append(ch)
            t_args.append(th)
            leaves.append((ch, th))
    check_forward_backward(c, t, c_args, t_args, dtype, leaves)


def test_cells_several_steps_match_torch():
    torch.manual_seed(2)
    c, t = twins("LSTMCell", 3, 4)
    xs = [pair((2, 3), cgrad.float64, k) for k in range(6)]
    hc, ht = None, None
    for cx, tx in xs:
        hc, ht = c(cx, hc), t(tx, ht)
    (hc[0].sum() + 2 * hc[1].sum()).backward()
    (ht[0].sum() + 2 * ht[1].sum()).backward()
    close(hc[0], ht[0], cgrad.float64)
    for cx, tx in xs:
        close(cx.grad, tx.grad, cgrad.float64)
    close(c.weight_hh.grad, t.weight_hh.grad, cgrad.float64)


@pytest.mark.parametrize("name", ["rnn_tanh_cell", "rnn_relu_cell", "gru_cell", "lstm_cell"])
def test_cell_functions_at_top_level_match_torch(name):
    gates = {"rnn_tanh_cell": 1, "rnn_relu_cell": 1, "gru_cell": 3, "lstm_cell": 4}[name]
    x = pair((3, 4), cgrad.float64, 0)
    h = pair((3, 5), cgrad.float64, 1)
    w_ih, w_hh = pair((gates * 5, 4), cgrad.float64, 2), pair((gates * 5, 5), cgrad.float64, 3)
    b_ih, b_hh = pair((gates * 5,), cgrad.float64, 4), pair((gates * 5,), cgrad.float64, 5)
    if name == "lstm_cell":
        c0 = pair((3, 5), cgrad.float64, 6)
        hx = [(h[0], c0[0]), (h[1], c0[1])]
    else:
        hx = [h[0], h[1]]
    args = [(x[i], hx[i], w_ih[i], w_hh[i], b_ih[i], b_hh[i]) for i in range(2)]
    outs = [flat(getattr(lib, name)(*a)) for lib, a in zip((cgrad, torch), args)]
    for a, b in zip(*outs):
        close(a, b, cgrad.float64)
    weighted_sum(outs[0]).backward()
    weighted_sum(outs[1]).backward()
    for p in (x, h, w_ih, w_hh, b_ih, b_hh):
        close(p[0].grad, p[1].grad, cgrad.float64)


@pytest.mark.parametrize("name", ["RNNCell", "LSTMCell", "GRUCell"])
def test_cells_pass_gradcheck_and_gradgradcheck(name):
    cgrad.manual_seed(0)
    cell = getattr(nn, name)(3, 2, dtype=cgrad.float64)
    x = cgrad.randn(2, 3, dtype=cgrad.float64, requires_grad=True)
    h = cgrad.randn(2, 2, dtype=cgrad.float64, requires_grad=True)
    if name == "LSTMCell":
        c = cgrad.randn(2, 2, dtype=cgrad.float64, requires_grad=True)

        def fn(x, h, c, w):
            out = cgrad.lstm_cell(x, (h, c), w, cell.weight_hh, cell.bias_ih, cell.bias_hh)
            return out[0] * 2 + out[1]
        inputs = (x, h, c, cell.weight_ih)
    else:
        fn_name = {"RNNCell": "rnn_tanh_cell", "GRUCell": "gru_cell"}[name]

        def fn(x, h, w):
            return getattr(cgrad, fn_name)(x, h, w, cell.weight_hh, cell.bias_ih, cell.bias_hh)
        inputs = (x, h, cell.weight_ih)
    assert cgrad.autograd.gradcheck(fn, inputs)
    assert cgrad.autograd.gradgradcheck(fn, inputs)


# ---- layers --------------------------------------------------------------------------------------

LAYER_CASES = [
    ("RNN", {}), ("RNN", {"nonlinearity": "relu"}), ("RNN", {"num_layers": 2, "bidirectional": True}),
    ("GRU", {}), ("GRU", {"num_layers": 3, "batch_first": True}), ("GRU", {"bidirectional": True, "bias": False}),
    ("LSTM", {}), ("LSTM", {"num_layers": 2, "bidirectional": True, "batch_first": True}),
    ("LSTM", {"proj_size": 3}), ("LSTM", {"proj_size": 2, "num_layers": 2, "bidirectional": True}),
    ("LSTM", {"bias": False, "num_layers": 2}),
]


def hidden_pair(name, kw, batch, dtype, seed):
    """Random initial states of the shapes the module expects, for cgrad and torch."""
    dirs = 2 if kw.get("bidirectional") else 1
    layers = kw.get("num_layers", 1)
    lead = (layers * dirs,) + ((batch,) if batch else ())
    h_size = kw.get("proj_size") or 5
    h = pair(lead + (h_size,), dtype, seed)
    if name != "LSTM":
        return h[0], h[1], [h]
    c = pair(lead + (5,), dtype, seed + 1)
    return (h[0], c[0]), (h[1], c[1]), [h, c]


@pytest.mark.parametrize("dtype", [cgrad.float64, cgrad.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("name,kw", LAYER_CASES, ids=[f"{n}-{k}" for n, k in LAYER_CASES])
@pytest.mark.parametrize("with_hx", [True, False], ids=["hx", "no-hx"])
def test_layers_match_torch(name, kw, dtype, with_hx):
    torch.manual_seed(3)
    c, t = twins(name, 4, 5, dtype=dtype, **kw)
    seq, batch = 6, 3
    shape = (batch, seq, 4) if kw.get("batch_first") else (seq, batch, 4)
    cx, tx = pair(shape, dtype, 0)
    c_args, t_args, leaves = [cx], [tx], [(cx, tx)]
    if with_hx:
        ch, th, hl = hidden_pair(name, kw, batch, dtype, 10)
        c_args.append(ch)
        t_args.append(th)
        leaves += hl
    check_forward_backward(c, t, c_args, t_args, dtype, leaves)


@pytest.mark.parametrize("name,kw", [("RNN", {}), ("GRU", {"batch_first": True}), ("LSTM", {"bidirectional": True}),
                                     ("LSTM", {"proj_size": 2, "batch_first": True})])
@pytest.mark.parametrize("with_hx", [True, False], ids=["hx", "no-hx"])
def test_unbatched_layers_match_torch(name, kw, with_hx):
    torch.manual_seed(4)
    c, t = twins(name, 4, 5, **kw)
    cx, tx = pair((7, 4), cgrad.float64, 0)
    c_args, t_args, leaves = [cx], [tx], [(cx, tx)]
    if with_hx:
        ch, th, hl = hidden_pair(name, kw, None, cgrad.float64, 20)
        c_args.append(ch)
        t_args.append(th)
        leaves += hl
    check_forward_backward(c, t, c_args, t_args, cgrad.float64, leaves)


def test_dropout_between_layers_only_in_training():
    torch.manual_seed(5)
    c, t = twins("GRU", 3, 4, num_layers=3, dropout=1.0)
    cx, tx = pair((5, 2, 3), cgrad.float64, 0)
    # p = 1 zeroes every input of layers 2 and 3: deterministic, and unlike eval mode
    check_forward_backward(c, t, [cx], [tx], cgrad.float64, [(cx, tx)])
    c.eval(), t.eval()
    co, to = c(cx)[0], t(tx)[0]
    close(co, to, cgrad.float64)
    c.train()
    assert not np.allclose(c(cx)[0].detach().numpy(), co.detach().numpy())


def test_dropout_draws_in_training():
    cgrad.manual_seed(0)
    m = nn.LSTM(3, 8, num_layers=2, dropout=0.5)
    x = cgrad.randn(4, 2, 3)
    a, b = m(x)[0], m(x)[0]
    assert not np.array_equal(a.detach().numpy(), b.detach().numpy())
    m.eval()
    assert np.array_equal(m(x)[0].detach().numpy(), m(x)[0].detach().numpy())


def test_a_long_sequence_learns_like_torch():
    """Ten SGD steps of an LSTM regression give torch's parameters."""
    torch.manual_seed(6)
    c, t = twins("LSTM", 2, 6, num_layers=2)
    c_head, t_head = twins("Linear", 6, 1)
    c_opt = cgrad.optim.SGD(list(c.parameters()) + list(c_head.parameters()), lr=0.1)
    t_opt = torch.optim.SGD(list(t.parameters()) + list(t_head.parameters()), lr=0.1)
    rng = np.random.default_rng(0)
    for _ in range(10):
        x = rng.standard_normal((20, 4, 2))
        y = x.sum(axis=(0, 2))[:, None] / 10
        for mod, head, opt, lib in ((c, c_head, c_opt, cgrad), (t, t_head, t_opt, torch)):
            opt.zero_grad()
            out, _ = mod(lib.tensor(x))
            loss = ((head(out[-1]) - lib.tensor(y)) ** 2).mean()
            loss.backward()
            opt.step()
    t_params = dict(t.named_parameters())
    for n, p in c.named_parameters():
        np.testing.assert_allclose(p.detach().numpy(), t_params[n].detach().numpy(), rtol=1e-9, atol=1e-11)


# ---- parameters, initialisation, repr -------------------------------------------------------------

MODULE_CASES = LAYER_CASES + [("RNNCell", {}), ("RNNCell", {"nonlinearity": "relu", "bias": False}),
                              ("LSTMCell", {}), ("GRUCell", {"bias": False})]


@pytest.mark.parametrize("name,kw", MODULE_CASES, ids=[f"{n}-{k}" for n, k in MODULE_CASES])
def test_parameters_are_named_shaped_and_initialised_as_in_torch(name, kw):
    t = getattr(torch.nn, name)(4, 5, **kw)
    c = getattr(nn, name)(4, 5, **kw)
    t_shapes = [(n, tuple(p.shape)) for n, p in t.named_parameters()]
    assert [(n, tuple(p.shape)) for n, p in c.named_parameters()] == t_shapes
    assert list(c.state_dict()) == list(t.state_dict())
    bound = 1 / math.sqrt(5)
    assert all(p.dtype == cgrad.float32 and p.requires_grad for p in c.parameters())
    v = np.concatenate([p.detach().numpy().ravel() for p in c.parameters()])
    # uniform(-bound, bound): its standard deviation is bound / sqrt(3)
    assert np.all(np.abs(v) <= bound) and abs(v.std() * math.sqrt(3) / bound - 1) < 0.25
    assert repr(c) == repr(t)


def test_all_weights_and_flat_weights_follow_the_parameters():
    t = torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True, proj_size=2)
    c = nn.LSTM(3, 4, num_layers=2, bidirectional=True, proj_size=2)
    assert [[tuple(p.shape) for p in layer] for layer in c.all_weights] == \
        [[tuple(p.shape) for p in layer] for layer in t.all_weights]
    assert c._flat_weights_names == t._flat_weights_names
    c.flatten_parameters()
    c.double()
    assert all(w.dtype == cgrad.float64 for w in c._flat_weights)
    x = cgrad.randn(2, 1, 3, dtype=cgrad.float64)
    assert c(x)[0].dtype == cgrad.float64


@pytest.mark.parametrize("args,kw", [((3, 4), {"dtype": None}), ((3, 4, 2), {"nonlinearity": "relu"}),
                                     ((3, 4), {"nonlinearity": "relu", "num_layers": 2, "batch_first": True})])
def test_rnn_nonlinearity_positional_and_keyword(args, kw):
    kw = {k: v for k, v in kw.items() if v is not None}
    c, t = nn.RNN(*args, **kw), torch.nn.RNN(*args, **kw)
    assert c.nonlinearity == t.nonlinearity and c.mode == t.mode and repr(c) == repr(t)


# ---- errors ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("name,args,kw", [
    ("LSTM", (3, 4), {"dropout": 1.5}), ("LSTM", (3, 4), {"dropout": True}), ("GRU", (3, 4), {"bias": 1}),
    ("RNN", (3, 4), {"batch_first": "yes"}), ("LSTM", (3.0, 4), {}), ("LSTM", (0, 4), {}), ("GRU", (3, 4.0), {}),
    ("GRU", (3, 0), {}), ("LSTM", (3, 4), {"num_layers": 0}), ("LSTM", (3, 4), {"proj_size": -1}),
    ("LSTM", (3, 4), {"proj_size": 4}), ("RNN", (3, 4), {"proj_size": 2}), ("GRU", (3, 4), {"proj_size": 2}),
    ("RNN", (3, 4), {"nonlinearity": "sigmoid"}),
])
def test_construction_errors_match_torch(name, args, kw):
    raises_like_torch(lambda: getattr(nn, name)(*args, **kw), lambda: getattr(torch.nn, name)(*args, **kw))


def test_dropout_with_one_layer_warns_as_torch():
    with pytest.warns(UserWarning, match="non-zero dropout expects num_layers greater than 1"):
        nn.GRU(3, 4, dropout=0.5)


def layer_error_cases():
    f32 = np.float32
    return [
        ("RNN", {}, np.zeros((2, 3, 4, 3), f32), None),         # 4-D input
        ("LSTM", {}, np.zeros((5,), f32), None),                # 1-D input
        ("GRU", {}, np.zeros((5, 2, 4), f32), None),            # wrong input size
        ("GRU", {}, np.zeros((5, 2, 3), np.float64), None),     # dtype
        ("RNN", {}, np.zeros((5, 2, 3), f32), np.zeros((1, 3, 4), f32)),       # hidden batch
        ("RNN", {}, np.zeros((5, 2, 3), f32), np.zeros((2, 4), f32)),          # 2-D hx for 3-D input
        ("RNN", {}, np.zeros((5, 3), f32), np.zeros((1, 1, 4), f32)),          # 3-D hx for 2-D input
        ("GRU", {"num_layers": 2}, np.zeros((5, 2, 3), f32), np.zeros((1, 2, 4), f32)),
        ("LSTM", {}, np.zeros((5, 2, 3), f32), (np.zeros((1, 2, 4), f32), np.zeros((1, 2, 5), f32))),
        ("LSTM", {}, np.zeros((5, 2, 3), f32), (np.zeros((2, 4), f32), np.zeros((1, 2, 4), f32))),
        ("LSTM", {}, np.zeros((5, 3), f32), (np.zeros((1, 1, 4), f32), np.zeros((1, 4), f32))),
        ("LSTM", {"proj_size": 2}, np.zeros((5, 2, 3), f32), (np.zeros((1, 2, 4), f32), np.zeros((1, 2, 4), f32))),
    ]


@pytest.mark.parametrize("case", range(len(layer_error_cases())))
def test_layer_forward_errors_match_torch(case):
    name, kw, x, hx = layer_error_cases()[case]
    c, t = getattr(nn, name)(3, 4, **kw), getattr(torch.nn, name)(3, 4, **kw)

    def call(lib, mod):
        h = None if hx is None else (tuple(lib.tensor(a) for a in hx) if isinstance(hx, tuple) else lib.tensor(hx))
        return mod(lib.tensor(x), h)
    raises_like_torch(lambda: call(cgrad, c), lambda: call(torch, t))


def cell_error_cases():
    f32 = np.float32
    return [
        ("RNNCell", np.zeros((2, 3, 3), f32), None),
        ("GRUCell", np.zeros((2, 3), f32), np.zeros((1, 2, 4), f32)),
        ("LSTMCell", np.zeros((2, 3), f32), (np.zeros((2, 4), f32), np.zeros((1, 2, 4), f32))),
        ("RNNCell", np.zeros((2, 5), f32), None),                    # input size
        ("GRUCell", np.zeros((2, 3), f32), np.zeros((3, 4), f32)),   # batch
        ("LSTMCell", np.zeros((2, 3), f32), (np.zeros((2, 4), f32), np.zeros((2, 5), f32))),  # hidden size
        ("RNNCell", np.zeros((2, 3), f32), np.zeros((2, 6), f32)),
    ]


@pytest.mark.parametrize("case", range(len(cell_error_cases())))
def test_cell_forward_errors_match_torch(case):
    name, x, hx = cell_error_cases()[case]
    c, t = getattr(nn, name)(3, 4), getattr(torch.nn, name)(3, 4)

    def call(lib, mod):
        h = None if hx is None else (tuple(lib.tensor(a) for a in hx) if isinstance(hx, tuple) else lib.tensor(hx))
        return mod(lib.tensor(x), h)
    raises_like_torch(lambda: call(cgrad, c), lambda: call(torch, t))


@pytest.mark.parametrize("name,gates", [("rnn_tanh_cell", 1), ("lstm_cell", 4), ("gru_cell", 3)])
def test_cell_functions_check_weights_as_torch(name, gates):
    def call(lib):
        x, h = lib.zeros(2, 3), lib.zeros(2, 4)
        hx = (h, h) if name == "lstm_cell" else h
        return getattr(lib, name)(x, hx, lib.zeros(gates * 4 + 1, 3), lib.zeros(gates * 4, 4))
    raises_like_torch(lambda: call(cgrad), lambda: call(torch))


# ---- compile ---------------------------------------------------------------------------------------

def test_a_compiled_lstm_training_step_replays_bit_identically():
    def make(seed):
        cgrad.manual_seed(seed)
        model = nn.ModuleList([nn.LSTM(3, 8, num_layers=2, bidirectional=True), nn.Linear(16, 1)])
        return model, cgrad.optim.Adam(model.parameters(), lr=1e-2)

    def step_of(model, opt):
        def step(x, y):
            opt.zero_grad()
            out, (h, c) = model[0](x)
            loss = ((model[1](out[-1]) - y) ** 2).mean() + 0.01 * c.pow(2).mean()
            loss.backward()
            opt.step()
            return loss
        return step

    (m1, o1), (m2, o2) = make(7), make(7)
    eager, compiled = step_of(m1, o1), cgrad.compile(step_of(m2, o2))
    rng = np.random.default_rng(1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for k in range(8):
            x = cgrad.tensor(rng.standard_normal((5, 4, 3)).astype(np.float32))
            y = cgrad.tensor(rng.standard_normal((4, 1)).astype(np.float32))
            a, b = eager(x, y), compiled(x, y)
            assert a.detach().numpy().tobytes() == b.numpy().tobytes(), f"step {k}"
            for p, q in itertools.zip_longest(m1.parameters(), m2.parameters()):
                assert p.detach().numpy().tobytes() == q.detach().numpy().tobytes(), f"step {k}"
    # the first calls run eagerly and record (twice more when two recordings differ): the rest replay
    assert compiled._cgrad_step.replays >= 4
