"""The LKJ distribution over lower Cholesky factors of correlation matrices."""
import math
import operator

import cgrad
from cgrad.distributions import constraints
from cgrad.distributions.beta import Beta
from cgrad.distributions.distribution import Distribution
from cgrad.distributions.utils import broadcast_all, tiny

__all__ = ["LKJCholesky"]


def _onion_beta_parameters(concentration, dim):
    """Beta(a_i, b_i) for the squared length y_i of the off-diagonal part of each row i of the factor.

    In the onion method (Lewandowski, Kurowicka and Joe 2009, section 3.2) row i >= 1 is
    sqrt(y_i) u_i on its first i entries, u_i uniform on the unit sphere of R^i, with
    y_i ~ Beta(i / 2, eta + (dim - 1 - i) / 2). Row 0 has no off-diagonal part; its entry
    repeats row 1's so that every parameter is valid.
    """
    rows = [1] + list(range(1, dim))
    first = cgrad.tensor([0.5 * i for i in rows], dtype=concentration.dtype)
    second = concentration.unsqueeze(-1) + cgrad.tensor([0.5 * (dim - 1 - i) for i in rows],
                                                        dtype=concentration.dtype)
    return first, second


def _event_shape(dim):
    try:
        size = operator.index(dim)
    except TypeError:
        raise TypeError(f"cgrad.Size() takes an iterable of 'int' (item 0 is '{type(dim).__name__}')") from None
    return (size, size)


class LKJCholesky(Distribution):
    """LKJCholesky(dim, concentration=1.0): the lower Cholesky factor L of a dim x dim correlation
    matrix M = L L^T whose density is proportional to det(M)^(concentration - 1).

    Over the strictly lower entries of L (the free coordinates; the diagonal follows from the
    rows' unit length) the density is c^-1 prod_{i>=1} L_ii^(dim - i - 3 + 2 eta) (rows from 0):
    det(M) = prod L_ii^2, and the map from L to M has Jacobian prod_i L_ii^(dim - 1 - i).
    """
    arg_constraints = {"concentration": constraints.positive}
    support = constraints.corr_cholesky

    def __init__(self, dim, concentration=1.0, validate_args=None):
        if dim < 2:
            raise ValueError(f"Expected dim to be an integer greater than or equal to 2. Found dim={dim}.")
        self.dim = dim
        event_shape = _event_shape(dim)
        (self.concentration,) = broadcast_all(concentration)
        batch_shape = self.concentration.size()
        # validated even when the distribution is not, as torch's: a concentration <= 0 fails here first
        self._beta = Beta(*_onion_beta_parameters(self.concentration, event_shape[-1]))
        super().__init__(batch_shape, event_shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(LKJCholesky, _instance)
        batch_shape = cgrad.Size(batch_shape)
        new.dim = self.dim
        new.concentration = self.concentration.expand(batch_shape)
        new._beta = self._beta.expand(tuple(batch_shape) + (self._event_shape[-1],))
        Distribution.__init__(new, batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def sample(self, sample_shape=()):
        # the onion method on the factor directly: row i is sqrt(y_i) u_i, then sqrt(1 - y_i) on the diagonal
        with cgrad.no_grad():
            dim, dtype = self._event_shape[-1], self.concentration.dtype
            not_first = (cgrad.arange(dim) > 0).to(dtype)
            y = self._beta.sample(sample_shape) * not_first
            normal = cgrad.randn(tuple(self._extended_shape(sample_shape)), dtype=dtype).tril(-1)
            # row 0 is all zeros: the clamp keeps it zero instead of 0 / 0
            direction = normal / normal.norm(dim=-1, keepdim=True).clamp(min=tiny(dtype))
            return direction * y.sqrt().unsqueeze(-1) + cgrad.diag_embed((1 - y).sqrt())

    def _log_normalizer(self):
        # log of the integral of det(M)^(eta - 1) over correlation matrices (LKJ 2009, eq. 16), each
        # 2^(2b - 1) B(b, b) folded by Legendre's duplication formula into sqrt(pi) G(b) / G(b + 1/2)
        dim = self._event_shape[-1]
        rows = cgrad.arange(1, dim, dtype=self.concentration.dtype)
        beta = self.concentration.unsqueeze(-1) + 0.5 * (rows - 1)
        terms = rows * (cgrad.lgamma(beta) - cgrad.lgamma(beta + 0.5))
        return terms.sum(-1) + 0.25 * dim * (dim - 1) * math.log(math.pi)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        dim = self._event_shape[-1]
        rows = cgrad.arange(1, dim, dtype=self.concentration.dtype)
        exponent = 2 * self.concentration.unsqueeze(-1) + (dim - 3) - rows
        log_diagonal = value.diagonal(dim1=-2, dim2=-1)[..., 1:].log()
        return (exponent * log_diagonal).sum(-1) - self._log_normalizer()
