"""Attention and the Transformer layers against PyTorch.

Each cgrad module loads its torch twin's state dict; outputs, attention
weights and the gradients of every parameter and input must agree, in
training (dropout 0) and in eval mode, where torch may take its fused fast
path. A compiled training step through a TransformerEncoder replays bit for
bit what the eager step computes.
"""

import numpy as np
import pytest

import cgrad
from cgrad import nn
from cgrad.nn import functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional
pytestmark = [
    pytest.mark.filterwarnings("ignore:Support for mismatched"),  # a bool and a float mask: deprecated, in both
    pytest.mark.filterwarnings("ignore:enable_nested_tensor is True"),  # torch's encoder without its fast path
    pytest.mark.filterwarnings("ignore:The PyTorch API of nested tensors"),
]

TOL = {cgrad.float64: dict(rtol=1e-9, atol=1e-11), cgrad.float32: dict(rtol=2e-4, atol=2e-5)}
NP = {cgrad.float64: np.float64, cgrad.float32: np.float32}
TORCH_DTYPE = {cgrad.float64: torch.float64, cgrad.float32: torch.float32}
DTYPES = [cgrad.float64, cgrad.float32]


def pair(shape, dtype, seed, requires_grad=True):
    x = np.random.default_rng(seed).standard_normal(shape).astype(NP[dtype])
    return cgrad.tensor(x, requires_grad=requires_grad), torch.tensor(x, requires_grad=requires_grad)


def mask_pair(array):
    return cgrad.tensor(array), torch.tensor(array)


def close(c, t, dtype):
    assert tuple(c.shape) == tuple(t.shape)
    np.testing.assert_allclose(c.detach().numpy(), t.detach().numpy(), **TOL[dtype])


def twins(c_cls, t_cls, *args, dtype=cgrad.float64, **kwargs):
    """The cgrad module and the torch module of the same construction, with torch's parameter values."""
    t = t_cls(*args, dtype=TORCH_DTYPE[dtype], **kwargs)
    c = c_cls(*args, dtype=dtype, **kwargs)
    c.load_state_dict({k: cgrad.tensor(v.detach().numpy()) for k, v in t.state_dict().items()})
    return c, t


def weighted_sum(outs, seed=7):
    """A loss that weighs every output element differently, so a misrouted gradient shows."""
    total = 0
    for k, x in enumerate(outs):
        w = np.random.default_rng(seed + k).standard_normal(tuple(x.shape))
        w = cgrad.tensor(w, dtype=x.dtype) if isinstance(x, cgrad.Tensor) else torch.tensor(w, dtype=x.dtype)
        total = total + (x * w).sum()
    return total


def check_backward(c_outs, t_outs, c_leaves, t_leaves, dtype, c_mod=None, t_mod=None):
    weighted_sum(c_outs).backward()
    weighted_sum(t_outs).backward()
    for a, b in zip(c_leaves, t_leaves):
        close(a.grad, b.grad, dtype)
    if c_mod is not None:
        t_params = dict(t_mod.named_parameters())
        c_params = dict(c_mod.named_parameters())
        assert c_params.keys() == t_params.keys()
        for name, p in c_params.items():
            close(p.grad, t_params[name].grad, dtype)


def outcome(fn):
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - any error is compared with torch's
        return e
    return None


def same_error(c_call, t_call, exact=True):
    """Both calls fail with the same exception type (and message, torch.Size spelt torch's way)."""
    ec, et = outcome(c_call), outcome(t_call)
    assert et is not None, "torch accepted the call"
    assert type(ec) is type(et), f"cgrad raised {ec!r}, torch {et!r}"
    message = str(ec).replace("cgrad.Size", "torch.Size")
    assert message == str(et) if exact else message.startswith(str(et)), (message, str(et))


# ---- scaled_dot_product_attention ------------------------------------------------------------

SDPA_SHAPES = {  # query, key, value
    "4d": ((2, 3, 4, 8), (2, 3, 5, 8), (2, 3, 5, 6)),
    "broadcast": ((3, 4, 8), (2, 1, 5, 8), (2, 3, 5, 6)),
    "unbatched": ((4, 8), (5, 8), (5, 6)),
}


def sdpa_mask(kind, dtype, ndim, seed=3):
    """(cgrad, torch) attn_mask of the kind, for 4 queries and 5 keys; None for none or causal.

    The float one has a leading 1 where the scores have batch dims to broadcast it over."""
    rng = np.random.default_rng(seed)
    if kind == "bool":
        m = rng.random((4, 5)) > 0.4
        m[1] = False  # a query that may attend nothing gets zeros, and no gradient
        return mask_pair(m)
    if kind == "float":
        m = rng.standard_normal((1, 4, 5)[3 - min(ndim, 3):]).astype(NP[dtype])
        m[..., 2, :3] = -np.inf
        return cgrad.tensor(m, requires_grad=True), torch.tensor(m, requires_grad=True)
    return None, None


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shapes", list(SDPA_SHAPES))
@pytest.mark.parametrize("mask", ["none", "bool", "float", "causal"])
def test_sdpa_matches_torch(dtype, shapes, mask):
    (qc, qt), (kc, kt), (vc, vt) = (pair(s, dtype, k) for k, s in enumerate(SDPA_SHAPES[shapes]))
    mc, mt = sdpa_mask(mask, dtype, qc.dim())
    causal = mask == "causal"
    oc = F.scaled_dot_product_attention(qc, kc, vc, attn_mask=mc, is_causal=causal)
    ot = TF.scaled_dot_product_attention(qt, kt, vt, attn_mask=mt, is_causal=causal)
    close(oc, ot, dtype)
    leaves = ([qc, kc, vc], [qt, kt, vt])
    if mask == "float":
        leaves = (leaves[0] + [mc], leaves[1] + [mt])
    check_backward([oc], [ot], *leaves, dtype)
    if mask == "bool":
        assert not oc.detach().numpy()[..., 1, :].any()
        assert not qc.grad.numpy()[..., 1, :].any()


