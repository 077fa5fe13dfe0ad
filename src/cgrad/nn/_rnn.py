"""The recurrent cells and the layers that scan them over a sequence.

Each cell computes what PyTorch's CPU kernels compute, operation for
operation, so that the results agree with PyTorch's to the rounding of the
matrix products: the two linear maps (each with its own bias) are added,
the gates are the chunks of that sum in PyTorch's order, and the new
state is formed in PyTorch's order of operations. A layer projects the
whole sequence's inputs in one product first, as PyTorch does on the CPU,
then runs the cell a step at a time.
"""
from cgrad import _C
from cgrad.nn import functional as F

__all__ = ["rnn_tanh_cell", "rnn_relu_cell", "lstm_cell", "gru_cell", "rnn_tanh", "rnn_relu", "lstm", "gru"]


# ---- checks ------------------------------------------------------------------------------------


def _check_input(input, input_size):
    if input.shape[1] != input_size:
        raise RuntimeError(f"input has inconsistent input_size: got {input.shape[1]} expected {input_size}")


def _check_hidden(input, hx, hidden_size, label):
    if input.shape[0] != hx.shape[0]:
        raise RuntimeError(f"Input batch size {input.shape[0]} doesn't match hidden{label} batch size "
                           f"{hx.shape[0]}")
    if hx.shape[1] != hidden_size:
        raise RuntimeError(f"hidden{label} has inconsistent hidden_size: got {hx.shape[1]}, expected {hidden_size}")


def _check_weights(w_ih, w_hh, hidden_size, gates):
    for name, w in (("weight_ih", w_ih), ("weight_hh", w_hh)):
        if w.shape[0] != gates * hidden_size:
            raise RuntimeError(f"{name} first dim must be {gates} * hidden_size = {gates * hidden_size}, "
                               f"but got {w.shape[0]}")


def _check_cell(input, hxs, w_ih, w_hh, gates):
    hidden_size = w_hh.shape[1]
    if gates == 1:  # PyTorch checks the simple cell's weights first, the others' after the input
        _check_weights(w_ih, w_hh, hidden_size, gates)
    _check_input(input, w_ih.shape[1])
    if gates == 4:
        _check_weights(w_ih, w_hh, hidden_size, gates)
    for label, hx in enumerate(hxs):
        _check_hidden(input, hx, hidden_size, label)
    if gates == 3:
        _check_weights(w_ih, w_hh, hidden_size, gates)


# ---- one step ----------------------------------------------------------------------------------
# `xw` is the input's linear map, computed by the caller (a layer computes
# the whole sequence's at once); `p` is (w_ih, w_hh, b_ih, b_hh, w_hr).


def _simple_step(xw, h, p, relu):
    s = F.linear(h, p[1], p[3]) + xw
    return s.relu() if relu else s.tanh()


def _lstm_step(xw, state, p):
    h, c = state
    gates = F.linear(h, p[1], p[3]) + xw
    i, f, g, o = gates.chunk(4, 1)
    i, f, g, o = i.sigmoid(), f.sigmoid(), g.tanh(), o.sigmoid()
    c = f * c + i * g
    h = o * c.tanh()
    if p[4] is not None:
        h = h.matmul(p[4].t())
    return h, c


def _gru_step(xw, h, p):
    ir, ii, in_ = xw.chunk(3, 1)
    hr, hi, hn = F.linear(h, p[1], p[3]).chunk(3, 1)
    r = (hr + ir).sigmoid()
    z = (hi + ii).sigmoid()
    n = (in_ + hn * r).tanh()
    return (h - n) * z + n


def _step(mode, xw, hidden, p):
    if mode == "LSTM":
        return _lstm_step(xw, hidden, p)
    if mode == "GRU":
        return _gru_step(xw, hidden, p)
    return _simple_step(xw, hidden, p, mode == "RNN_RELU")


# ---- the cells, as functions -------------------------------------------------------------------


def rnn_tanh_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)."""
    _check_cell(input, (hx,), w_ih, w_hh, 1)
    return _simple_step(F.linear(input, w_ih, b_ih), hx, (w_ih, w_hh, b_ih, b_hh, None), relu=False)


def rnn_relu_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """h' = relu(x W_ih^T + b_ih + h W_hh^T + b_hh)."""
    _check_cell(input, (hx,), w_ih, w_hh, 1)
    return _simple_step(F.linear(input, w_ih, b_ih), hx, (w_ih, w_hh, b_ih, b_hh, None), relu=True)


