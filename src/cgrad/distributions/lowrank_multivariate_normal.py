"""The multivariate normal distribution with a low-rank-plus-diagonal covariance."""
import math

import cgrad
from cgrad.distributions import constraints
from cgrad.distributions.distribution import Distribution
from cgrad.distributions.multivariate_normal import _tril_inverse
from cgrad.distributions.utils import cholesky, lazy_property, standard_normal

__all__ = ["LowRankMultivariateNormal"]


def _capacitance_tril(factor, diag):
    """The Cholesky factor of the capacitance matrix I + W^T D^-1 W, which the
    Woodbury identity and the matrix determinant lemma reduce Sigma = W W^T + D to."""
    m = factor.size(-1)
    scaled = factor.mT / diag.unsqueeze(-2)
    capacitance = scaled @ factor
    capacitance = capacitance + cgrad.eye(m, dtype=factor.dtype)
    return cholesky(capacitance)


def _log_det(factor, diag, capacitance_tril):
    """log det(W W^T + D) = 2 log det L_C + sum log D."""
    return 2 * capacitance_tril.diagonal(dim1=-2, dim2=-1).log().sum(-1) + diag.log().sum(-1)


def _mahalanobis(factor, diag, capacitance_tril, x):
    """x^T (W W^T + D)^-1 x = x^T D^-1 x - |L_C^-1 W^T D^-1 x|^2."""
    scaled = x / diag
    projected = (_tril_inverse(capacitance_tril) @ (factor.mT @ scaled.unsqueeze(-1))).squeeze(-1)
    return (x * scaled).sum(-1) - projected.pow(2).sum(-1)


class LowRankMultivariateNormal(Distribution):
    """LowRankMultivariateNormal(loc, cov_factor, cov_diag): the normal distribution
    over vectors with mean loc and covariance cov_factor cov_factor^T + diag(cov_diag)."""
    arg_constraints = {
        "loc": constraints.real_vector,
        "cov_factor": constraints.independent(constraints.real, 2),
        "cov_diag": constraints.independent(constraints.positive, 1),
    }
    support = constraints.real_vector
    has_rsample = True

    def __init__(self, loc, cov_factor, cov_diag, validate_args=None):
        if loc.dim() < 1:
            raise ValueError("loc must be at least one-dimensional.")
        event_shape = cgrad.Size(loc.shape[-1:])
        if cov_factor.dim() < 2:
            raise ValueError("cov_factor must be at least two-dimensional, with optional leading batch dimensions")
        if cov_factor.shape[-2:-1] != event_shape:
            raise ValueError(f"cov_factor must be a batch of matrices with shape {event_shape[0]} x m")
        if cov_diag.shape[-1:] != event_shape:
            raise ValueError(f"cov_diag must be a batch of vectors with shape {event_shape}")
        try:
            loc_, self.cov_factor, cov_diag_ = cgrad.broadcast_tensors(loc.unsqueeze(-1), cov_factor,
                                                                       cov_diag.unsqueeze(-1))
        except RuntimeError as e:
            raise ValueError(f"Incompatible batch shapes: loc {loc.shape}, cov_factor {cov_factor.shape}, "
                             f"cov_diag {cov_diag.shape}") from e
        self.loc = loc_[..., 0]
        self.cov_diag = cov_diag_[..., 0]
        batch_shape = self.loc.shape[:-1]
        self._unbroadcasted_cov_factor = cov_factor
        self._unbroadcasted_cov_diag = cov_diag
        self._capacitance_tril = _capacitance_tril(cov_factor, cov_diag)
        super().__init__(batch_shape, event_shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(LowRankMultivariateNormal, _instance)
        batch_shape = cgrad.Size(batch_shape)
        loc_shape = tuple(batch_shape) + tuple(self.event_shape)
        new.loc = self.loc.expand(loc_shape)
        new.cov_diag = self.cov_diag.expand(loc_shape)
        new.cov_factor = self.cov_factor.expand(loc_shape + tuple(self.cov_factor.shape[-1:]))
        new._unbroadcasted_cov_factor = self._unbroadcasted_cov_factor
        new._unbroadcasted_cov_diag = self._unbroadcasted_cov_diag
        new._capacitance_tril = self._capacitance_tril
        Distribution.__init__(new, batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def _matrix_shape(self):
        return tuple(self._batch_shape) + tuple(self._event_shape) * 2

    @property
    def mean(self):
        return self.loc

    @property
    def mode(self):
        return self.loc

    @lazy_property
    def variance(self):
        variance = self._unbroadcasted_cov_factor.pow(2).sum(-1) + self._unbroadcasted_cov_diag
        return variance.expand(tuple(self._batch_shape + self._event_shape))

    @lazy_property
    def covariance_matrix(self):
        factor = self._unbroadcasted_cov_factor
        covariance = factor @ factor.mT + cgrad.diag_embed(self._unbroadcasted_cov_diag)
        return covariance.expand(self._matrix_shape())

    @lazy_property
    def scale_tril(self):
        factor = self._unbroadcasted_cov_factor
        covariance = factor @ factor.mT + cgrad.diag_embed(self._unbroadcasted_cov_diag)
        return cholesky(covariance).expand(self._matrix_shape())

    @lazy_property
    def precision_matrix(self):
        # Woodbury: D^-1 - D^-1 W C^-1 W^T D^-1, with C^-1 = L_C^-T L_C^-1
        factor = self._unbroadcasted_cov_factor
        inverse_diag = self._unbroadcasted_cov_diag.reciprocal()
        right = _tril_inverse(self._capacitance_tril) @ (factor.mT * inverse_diag.unsqueeze(-2))
        precision = cgrad.diag_embed(inverse_diag) - right.mT @ right
        return precision.expand(self._matrix_shape())

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        factor_shape = tuple(shape[:-1]) + tuple(self.cov_factor.shape[-1:])
        noise_factor = standard_normal(factor_shape, self.loc.dtype)
        noise_diag = standard_normal(shape, self.loc.dtype)
        return (self.loc + (self._unbroadcasted_cov_factor @ noise_factor.unsqueeze(-1)).squeeze(-1)
                + self._unbroadcasted_cov_diag.sqrt() * noise_diag)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        diff = value - self.loc
        distance = _mahalanobis(self._unbroadcasted_cov_factor, self._unbroadcasted_cov_diag,
                                self._capacitance_tril, diff)
        log_det = _log_det(self._unbroadcasted_cov_factor, self._unbroadcasted_cov_diag, self._capacitance_tril)
        return -0.5 * (self._event_shape[0] * math.log(2 * math.pi) + log_det + distance)

    def entropy(self):
        log_det = _log_det(self._unbroadcasted_cov_factor, self._unbroadcasted_cov_diag, self._capacitance_tril)
        entropy = 0.5 * (self._event_shape[0] * (1.0 + math.log(2 * math.pi)) + log_det)
        if len(self._batch_shape) == 0:
            return entropy
        return entropy.expand(tuple(self._batch_shape))