@pytest.mark.parametrize("scale", [0.5, -0.25, 0.0])
def test_sdpa_scale(scale):
    dtype = cgrad.float64
    (qc, qt), (kc, kt), (vc, vt) = (pair(s, dtype, k) for k, s in enumerate(SDPA_SHAPES["4d"]))
    oc = F.scaled_dot_product_attention(qc, kc, vc, scale=scale)
    ot = TF.scaled_dot_product_attention(qt, kt, vt, scale=scale)
    close(oc, ot, dtype)
    check_backward([oc], [ot], [qc, kc, vc], [qt, kt, vt], dtype)


def test_sdpa_causal_with_more_queries_than_keys():
    dtype = cgrad.float64
    (qc, qt), (kc, kt), (vc, vt) = (pair(s, dtype, k) for k, s in enumerate([(2, 7, 4), (2, 3, 4), (2, 3, 4)]))
    oc = F.scaled_dot_product_attention(qc, kc, vc, is_causal=True)
    ot = TF.scaled_dot_product_attention(qt, kt, vt, is_causal=True)
    close(oc, ot, dtype)
    check_backward([oc], [ot], [qc, kc, vc], [qt, kt, vt], dtype)


@pytest.mark.parametrize("kv_heads", [(2, 2), (3, 1), (6, 6)])
def test_sdpa_grouped_query_attention(kv_heads):
    dtype = cgrad.float64
    qc, qt = pair((2, 6, 4, 8), dtype, 0)
    kc, kt = pair((2, kv_heads[0], 5, 8), dtype, 1)
    vc, vt = pair((2, kv_heads[1], 5, 8), dtype, 2)
    oc = F.scaled_dot_product_attention(qc, kc, vc, enable_gqa=True)
    ot = TF.scaled_dot_product_attention(qt, kt, vt, enable_gqa=True)
    close(oc, ot, dtype)
    check_backward([oc], [ot], [qc, kc, vc], [qt, kt, vt], dtype)


def test_sdpa_dropout_drops_attention_weights():
    q, k, v = (cgrad.randn(2, 4, 8, dtype=cgrad.float64) for _ in range(3))
    cgrad.manual_seed(11)
    out = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5)
    cgrad.manual_seed(11)
    weights = F.dropout((q @ k.transpose(-2, -1) / 8 ** 0.5).softmax(-1), 0.5)
    np.testing.assert_allclose(out.numpy(), (weights @ v).numpy(), rtol=1e-12, atol=1e-14)
    assert not F.scaled_dot_product_attention(q, k, v, dropout_p=1.0).numpy().any()


def test_sdpa_float_mask_of_another_float_dtype():
    (qc, qt), (kc, kt), (vc, vt) = (pair(s, cgrad.float64, k) for k, s in enumerate(SDPA_SHAPES["4d"]))
    mc, mt = pair((4, 5), cgrad.float32, 9)
    oc = F.scaled_dot_product_attention(qc, kc, vc, attn_mask=mc)
    ot = TF.scaled_dot_product_attention(qt, kt, vt, attn_mask=mt)
    assert oc.dtype == cgrad.float64
    close(oc, ot, cgrad.float64)
    check_backward([oc], [ot], [qc, kc, vc, mc], [qt, kt, vt, mt], cgrad.float32)


SDPA_ERRORS = [
    ("head dims", lambda lib: ((lib.randn(2, 4, 8), lib.randn(2, 5, 7), lib.randn(2, 5, 6)), {})),
    ("key and value lengths", lambda lib: ((lib.randn(2, 4, 8), lib.randn(2, 5, 8), lib.randn(2, 4, 6)), {})),
    ("batch dims", lambda lib: ((lib.randn(2, 4, 4, 8), lib.randn(2, 3, 5, 8), lib.randn(2, 3, 5, 6)), {})),
    ("1-D query", lambda lib: ((lib.randn(8), lib.randn(5, 8), lib.randn(5, 6)), {})),
    ("dtypes", lambda lib: ((lib.randn(4, 8), lib.randn(5, 8, dtype=lib.float64), lib.randn(5, 6)), {})),
    ("int mask", lambda lib: ((lib.randn(4, 8), lib.randn(5, 8), lib.randn(5, 6)),
                              {"attn_mask": lib.zeros(4, 5, dtype=lib.int64)})),
    ("double mask", lambda lib: ((lib.randn(4, 8), lib.randn(5, 8), lib.randn(5, 6)),
                                 {"attn_mask": lib.zeros(4, 5, dtype=lib.float64)})),
    ("mask shape", lambda lib: ((lib.randn(2, 4, 8), lib.randn(2, 5, 8), lib.randn(2, 5, 6)),
                                {"attn_mask": lib.zeros(4, 4, dtype=lib.bool)})),
    ("mask and causal", lambda lib: ((lib.randn(4, 8), lib.randn(5, 8), lib.randn(5, 6)),
                                     {"attn_mask": lib.zeros(4, 5), "is_causal": True})),
    ("dropout", lambda lib: ((lib.randn(4, 8), lib.randn(5, 8), lib.randn(5, 6)), {"dropout_p": 1.5})),
    ("mask type", lambda lib: ((lib.randn(4, 8), lib.randn(5, 8), lib.randn(5, 6)), {"attn_mask": 1})),
    ("scale positional", lambda lib: ((lib.randn(4, 8), lib.randn(5, 8), lib.randn(5, 6), None, 0.0, False, 0.5),
                                      {})),
]


