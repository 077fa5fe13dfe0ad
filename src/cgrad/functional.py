"""cgrad.functional: PyTorch's torch.functional, the module some of its top-level functions live in.

The same functions as cgrad's top level (stft and istft, which need complex tensors, and the randomized
pca_lowrank and svd_lowrank are not in cgrad).
"""
from cgrad import (
    atleast_1d, atleast_2d, atleast_3d, block_diag, broadcast_shapes, broadcast_tensors, cartesian_prod, cdist,
    chain_matmul, einsum, lu, meshgrid, norm, split, tensordot, unique, unique_consecutive, unravel_index,
)

__all__ = ["atleast_1d", "atleast_2d", "atleast_3d", "broadcast_shapes", "broadcast_tensors", "cartesian_prod",
           "block_diag", "cdist", "chain_matmul", "einsum", "lu", "norm", "meshgrid", "split", "tensordot", "unique",
           "unique_consecutive", "unravel_index"]
