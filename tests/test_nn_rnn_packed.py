"""Padded and packed sequences (nn.utils.rnn) and recurrent layers over packed batches, against PyTorch."""
import numpy as np
import pytest

import cgrad
from cgrad.nn.utils import rnn as CR

torch = pytest.importorskip("torch")
TR = torch.nn.utils.rnn


def sequences(lengths, features=3, seed=0):
    rng = np.random.default_rng(seed)
    seqs = [rng.standard_normal((n, features)) for n in lengths]
    return ([cgrad.tensor(s, requires_grad=True) for s in seqs], [torch.tensor(s, requires_grad=True) for s in seqs])


def same_values(c, t):
    np.testing.assert_allclose(c.detach().numpy(), t.detach().numpy(), rtol=1e-12, atol=1e-12)


def same_packed(c, t):
    same_values(c.data, t.data)
    assert c.batch_sizes.tolist() == t.batch_sizes.tolist() and c.batch_sizes.dtype == cgrad.int64
    for a, b in ((c.sorted_indices, t.sorted_indices), (c.unsorted_indices, t.unsorted_indices)):
        assert (a is None and b is None) or a.tolist() == b.tolist()


@pytest.mark.parametrize("lengths", [[4, 4, 2, 1], [3, 5, 1, 5, 2], [2, 2, 2], [1], [3, 1, 3, 2, 3]])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("padding_side", ["right", "left"])
def test_pad_sequence_matches_torch(lengths, batch_first, padding_side):
    cs, ts = sequences(lengths)
    c = CR.pad_sequence(cs, batch_first=batch_first, padding_value=-2.5, padding_side=padding_side)
    t = TR.pad_sequence(ts, batch_first=batch_first, padding_value=-2.5, padding_side=padding_side)
    same_values(c, t)
    w = np.arange(t.numel(), dtype=np.float64).reshape(tuple(t.shape))
    (c * cgrad.tensor(w)).sum().backward()
    (t * torch.tensor(w)).sum().backward()
    for a, b in zip(cs, ts):
        same_values(a.grad, b.grad)


@pytest.mark.parametrize("lengths", [[3, 5, 1, 5, 2], [2, 2, 2], [1], [3, 1, 3, 2, 3], [4, 3, 2, 1]])
@pytest.mark.parametrize("batch_first", [False, True])
def test_pack_and_pad_round_trip_matches_torch(lengths, batch_first):
    cs, ts = sequences(lengths)
    cp, tp = CR.pad_sequence(cs, batch_first), TR.pad_sequence(ts, batch_first)
    c = CR.pack_padded_sequence(cp, lengths, batch_first=batch_first, enforce_sorted=False)
    t = TR.pack_padded_sequence(tp, lengths, batch_first=batch_first, enforce_sorted=False)
    same_packed(c, t)
    (c_pad, c_len), (t_pad, t_len) = (CR.pad_packed_sequence(c, batch_first, 1.5, max(lengths) + 2),
                                      TR.pad_packed_sequence(t, batch_first, 1.5, max(lengths) + 2))
    same_values(c_pad, t_pad)
    assert c_len.tolist() == t_len.tolist() and c_len.dtype == cgrad.int64
    w = np.random.default_rng(1).standard_normal(tuple(t_pad.shape))
    (c_pad * cgrad.tensor(w)).sum().backward()
    (t_pad * torch.tensor(w)).sum().backward()
    for a, b in zip(cs, ts):
        same_values(a.grad, b.grad)
    for a, b in zip(CR.unpack_sequence(c), TR.unpack_sequence(t)):
        same_values(a, b)
    for a, b in zip(CR.unpad_sequence(c_pad, c_len, batch_first), TR.unpad_sequence(t_pad, t_len, batch_first)):
        same_values(a, b)


def test_sorted_packing_and_pack_sequence_match_torch():
    cs, ts = sequences([5, 3, 3, 1])
    same_packed(CR.pack_sequence(cs), TR.pack_sequence(ts))
    lengths = torch.tensor([5, 3, 3, 1])
    same_packed(CR.pack_padded_sequence(CR.pad_sequence(cs), cgrad.tensor([5, 3, 3, 1])),
                TR.pack_padded_sequence(TR.pad_sequence(ts), lengths))
    assert CR.invert_permutation(cgrad.tensor([2, 0, 1])).tolist() == [1, 2, 0]
    assert CR.invert_permutation(None) is None


def test_packed_sequence_is_a_named_tuple_with_conversions():
    cs, _ = sequences([2, 1])
    p = CR.pack_sequence(cs)
    data, batch_sizes, sorted_indices, unsorted_indices = p
    assert p.data is data and sorted_indices is None and unsorted_indices is None
    assert p.double() is p and p.float().data.dtype == cgrad.float32 and not p.is_cuda
    q = CR.PackedSequence(data, batch_sizes, cgrad.tensor([1, 0]))
    assert q.unsorted_indices.tolist() == [1, 0]
    assert CR.PackedSequence((data, batch_sizes)).batch_sizes is batch_sizes