@pytest.mark.parametrize("name, make", SDPA_ERRORS, ids=[e[0] for e in SDPA_ERRORS])
def test_sdpa_errors_match_torch(name, make):
    def call(lib, fn):
        args, kwargs = make(lib)
        return lambda: fn(*args, **kwargs)
    same_error(call(cgrad, F.scaled_dot_product_attention), call(torch, TF.scaled_dot_product_attention),
               exact=name != "scale positional")  # Python's TypeError names the function its own way


def test_sdpa_grouped_heads_must_divide():
    c = (cgrad.randn(2, 6, 4, 8), cgrad.randn(2, 4, 5, 8), cgrad.randn(2, 4, 5, 8))
    t = (torch.randn(2, 6, 4, 8), torch.randn(2, 4, 5, 8), torch.randn(2, 4, 5, 8))
    # torch's message stops short after "in "; cgrad's finishes the sentence
    same_error(lambda: F.scaled_dot_product_attention(*c, enable_gqa=True),
               lambda: TF.scaled_dot_product_attention(*t, enable_gqa=True), exact=False)


# ---- MultiheadAttention ----------------------------------------------------------------------

MHA_CONFIGS = {
    "plain": {},
    "no bias": dict(bias=False),
    "kdim vdim": dict(kdim=5, vdim=3),
    "bias kv": dict(add_bias_kv=True),
    "zero attn": dict(add_zero_attn=True),
    "bias kv, zero attn, kdim": dict(add_bias_kv=True, add_zero_attn=True, kdim=6),
}


def mha_inputs(dtype, config, batched=True, batch_first=False, self_attention=False, L=4, S=5, N=3, E=8):
    """(cgrad, torch) query, key and value; one tensor for self-attention."""
    def shape(length, dim):
        if not batched:
            return (length, dim)
        return (N, length, dim) if batch_first else (length, N, dim)
    q = pair(shape(L, E), dtype, 1)
    if self_attention:
        return q, q, q
    return q, pair(shape(S, config.get("kdim", E)), dtype, 2), pair(shape(S, config.get("vdim", E)), dtype, 3)


def mha_masks(kind, dtype, L=4, S=5, N=3, heads=2, batched=True):
    """(cgrad, torch) pairs of attn_mask and key_padding_mask."""
    rng = np.random.default_rng(5)
    attn = kpm = (None, None)
    if kind in ("bool attn", "both"):
        m = rng.random((L, S)) > 0.7
        m[:, 0] = False
        attn = mask_pair(m)
    if kind == "float attn 3d":
        attn = mask_pair(rng.standard_normal((N * heads if batched else heads, L, S)).astype(NP[dtype]))
    if kind in ("bool kpm", "both"):
        m = np.zeros((N, S) if batched else (S,), bool)
        m[..., -2:] = True
        kpm = mask_pair(m)
    if kind == "float kpm":
        kpm = mask_pair(rng.standard_normal((N, S) if batched else (S,)).astype(NP[dtype]))
    return attn, kpm


def run_mha(c_mod, t_mod, inputs, masks, dtype, **kwargs):
    (qc, qt), (kc, kt), (vc, vt) = inputs
    (ac, at), (pc, pt) = masks
    oc, wc = c_mod(qc, kc, vc, key_padding_mask=pc, attn_mask=ac, **kwargs)
    ot, wt = t_mod(qt, kt, vt, key_padding_mask=pt, attn_mask=at, **kwargs)
    close(oc, ot, dtype)
    assert (wc is None) == (wt is None)
    if wt is not None:
        close(wc, wt, dtype)
    return [oc] + ([wc] if wc is not None else []), [ot] + ([wt] if wt is not None else [])


def mha_leaves(inputs):
    """The distinct (cgrad, torch) input tensors, as two lists."""
    leaves = {id(c): (c, t) for c, t in inputs}
    return [c for c, _ in leaves.values()], [t for _, t in leaves.values()]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("config", list(MHA_CONFIGS))
@pytest.mark.parametrize("need_weights, average", [(True, True), (True, False), (False, True)])
def test_mha_matches_torch(dtype, config, need_weights, average):
    kwargs = MHA_CONFIGS[config]
    c, t = twins(nn.MultiheadAttention, torch.nn.MultiheadAttention, 8, 2, dtype=dtype, **kwargs)
    inputs = mha_inputs(dtype, kwargs)
    outs = run_mha(c, t, inputs, mha_masks("none", dtype), dtype, need_weights=need_weights,
                   average_attn_weights=average)
    check_backward(*outs, *mha_leaves(inputs), dtype, c, t)


