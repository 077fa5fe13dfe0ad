# Embedding bags, the CTC loss and grid sampling (csrc/ops_bag.c, ops_ctc.c,
# ops_grid.c): the C calls behind cgrad.nn.functional's embedding_bag,
# ctc_loss and grid_sample, which check PyTorch's arguments and hand over
# plain int64 tensors. Included by _C.pyx.


def _embedding_bag(weight, indices, bounds, per_sample_weights, int mode, int64_t padding_idx,
                   bint scale_grad_by_freq):
    cdef cg_tensor *psw = nn_optional(per_sample_weights, "per_sample_weights")
    return wrap(cg_embedding_bag(nn_required(weight, "weight").t, nn_required(indices, "indices").t,
                                 nn_required(bounds, "offsets").t, psw, mode, padding_idx, scale_grad_by_freq))


def _ctc_loss(log_probs, targets, target_starts, input_lengths, target_lengths, int64_t blank, bint zero_infinity):
    return wrap(cg_ctc_loss(nn_required(log_probs, "log_probs").t, nn_required(targets, "targets").t,
                            nn_required(target_starts, "targets").t, nn_required(input_lengths, "input_lengths").t,
                            nn_required(target_lengths, "target_lengths").t, blank, zero_infinity))


def _grid_sampler(input, grid, int64_t mode, int64_t padding_mode, bint align_corners):
    return wrap(cg_grid_sampler(nn_required(input, "input").t, nn_required(grid, "grid").t, mode, padding_mode,
                                align_corners))