def lstm_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """(h', c') of an LSTM step; hx is (h, c)."""
    if len(hx) != 2:
        raise RuntimeError("lstm_cell expects two hidden states")
    _check_cell(input, tuple(hx), w_ih, w_hh, 4)
    return _lstm_step(F.linear(input, w_ih, b_ih), tuple(hx), (w_ih, w_hh, b_ih, b_hh, None))


def gru_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """h' of a GRU step: reset, update and new gates in PyTorch's order."""
    _check_cell(input, (hx,), w_ih, w_hh, 3)
    return _gru_step(F.linear(input, w_ih, b_ih), hx, (w_ih, w_hh, b_ih, b_hh, None))


# ---- layers ------------------------------------------------------------------------------------


def _layer(mode, xw, hidden, p, reverse):
    """Runs the cell over the projected inputs xw (seq, batch, gates); the outputs in sequence order."""
    steps = list(xw.unbind(0))
    if reverse:
        steps.reverse()
    outputs = []
    for x in steps:
        hidden = _step(mode, x, hidden, p)
        outputs.append(hidden[0] if mode == "LSTM" else hidden)
    if reverse:
        outputs.reverse()
    return _C.stack(outputs, 0), hidden


def _params(flat, has_biases, has_projections):
    """Groups the flat parameter list per layer and direction as (w_ih, w_hh, b_ih, b_hh, w_hr)."""
    per = 2 + 2 * has_biases + has_projections
    if len(flat) % per:
        raise RuntimeError("got an incorrect number of RNN parameters")
    groups = []
    for k in range(0, len(flat), per):
        w = list(flat[k:k + per])
        b_ih, b_hh = (w[2], w[3]) if has_biases else (None, None)
        groups.append((w[0], w[1], b_ih, b_hh, w[-1] if has_projections else None))
    return groups


def _stack(mode, input, hiddens, flat, has_biases, num_layers, dropout, train, bidirectional, batch_first,
           has_projections=False):
    if input.shape[1 if batch_first else 0] == 0:
        raise RuntimeError("Expected sequence length to be larger than 0 in RNN")
    x = input.transpose(0, 1) if batch_first else input
    params = _params(flat, has_biases, has_projections)
    dirs = 2 if bidirectional else 1
    if len(params) != num_layers * dirs or len(hiddens) != num_layers * dirs:
        raise RuntimeError("Expected more hidden states in stacked_rnn" if len(hiddens) != num_layers * dirs
                           else "Expected more weights in stacked_rnn")
    finals = []
    for layer in range(num_layers):
        outs = []
        for d in range(dirs):
            p = params[layer * dirs + d]
            out, last = _layer(mode, F.linear(x, p[0], p[2]), hiddens[layer * dirs + d], p, reverse=d == 1)
            outs.append(out)
            finals.append(last)
        x = outs[0] if dirs == 1 else _C.cat(outs, outs[0].dim() - 1)
        if dropout != 0 and train and layer < num_layers - 1:
            x = F.dropout(x, dropout, training=True)
    if batch_first:
        x = x.transpose(0, 1)
    return x, finals


# ---- packed sequences ------------------------------------------------------------------------------
# A packed batch holds its steps one after the other, the sequences still
# running at each step first, batch_sizes[t] of them: a layer runs each
# step on the first batch_sizes[t] rows of the state, setting aside the
# final state of the sequences that end (forward), or taking in the
# initial state of those that start (reverse), as PyTorch's layers do.


def _rows(hidden, start, stop):
    return tuple(h[start:stop] for h in hidden) if isinstance(hidden, tuple) else hidden[start:stop]


def _join(parts):
    if isinstance(parts[0], tuple):
        return tuple(_C.cat([p[k] for p in parts], 0) for k in range(len(parts[0])))
    return _C.cat(parts, 0)


def _packed_layer(mode, xw, batch_sizes, hidden, p, reverse):
    outputs = []
    if not reverse:
        offset, last, ended = 0, batch_sizes[0], []
        for bs in batch_sizes:
            if bs < last:
                ended.append(_rows(hidden, bs, last))
                hidden = _rows(hidden, 0, bs)
            last = bs
            hidden = _step(mode, xw[offset:offset + bs], hidden, p)
            offset += bs
            outputs.append(hidden[0] if mode == "LSTM" else hidden)
        return _C.cat(outputs, 0), _join([hidden] + ended[::-1])
    initial, offset, last = hidden, xw.shape[0], batch_sizes[-1]
    hidden = _rows(initial, 0, last)
    for bs in reversed(batch_sizes):
        if bs > last:
            hidden = _join([hidden, _rows(initial, last, bs)])
        last = bs
        hidden = _step(mode, xw[offset - bs:offset], hidden, p)
        offset -= bs
        outputs.append(hidden[0] if mode == "LSTM" else hidden)
    return _C.cat(outputs[::-1], 0), hidden