@pytest.mark.parametrize("masks", ["bool attn", "float attn 3d", "bool kpm", "float kpm", "both"])
@pytest.mark.parametrize("need_weights", [True, False])
@pytest.mark.parametrize("batched", [True, False])
def test_mha_masks_match_torch(masks, need_weights, batched):
    dtype = cgrad.float64
    c, t = twins(nn.MultiheadAttention, torch.nn.MultiheadAttention, 8, 2, dtype=dtype, add_zero_attn=True)
    inputs = mha_inputs(dtype, {}, batched=batched)
    outs = run_mha(c, t, inputs, mha_masks(masks, dtype, batched=batched), dtype, need_weights=need_weights)
    check_backward(*outs, *mha_leaves(inputs), dtype, c, t)


@pytest.mark.parametrize("need_weights", [True, False])
@pytest.mark.parametrize("kpm", [False, True])
def test_mha_causal_hint(need_weights, kpm):
    dtype = cgrad.float64
    c, t = twins(nn.MultiheadAttention, torch.nn.MultiheadAttention, 8, 4, dtype=dtype, batch_first=True)
    inputs = mha_inputs(dtype, {}, batch_first=True, self_attention=True, L=5)
    causal = (nn.Transformer.generate_square_subsequent_mask(5, dtype=dtype),
              torch.nn.Transformer.generate_square_subsequent_mask(5, dtype=torch.float64))
    padding = mha_masks("bool kpm", dtype)[1] if kpm else (None, None)
    outs = run_mha(c, t, inputs, (causal, padding), dtype, need_weights=need_weights, is_causal=True)
    check_backward(*outs, *mha_leaves(inputs), dtype, c, t)


@pytest.mark.parametrize("self_attention", [True, False])
@pytest.mark.parametrize("batched", [True, False])
def test_mha_batch_first_and_unbatched(self_attention, batched):
    dtype = cgrad.float32
    c, t = twins(nn.MultiheadAttention, torch.nn.MultiheadAttention, 8, 2, dtype=dtype, batch_first=True)
    inputs = mha_inputs(dtype, {}, batched=batched, batch_first=True, self_attention=self_attention, L=5)
    outs = run_mha(c, t, inputs, mha_masks("bool kpm", dtype, batched=batched), dtype)
    check_backward(*outs, *mha_leaves(inputs), dtype, c, t)


@pytest.mark.parametrize("need_weights", [True, False])
def test_mha_eval_mode_matches_torch_fast_path(need_weights):
    # eval mode, no grad, batch-first self-attention with an even head count: torch's fused kernel
    dtype = cgrad.float32
    c, t = twins(nn.MultiheadAttention, torch.nn.MultiheadAttention, 8, 2, dtype=dtype, batch_first=True,
                 dropout=0.5)
    c.eval()
    t.eval()
    inputs = mha_inputs(dtype, {}, batch_first=True, self_attention=True, L=5)
    with cgrad.no_grad(), torch.no_grad():
        run_mha(c, t, inputs, mha_masks("bool kpm", dtype), dtype, need_weights=need_weights)


def test_mha_dropout_in_training_drops_attention_weights():
    m = nn.MultiheadAttention(8, 2, dropout=0.5, dtype=cgrad.float64)
    x = cgrad.randn(4, 3, 8, dtype=cgrad.float64)
    dropped = m(x, x, x, average_attn_weights=False)[1].detach().numpy()
    m.eval()
    weights = m(x, x, x, average_attn_weights=False)[1].detach().numpy()
    kept = dropped != 0
    assert 0.3 < kept.mean() < 0.7
    np.testing.assert_allclose(dropped[kept], 2 * weights[kept], rtol=1e-12)


@pytest.mark.parametrize("config", list(MHA_CONFIGS))
def test_mha_parameters_state_dict_and_init(config):
    kwargs = MHA_CONFIGS[config]
    c = nn.MultiheadAttention(8, 2, **kwargs)
    t = torch.nn.MultiheadAttention(8, 2, **kwargs)
    assert list(c.state_dict()) == list(t.state_dict())
    for name, p in t.state_dict().items():
        assert tuple(c.state_dict()[name].shape) == tuple(p.shape)
    assert str(c) == str(t)
    assert (c.head_dim, c.kdim, c.vdim, c._qkv_same_embed_dim) == (t.head_dim, t.kdim, t.vdim, t._qkv_same_embed_dim)
    if c.in_proj_bias is not None:
        assert not c.in_proj_bias.detach().numpy().any() and not c.out_proj.bias.detach().numpy().any()
    for name in ("in_proj_weight", "q_proj_weight", "k_proj_weight", "v_proj_weight"):
        w = getattr(c, name)
        if w is not None:  # xavier_uniform_: within sqrt(6 / (fan_in + fan_out))
            bound = (6 / (w.shape[0] + w.shape[1])) ** 0.5
            values = w.detach().numpy()
            assert np.abs(values).max() <= bound and values.std() > bound / 4