@pytest.mark.parametrize("call", [
    lambda lib, R: R.pack_padded_sequence(lib.zeros(4, 3, 2), [4, 2]),
    lambda lib, R: R.pack_padded_sequence(lib.zeros(4, 3, 2), [2, 4, 1]),
    lambda lib, R: R.pack_padded_sequence(lib.zeros(4, 3, 2), [4, 1, 0]),
    lambda lib, R: R.pad_sequence([]),
    lambda lib, R: R.pad_sequence([lib.zeros(2)], padding_side="mid"),
    lambda lib, R: R.pad_sequence(3),
    lambda lib, R: R.pad_packed_sequence(R.pack_padded_sequence(lib.zeros(4, 3, 2), [4, 2, 1]), total_length=2),
])
def test_errors_match_torch(call):
    with pytest.raises(Exception) as t_err:
        call(torch, TR)
    with pytest.raises(type(t_err.value)) as c_err:
        call(cgrad, CR)
    assert str(c_err.value) == str(t_err.value)


def test_a_length_beyond_the_padding_is_refused():
    with pytest.raises(RuntimeError, match="longer than the padded sequences"):
        CR.pack_padded_sequence(cgrad.zeros(4, 3, 2), [5, 4, 1])


# ---- recurrent layers over packed batches ----------------------------------------------------------------

LAYERS = [("RNN", {}), ("RNN", {"nonlinearity": "relu", "num_layers": 2}), ("GRU", {"bidirectional": True}),
          ("GRU", {"num_layers": 2, "bias": False}), ("LSTM", {}),
          ("LSTM", {"num_layers": 2, "bidirectional": True}), ("LSTM", {"proj_size": 2, "bidirectional": True})]


@pytest.mark.parametrize("name,kw", LAYERS, ids=[f"{n}-{k}" for n, k in LAYERS])
@pytest.mark.parametrize("enforce_sorted", [False, True])
@pytest.mark.parametrize("with_hx", [False, True])
def test_layers_over_packed_batches_match_torch(name, kw, enforce_sorted, with_hx):
    torch.manual_seed(0)
    t = getattr(torch.nn, name)(3, 5, dtype=torch.float64, **kw)
    c = getattr(cgrad.nn, name)(3, 5, dtype=cgrad.float64, **kw)
    c.load_state_dict({k: cgrad.tensor(v.detach().numpy()) for k, v in t.state_dict().items()})
    lengths = [5, 4, 4, 2, 1] if enforce_sorted else [3, 5, 1, 5, 2]
    cs, ts = sequences(lengths)
    c_args, t_args = [CR.pack_sequence(cs, enforce_sorted)], [TR.pack_sequence(ts, enforce_sorted)]
    leaves = list(zip(cs, ts))
    if with_hx:
        rng = np.random.default_rng(3)
        dirs = 2 if kw.get("bidirectional") else 1
        shape = (kw.get("num_layers", 1) * dirs, len(lengths))
        h = rng.standard_normal(shape + (kw.get("proj_size") or 5,))
        hc = [cgrad.tensor(h, requires_grad=True)]
        ht = [torch.tensor(h, requires_grad=True)]
        if name == "LSTM":
            cell = rng.standard_normal(shape + (5,))
            hc.append(cgrad.tensor(cell, requires_grad=True))
            ht.append(torch.tensor(cell, requires_grad=True))
        leaves += list(zip(hc, ht))
        c_args.append(tuple(hc) if name == "LSTM" else hc[0])
        t_args.append(tuple(ht) if name == "LSTM" else ht[0])
    (c_out, c_h), (t_out, t_h) = c(*c_args), t(*t_args)
    assert isinstance(c_out, CR.PackedSequence)
    same_packed(c_out, t_out)
    c_hs = c_h if isinstance(c_h, tuple) else (c_h,)
    t_hs = t_h if isinstance(t_h, tuple) else (t_h,)
    for a, b in zip(c_hs, t_hs):
        same_values(a, b)
    w = np.random.default_rng(4).standard_normal(tuple(t_out.data.shape))
    ((c_out.data * cgrad.tensor(w)).sum() + sum((k + 2) * h.sum() for k, h in enumerate(c_hs))).backward()
    ((t_out.data * torch.tensor(w)).sum() + sum((k + 2) * h.sum() for k, h in enumerate(t_hs))).backward()
    for a, b in leaves:
        same_values(a.grad, b.grad)
    t_params = dict(t.named_parameters())
    for n, p in c.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), t_params[n].grad.numpy(), rtol=1e-10, atol=1e-12)


def test_packed_input_is_checked_as_torch():
    cs, ts = sequences([2, 1], features=4)
    with pytest.raises(RuntimeError) as t_err:
        torch.nn.GRU(3, 5, dtype=torch.float64)(TR.pack_sequence(ts))
    with pytest.raises(RuntimeError) as c_err:
        cgrad.nn.GRU(3, 5, dtype=cgrad.float64)(CR.pack_sequence(cs))
    assert str(c_err.value) == str(t_err.value)
    cs, ts = sequences([2, 1])
    with pytest.raises(RuntimeError) as t_err:
        torch.nn.GRU(3, 5, dtype=torch.float64)(TR.pack_sequence(ts), torch.zeros(1, 3, 5, dtype=torch.float64))
    with pytest.raises(RuntimeError) as c_err:
        cgrad.nn.GRU(3, 5, dtype=cgrad.float64)(CR.pack_sequence(cs), cgrad.zeros(1, 3, 5, dtype=cgrad.float64))
    assert str(c_err.value) == str(t_err.value)
