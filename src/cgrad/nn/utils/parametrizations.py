"""nn.utils.parametrizations: weight normalization as a parametrization (parametrize.py)."""
from cgrad.nn.modules.module import Module
from cgrad.nn.utils import parametrize
from cgrad.nn.utils.weight_norm import _weight_norm, norm_except_dim

__all__ = ["weight_norm"]


class _WeightNorm(Module):
    def __init__(self, dim=0):
        super().__init__()
        self.dim = -1 if dim is None else dim

    def forward(self, weight_g, weight_v):
        return _weight_norm(weight_v, weight_g, self.dim)

    def right_inverse(self, weight):
        return norm_except_dim(weight, 2, self.dim), weight


def weight_norm(module, name="weight", dim=0):
    """module.<name> becomes g * v / ||v|| (the norm over every dim but dim; None: over all), from
    parametrizations.<name>.original0 (g) and original1 (v). (PyTorch also loads a state dict saved
    with the older nn.utils.weight_norm, <name>_g and <name>_v, into it; cgrad does not.)"""
    parametrize.register_parametrization(module, name, _WeightNorm(dim), unsafe=True)
    return module