MHA_ERRORS = {
    "embedding size": lambda lib: ((lib.randn(5, 3, 6), lib.randn(5, 3, 6), lib.randn(5, 3, 6)), {}),
    "4-D query": lambda lib: ((lib.randn(5, 3, 8, 1), lib.randn(5, 3, 8), lib.randn(5, 3, 8)), {}),
    "2-D key": lambda lib: ((lib.randn(5, 3, 8), lib.randn(5, 8), lib.randn(5, 3, 8)), {}),
    "key and value": lambda lib: ((lib.randn(5, 3, 8), lib.randn(4, 3, 8), lib.randn(5, 3, 8)), {}),
    "2-D mask": lambda lib: ((lib.randn(5, 3, 8), lib.randn(4, 3, 8), lib.randn(4, 3, 8)),
                             {"attn_mask": lib.zeros(5, 5)}),
    "3-D mask": lambda lib: ((lib.randn(5, 3, 8), lib.randn(4, 3, 8), lib.randn(4, 3, 8)),
                             {"attn_mask": lib.zeros(3, 5, 4)}),
    "1-D mask": lambda lib: ((lib.randn(5, 3, 8), lib.randn(4, 3, 8), lib.randn(4, 3, 8)),
                             {"attn_mask": lib.zeros(4)}),
    "padding length": lambda lib: ((lib.randn(5, 3, 8), lib.randn(4, 3, 8), lib.randn(4, 3, 8)),
                                   {"key_padding_mask": lib.zeros(3, 5, dtype=lib.bool)}),
    "padding batch": lambda lib: ((lib.randn(5, 3, 8), lib.randn(4, 3, 8), lib.randn(4, 3, 8)),
                                  {"key_padding_mask": lib.zeros(2, 4, dtype=lib.bool)}),
    "1-D padding": lambda lib: ((lib.randn(5, 3, 8), lib.randn(4, 3, 8), lib.randn(4, 3, 8)),
                                {"key_padding_mask": lib.zeros(4, dtype=lib.bool)}),
    "int mask": lambda lib: ((lib.randn(5, 3, 8), lib.randn(4, 3, 8), lib.randn(4, 3, 8)),
                             {"attn_mask": lib.zeros(5, 4, dtype=lib.int64)}),
    "causal without mask": lambda lib: ((lib.randn(5, 3, 8), lib.randn(4, 3, 8), lib.randn(4, 3, 8)),
                                        {"is_causal": True}),
    "unbatched 3-D mask": lambda lib: ((lib.randn(5, 8), lib.randn(4, 8), lib.randn(4, 8)),
                                       {"attn_mask": lib.zeros(3, 5, 4)}),
    "1-D query": lambda lib: ((lib.randn(8), lib.randn(4, 8), lib.randn(4, 8)), {}),
}


@pytest.mark.parametrize("name", list(MHA_ERRORS))
def test_mha_errors_match_torch(name):
    c, t = nn.MultiheadAttention(8, 2), torch.nn.MultiheadAttention(8, 2)

    def call(lib, mod):
        args, kwargs = MHA_ERRORS[name](lib)
        return lambda: mod(*args, **kwargs)
    same_error(call(cgrad, c), call(torch, t))


def test_mha_constructor_errors_match_torch():
    same_error(lambda: nn.MultiheadAttention(0, 2), lambda: torch.nn.MultiheadAttention(0, 2))
    same_error(lambda: nn.MultiheadAttention(7, 2), lambda: torch.nn.MultiheadAttention(7, 2))


def test_mha_separate_weight_shapes_are_checked():
    c = nn.MultiheadAttention(8, 2, kdim=5, vdim=3)
    t = torch.nn.MultiheadAttention(8, 2, kdim=5, vdim=3)
    same_error(lambda: c(cgrad.randn(4, 8), cgrad.randn(6, 4), cgrad.randn(6, 3)),
               lambda: t(torch.randn(4, 8), torch.randn(6, 4), torch.randn(6, 3)))


@pytest.mark.parametrize("need_weights", [True, False])
def test_multi_head_attention_forward_with_static_key_and_value(need_weights):
    dtype = cgrad.float64
    t = torch.nn.MultiheadAttention(8, 2, dtype=torch.float64)
    weights = {k: (cgrad.tensor(v.detach().numpy(), requires_grad=True), v.detach().clone().requires_grad_())
               for k, v in t.state_dict().items()}
    (qc, qt), (kc, kt), (sk_c, sk_t), (sv_c, sv_t) = (pair(s, dtype, k) for k, s in
                                                      enumerate([(4, 3, 8), (5, 3, 8), (6, 7, 4), (6, 7, 4)]))

    def call(fn, i, q, k, sk, sv):
        w = {name: pair_[i] for name, pair_ in weights.items()}
        return fn(q, k, k, 8, 2, w["in_proj_weight"], w["in_proj_bias"], None, None, False, 0.0,
                  w["out_proj.weight"], w["out_proj.bias"], static_k=sk, static_v=sv, need_weights=need_weights)
    oc, wc = call(F.multi_head_attention_forward, 0, qc, kc, sk_c, sv_c)
    ot, wt = call(TF.multi_head_attention_forward, 1, qt, kt, sk_t, sv_t)
    close(oc, ot, dtype)
    outs = ([oc], [ot]) if wt is None else ([oc, wc], [ot, wt])
    if wt is not None:
        close(wc, wt, dtype)
    names = ["in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"]
    check_backward(*outs, [qc, sk_c, sv_c] + [weights[n][0] for n in names],
                   [qt, sk_t, sv_t] + [weights[n][1] for n in names], dtype)
    assert kc.grad is None and kt.grad is None  # static key and value stand in for the projected key