def _stack_packed(mode, data, batch_sizes, hiddens, flat, has_biases, num_layers, dropout, train, bidirectional,
                  has_projections=False):
    params = _params(flat, has_biases, has_projections)
    dirs = 2 if bidirectional else 1
    batch_sizes = [int(b) for b in batch_sizes.tolist()]
    x, finals = data, []
    for layer in range(num_layers):
        outs = []
        for d in range(dirs):
            p = params[layer * dirs + d]
            out, last = _packed_layer(mode, F.linear(x, p[0], p[2]), batch_sizes, hiddens[layer * dirs + d], p,
                                      reverse=d == 1)
            outs.append(out)
            finals.append(last)
        x = outs[0] if dirs == 1 else _C.cat(outs, -1)
        if dropout != 0 and train and layer < num_layers - 1:
            x = F.dropout(x, dropout, training=True)
    return x, finals


def _one_hidden(mode):
    def run(input, *args):
        """(input, hx, params, has_biases, num_layers, dropout, train, bidirectional, batch_first), or for a
        packed batch (data, batch_sizes, hx, params, has_biases, num_layers, dropout, train, bidirectional)."""
        if not isinstance(args[2], (list, tuple)):  # the third is has_biases, not the parameters
            hx, params, has_biases, num_layers, dropout, train, bidirectional, batch_first = args
            out, finals = _stack(mode, input, hx.unbind(0), params, has_biases, num_layers, dropout, train,
                                 bidirectional, batch_first)
        else:
            batch_sizes, hx, params, has_biases, num_layers, dropout, train, bidirectional = args
            out, finals = _stack_packed(mode, input, batch_sizes, hx.unbind(0), params, has_biases, num_layers,
                                        dropout, train, bidirectional)
        return out, _C.stack(finals, 0)
    run.__name__ = run.__qualname__ = mode.lower()
    return run


rnn_tanh = _one_hidden("RNN_TANH")
rnn_relu = _one_hidden("RNN_RELU")
gru = _one_hidden("GRU")


def lstm(input, *args):
    """LSTM layers over a sequence: (output, h_n, c_n), from (input, hx, params, has_biases, num_layers,
    dropout, train, bidirectional, batch_first) with hx = (h_0, c_0), or for a packed batch from (data,
    batch_sizes, hx, params, has_biases, num_layers, dropout, train, bidirectional)."""
    packed = isinstance(args[2], (list, tuple))  # (batch_sizes, hx, params, ...), not (hx, params, has_biases, ...)
    if packed:
        batch_sizes, hx, params, has_biases, num_layers, dropout, train, bidirectional = args
    else:
        hx, params, has_biases, num_layers, dropout, train, bidirectional, batch_first = args
    if len(hx) != 2:
        raise RuntimeError("lstm expects two hidden states")
    h0, c0 = hx
    dirs = 2 if bidirectional else 1
    for k, t in enumerate((h0, c0)):
        name = "h_0" if k == 0 else "c_0"
        if t.dim() != 3:
            raise RuntimeError(f"For batched 3-D input, hx[{k}] ({name}) should be 3-D but got {t.dim()}-D tensor")
        if t.shape[0] != num_layers * dirs:
            raise RuntimeError(f"Expected {name} size(0) to be {num_layers * dirs} (num_layers * num_directions), "
                               f"but got {t.shape[0]}")
    has_projections = h0.shape[2] != c0.shape[2]
    hiddens = list(zip(h0.unbind(0), c0.unbind(0)))
    if packed:
        out, finals = _stack_packed("LSTM", input, batch_sizes, hiddens, params, has_biases, num_layers, dropout,
                                    train, bidirectional, has_projections)
    else:
        out, finals = _stack("LSTM", input, hiddens, params, has_biases, num_layers, dropout, train, bidirectional,
                             batch_first, has_projections)
    return out, _C.stack([h for h, _ in finals], 0), _C.stack([c for _, c in finals], 0)
