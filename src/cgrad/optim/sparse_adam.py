"""SparseAdam: Adam for parameters whose gradients have a sparse layout. cgrad has no sparse tensors."""
from cgrad.optim.optimizer import Optimizer

__all__ = ["SparseAdam"]


class SparseAdam(Optimizer):
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, maximize=False):
        raise NotImplementedError("SparseAdam needs sparse gradients, and cgrad has no sparse tensors: use Adam "
                                  "(or AdamW)")