def test_attention_names_are_exported():
    for name in ("MultiheadAttention", "Transformer", "TransformerEncoder", "TransformerDecoder",
                 "TransformerEncoderLayer", "TransformerDecoderLayer"):
        assert name in nn.__all__ and issubclass(getattr(nn, name), nn.Module)
    for name in ("scaled_dot_product_attention", "multi_head_attention_forward"):
        assert name in F.__all__ and callable(getattr(F, name))


# ---- the Transformer layers ------------------------------------------------------------------

def layer_kwargs(activation="relu", norm_first=False, batch_first=False, bias=True):
    return dict(dim_feedforward=16, dropout=0.0, activation=activation, norm_first=norm_first,
                batch_first=batch_first, bias=bias)


def activation_pair(kind):
    """(cgrad, torch) activation arguments of the kind."""
    if kind == "module":
        return nn.GELU(approximate="tanh"), torch.nn.GELU(approximate="tanh")
    if kind == "function":
        return F.gelu, TF.gelu
    return kind, kind


def seq(shape, dtype, seed, batch_first):
    """A (S, N, E) sequence, (N, S, E) with batch_first; 2-D shapes are unbatched."""
    if batch_first and len(shape) == 3:
        shape = (shape[1], shape[0], shape[2])
    return pair(shape, dtype, seed)


def src_masks(kind, batch_first, S=5, N=3, dtype=cgrad.float64):
    """(cgrad, torch) pairs of the source mask and key padding mask."""
    mask = kpm = (None, None)
    if kind in ("causal", "causal and padding"):
        mask = (nn.Transformer.generate_square_subsequent_mask(S, dtype=dtype),
                torch.nn.Transformer.generate_square_subsequent_mask(S, dtype=TORCH_DTYPE[dtype]))
    if kind in ("padding", "causal and padding"):
        m = np.zeros((N, S), bool)
        m[0, -2:] = True
        m[2, -1] = True
        kpm = mask_pair(m)
    return mask, kpm


def with_twins(make_c, make_t):
    t = make_t()
    c = make_c()
    c.load_state_dict({k: cgrad.tensor(v.detach().numpy()) for k, v in t.state_dict().items()})
    return c, t


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu", "module", "function"])
def test_encoder_layer_matches_torch(dtype, norm_first, activation, masks="causal and padding"):
    act_c, act_t = activation_pair(activation)
    kw = layer_kwargs(norm_first=norm_first)
    c, t = with_twins(lambda: nn.TransformerEncoderLayer(8, 2, dtype=dtype, **dict(kw, activation=act_c)),
                      lambda: torch.nn.TransformerEncoderLayer(8, 2, dtype=TORCH_DTYPE[dtype],
                                                               **dict(kw, activation=act_t)))
    xc, xt = seq((5, 3, 8), dtype, 0, False)
    (mc, mt), (pc, pt) = src_masks(masks, False, dtype=dtype)
    oc = c(xc, src_mask=mc, src_key_padding_mask=pc)
    ot = t(xt, src_mask=mt, src_key_padding_mask=pt)
    close(oc, ot, dtype)
    check_backward([oc], [ot], [xc], [xt], dtype, c, t)


