"""Autograd Functions behind nn modules, as PyTorch keeps them in torch.nn._functions."""
import cgrad
from cgrad.autograd import Function


def _band(channels, dtype, selects):
    """The (channels, channels) 0/1 matrix whose entry (c, j) is selects(c, j)."""
    return cgrad.tensor([[1.0 if selects(c, j) else 0.0 for j in range(channels)] for c in range(channels)],
                        dtype=dtype)


class CrossMapLRN2d(Function):
    """PyTorch's formulas, vectorized. Its forward keeps a running sum over channels that never drops
    channel 0, so the window of channel c is channels c - pre_pad + 1 .. c + pre_pad - 1 (clipped) and
    channel 0 besides; its backward is the hand-written one of a plain window, not the derivative of that."""

    @staticmethod
    def forward(ctx, input, size, alpha=1e-4, beta=0.75, k=1):
        if input.dim() != 4:
            raise ValueError(f"CrossMapLRN2d: Expected input to be 4D, got {input.dim()}D instead.")
        channels = input.size(1)
        pre_pad = int((size - 1) / 2 + 1)
        window = _band(channels, input.dtype, lambda c, j: j == 0 or c - pre_pad + 1 <= j <= c + pre_pad - 1)
        scale = cgrad.einsum("nihw,ci->nchw", input * input, window) * (alpha / size) + k
        output = scale.pow(-beta) * input
        ctx.size, ctx.alpha, ctx.beta, ctx.scale = size, alpha, beta, scale
        ctx.save_for_backward(input, output)
        return output

    @staticmethod
    def backward(ctx, grad_output):
        input, output = ctx.saved_tensors
        channels = input.size(1)
        inverse_pre_pad = int(ctx.size - (ctx.size - 1) / 2)
        if inverse_pre_pad + channels > channels + ctx.size - 1:  # PyTorch's narrow of its padded buffer fails
            raise RuntimeError(f"start ({inverse_pre_pad}) + length ({channels}) exceeds dimension size "
                               f"({channels + ctx.size - 1}).")
        last = ctx.size - 1 - inverse_pre_pad
        window = _band(channels, input.dtype, lambda c, j: c - inverse_pre_pad <= j <= c + last)
        ratio = grad_output * output / ctx.scale
        accum = cgrad.einsum("nihw,ci->nchw", ratio, window)
        cache_ratio_value = 2 * ctx.alpha * ctx.beta / ctx.size
        grad_input = ctx.scale.pow(-ctx.beta) * grad_output - cache_ratio_value * input * accum
        return grad_input, None, None, None, None
