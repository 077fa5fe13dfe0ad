"""cgrad.nn.utils: gradient clipping, and padded and packed sequences (nn.utils.rnn)."""
from cgrad.nn.utils import rnn
from cgrad.nn.utils.clip_grad import clip_grad_norm_, clip_grad_value_

__all__ = ["clip_grad_norm_", "clip_grad_value_", "rnn"]