@pytest.mark.parametrize("batch_first, bias", [(False, True), (True, False), (True, True)])
@pytest.mark.parametrize("masks", ["none", "causal", "padding", "causal and padding"])
def test_encoder_matches_torch_in_training_and_eval(batch_first, bias, masks):
    dtype = cgrad.float32
    kw = layer_kwargs(batch_first=batch_first, bias=bias)
    c, t = with_twins(
        lambda: nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, dtype=dtype, **kw), 2,
                                      nn.LayerNorm(8, dtype=dtype)),
        lambda: torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(8, 2, dtype=torch.float32, **kw), 2,
                                            torch.nn.LayerNorm(8, dtype=torch.float32)))
    xc, xt = seq((5, 3, 8), dtype, 0, batch_first)
    (mc, mt), (pc, pt) = src_masks(masks, batch_first, dtype=dtype)
    oc = c(xc, mask=mc, src_key_padding_mask=pc)
    ot = t(xt, mask=mt, src_key_padding_mask=pt)
    close(oc, ot, dtype)
    check_backward([oc], [ot], [xc], [xt], dtype, c, t)

    c.eval()
    t.eval()
    with cgrad.no_grad(), torch.no_grad():
        oc = c(xc, mask=mc, src_key_padding_mask=pc).numpy()
        ot = t(xt, mask=mt, src_key_padding_mask=pt).numpy()
    if pc is not None:
        # torch's eval-mode encoder may run a padded batch as nested tensors, with zeros where it is padded
        keep = ~pc.numpy()
        keep = keep[..., None] if batch_first else keep.T[..., None]
        oc, ot = oc * keep, ot * keep
    np.testing.assert_allclose(oc, ot, **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("masks", ["none", "all"])
def test_decoder_layer_matches_torch(dtype, norm_first, masks):
    kw = layer_kwargs(norm_first=norm_first, activation="gelu")
    c, t = with_twins(lambda: nn.TransformerDecoderLayer(8, 2, dtype=dtype, **kw),
                      lambda: torch.nn.TransformerDecoderLayer(8, 2, dtype=TORCH_DTYPE[dtype], **kw))
    (tc, tt), (mc_, mt_) = seq((4, 3, 8), dtype, 0, False), seq((5, 3, 8), dtype, 1, False)
    kwargs_c, kwargs_t = {}, {}
    if masks == "all":
        (tmc, tmt), (tpc, tpt) = src_masks("causal and padding", False, S=4, dtype=dtype)
        (_, _), (mpc, mpt) = src_masks("padding", False, S=5, dtype=dtype)
        memory_mask = np.random.default_rng(4).standard_normal((4, 5)).astype(NP[dtype])
        kwargs_c = dict(tgt_mask=tmc, tgt_key_padding_mask=tpc, memory_key_padding_mask=mpc,
                        memory_mask=cgrad.tensor(memory_mask), tgt_is_causal=True)
        kwargs_t = dict(tgt_mask=tmt, tgt_key_padding_mask=tpt, memory_key_padding_mask=mpt,
                        memory_mask=torch.tensor(memory_mask), tgt_is_causal=True)
    oc = c(tc, mc_, **kwargs_c)
    ot = t(tt, mt_, **kwargs_t)
    close(oc, ot, dtype)
    check_backward([oc], [ot], [tc, mc_], [tt, mt_], dtype, c, t)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("norm_first", [False, True])
def test_transformer_matches_torch(batch_first, norm_first):
    dtype = cgrad.float64
    kw = dict(num_encoder_layers=2, num_decoder_layers=2, dim_feedforward=16, dropout=0.0, batch_first=batch_first,
              norm_first=norm_first)
    c, t = with_twins(lambda: nn.Transformer(8, 2, dtype=dtype, **kw),
                      lambda: torch.nn.Transformer(8, 2, dtype=torch.float64, **kw))
    assert list(c.state_dict()) == list(t.state_dict())
    (sc, st), (tc, tt) = seq((5, 3, 8), dtype, 0, batch_first), seq((4, 3, 8), dtype, 1, batch_first)
    (mc, mt), (pc, pt) = src_masks("causal and padding", batch_first, S=4, dtype=dtype)
    oc = c(sc, tc, tgt_mask=mc, tgt_key_padding_mask=pc, tgt_is_causal=True)
    ot = t(st, tt, tgt_mask=mt, tgt_key_padding_mask=pt, tgt_is_causal=True)
    close(oc, ot, dtype)
    check_backward([oc], [ot], [sc, tc], [st, tt], dtype, c, t)
    c.eval()
    t.eval()
    with cgrad.no_grad(), torch.no_grad():
        close(c(sc, tc, tgt_mask=mc), t(st, tt, tgt_mask=mt), dtype)


def test_transformer_unbatched_inputs():
    dtype = cgrad.float64
    kw = dict(num_encoder_layers=1, num_decoder_layers=1, dim_feedforward=16, dropout=0.0)
    c, t = with_twins(lambda: nn.Transformer(8, 2, dtype=dtype, **kw),
                      lambda: torch.nn.Transformer(8, 2, dtype=torch.float64, **kw))
    (sc, st), (tc, tt) = pair((5, 8), dtype, 0), pair((4, 8), dtype, 1)
    mask = (nn.Transformer.generate_square_subsequent_mask(4, dtype=dtype),
            torch.nn.Transformer.generate_square_subsequent_mask(4, dtype=torch.float64))
    oc, ot = c(sc, tc, tgt_mask=mask[0]), t(st, tt, tgt_mask=mask[1])
    close(oc, ot, dtype)
    check_backward([oc], [ot], [sc, tc], [st, tt], dtype, c, t)


def test_transformer_parameters_init_and_state_dict_names():
    t = torch.nn.Transformer(8, 2, 2, 1, 16)
    c = nn.Transformer(8, 2, 2, 1, 16)
    assert list(c.state_dict()) == list(t.state_dict())
    assert str(c) == str(t)
    for name, p in c.named_parameters():
        values = p.detach().numpy()
        if p.dim() > 1:  # every matrix re-drawn by xavier_uniform_
            bound = (6 / (p.shape[0] + p.shape[1])) ** 0.5
            assert np.abs(values).max() <= bound and values.std() > bound / 4, name


def test_layer_reprs_and_activation_attributes():
    for act in ("relu", "gelu", F.relu, nn.GELU(), nn.ReLU(), F.silu):
        t_act = {F.relu: TF.relu, F.silu: TF.silu}.get(act, act)
        if isinstance(act, nn.Module):
            t_act = getattr(torch.nn, type(act).__name__)()
        c = nn.TransformerEncoderLayer(8, 2, 16, activation=act, norm_first=True, bias=False)
        t = torch.nn.TransformerEncoderLayer(8, 2, 16, activation=t_act, norm_first=True, bias=False)
        assert str(c) == str(t)
        assert c.activation_relu_or_gelu == t.activation_relu_or_gelu
        assert list(c.state_dict()) == list(t.state_dict())
    c = nn.TransformerDecoderLayer(8, 2, 16, activation=nn.GELU())
    t = torch.nn.TransformerDecoderLayer(8, 2, 16, activation=torch.nn.GELU())
    assert str(c) == str(t)
    layer = torch.nn.TransformerEncoderLayer(8, 2, 16)
    t = torch.nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
    c = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16), 2, enable_nested_tensor=False)
    assert str(c) == str(t)
    assert c.layers[0] is not c.layers[1] and c.layers[0].linear1.weight is not c.layers[1].linear1.weight


