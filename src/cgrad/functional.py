"""cgrad.functional: PyTorch's torch.functional, the module some of its top-level functions live in.

The same functions as cgrad's top level; stft and istft, whose results or inputs are complex, raise
NotImplementedError.
"""
from cgrad._lowrank import pca_lowrank, svd_lowrank
from cgrad._missing import no_complex
from cgrad import (
    atleast_1d, atleast_2d, atleast_3d, block_diag, broadcast_shapes, broadcast_tensors, cartesian_prod, cdist,
    chain_matmul, einsum, lu, meshgrid, norm, split, tensordot, unique, unique_consecutive, unravel_index,
)

__all__ = ["atleast_1d", "atleast_2d", "atleast_3d", "broadcast_shapes", "broadcast_tensors", "cartesian_prod",
           "block_diag", "cdist", "chain_matmul", "einsum", "lu", "norm", "meshgrid", "split", "tensordot", "unique",
           "unique_consecutive", "unravel_index", "pca_lowrank", "svd_lowrank", "stft", "istft"]


def stft(input, n_fft, hop_length=None, win_length=None, window=None, center=True, pad_mode="reflect",
         normalized=False, onesided=None, return_complex=None, align_to_window=None):
    """PyTorch's short-time Fourier transform: its result is complex, a dtype cgrad lacks."""
    raise no_complex("cgrad.stft")


def istft(input, n_fft, hop_length=None, win_length=None, window=None, center=True, normalized=False,
          onesided=None, length=None, return_complex=False):
    """PyTorch's inverse short-time Fourier transform: its input is complex, a dtype cgrad lacks."""
    raise no_complex("cgrad.istft")