@pytest.mark.parametrize("sz", [1, 4])
def test_generate_square_subsequent_mask(sz):
    for dtype in DTYPES:
        c = nn.Transformer.generate_square_subsequent_mask(sz, dtype=dtype)
        t = torch.nn.Transformer.generate_square_subsequent_mask(sz, dtype=TORCH_DTYPE[dtype])
        assert c.dtype == dtype
        np.testing.assert_array_equal(c.numpy(), t.numpy())
    assert nn.Transformer.generate_square_subsequent_mask(3).dtype == cgrad.float32


def test_transformer_errors_match_torch():
    same_error(lambda: nn.TransformerEncoderLayer(8, 2, activation="tanh"),
               lambda: torch.nn.TransformerEncoderLayer(8, 2, activation="tanh"))
    same_error(lambda: nn.TransformerDecoderLayer(8, 2, activation="swish"),
               lambda: torch.nn.TransformerDecoderLayer(8, 2, activation="swish"))
    t = torch.nn.Transformer(8, 2, 1, 1, 16)
    c = nn.Transformer(8, 2, 1, 1, 16)
    same_error(lambda: c(cgrad.randn(5, 3, 8), cgrad.randn(4, 2, 8)), lambda: t(torch.randn(5, 3, 8),
                                                                                  torch.randn(4, 2, 8)))
    same_error(lambda: c(cgrad.randn(5, 3, 8), cgrad.randn(4, 3, 6)), lambda: t(torch.randn(5, 3, 8),
                                                                                  torch.randn(4, 3, 6)))
    layer_c, layer_t = nn.TransformerEncoderLayer(8, 2, 16), torch.nn.TransformerEncoderLayer(8, 2, 16)
    same_error(lambda: layer_c(cgrad.randn(5, 3, 8), src_mask=cgrad.zeros(4, 4)),
               lambda: layer_t(torch.randn(5, 3, 8), src_mask=torch.zeros(4, 4)))
    same_error(lambda: layer_c(cgrad.randn(5, 3, 8), is_causal=True),
               lambda: layer_t(torch.randn(5, 3, 8), is_causal=True))


def test_mismatched_mask_types_warn_as_in_torch():
    layer = nn.TransformerEncoderLayer(8, 2, 16)
    with pytest.warns(UserWarning, match="Support for mismatched src_key_padding_mask and src_mask is deprecated"):
        layer(cgrad.randn(5, 3, 8), src_mask=cgrad.zeros(5, 5), src_key_padding_mask=cgrad.zeros(3, 5,
                                                                                                  dtype=cgrad.bool))


# ---- compiled training -----------------------------------------------------------------------

def bits(t):
    return np.array(t.detach().numpy(), copy=True).tobytes()


def test_compiled_encoder_training_step_replays_eager_bit_for_bit():
    def make(seed):
        cgrad.manual_seed(seed)
        layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True, norm_first=True)
        encoder = nn.TransformerEncoder(layer, 2, nn.LayerNorm(8))
        head = nn.Linear(8, 3)
        return encoder, head, cgrad.optim.Adam(list(encoder.parameters()) + list(head.parameters()), lr=1e-2)

    mask = nn.Transformer.generate_square_subsequent_mask(6)

    def make_step(encoder, head, opt):
        def step(x, padding, target):
            opt.zero_grad()
            out = encoder(x, mask=mask, src_key_padding_mask=padding)
            loss = F.cross_entropy(head(out[:, -1]), target)
            loss.backward()
            opt.step()
            return loss
        return step

    eager_parts, compiled_parts = make(0), make(0)
    eager = make_step(*eager_parts)
    compiled = cgrad.compile(make_step(*compiled_parts), fullgraph=True)
    rng = np.random.default_rng(0)
    params_e = list(eager_parts[0].parameters()) + list(eager_parts[1].parameters())
    params_c = list(compiled_parts[0].parameters()) + list(compiled_parts[1].parameters())
    for k in range(10):
        if k == 5:
            replays = compiled._cgrad_step.replays
        x = cgrad.tensor(rng.standard_normal((4, 6, 8)).astype(np.float32))
        padding = cgrad.tensor(rng.random((4, 6)) < 0.3)
        target = cgrad.tensor(rng.integers(0, 3, 4))
        assert bits(eager(x, padding, target)) == bits(compiled(x, padding, target)), f"step {k}: loss differs"
        for p, q in zip(params_e, params_c):
            assert bits(p) == bits(q) and bits(p.grad) == bits(q.grad), f"step {k}"
    assert compiled._cgrad_step.replays - replays == 5  # recorded by then: every later call replays
