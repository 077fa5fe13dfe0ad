"""The Wishart distribution over symmetric positive-definite matrices."""
import math
import numbers
import warnings

import cgrad
from cgrad.distributions import constraints
from cgrad.distributions.chi2 import Chi2
from cgrad.distributions.exp_family import ExponentialFamily
from cgrad.distributions.multivariate_normal import _precision_to_scale_tril
from cgrad.distributions.utils import lazy_property

__all__ = ["Wishart"]

_DEFAULT_MAX_TRY_CORRECTION = 3


def _precision_from_scale_tril(lower):
    """(L L^T)^-1 from the inverse of the whole of L, not a triangular solve: as torch's, the
    gradient reaches L's upper triangle too."""
    inverse = cgrad.linalg.inv(lower)
    return inverse.mT @ inverse


def _multivariate_digamma(x, p):
    """d/dx log Gamma_p(x) = sum_{i<p} digamma(x - i/2)."""
    offsets = cgrad.arange(p, dtype=x.dtype) * 0.5
    return cgrad.digamma(x.unsqueeze(-1) - offsets).sum(-1)


class Wishart(ExponentialFamily):
    """Wishart(df, covariance_matrix=None, precision_matrix=None, scale_tril=None): the law of
    sum_k x_k x_k^T for df independent N(0, Sigma) vectors x_k, extended to real df > p - 1.

    Density on p x p positive-definite X:
        |X|^((df - p - 1) / 2) exp(-tr(Sigma^-1 X) / 2) / (2^(df p / 2) |Sigma|^(df / 2) Gamma_p(df / 2)).
    Samples use Bartlett's decomposition: X = L A A^T L^T with L L^T = Sigma and A lower
    triangular, A_ii^2 ~ Chi2(df - i) and A_ij ~ N(0, 1) below the diagonal; rsample
    differentiates through the chi-squared draws.
    """
    support = constraints.positive_definite
    has_rsample = True
    _mean_carrier_measure = 0

    def __init__(self, df, covariance_matrix=None, precision_matrix=None, scale_tril=None, validate_args=None):
        given = [m for m in (covariance_matrix, precision_matrix, scale_tril) if m is not None]
        if len(given) != 1:
            raise AssertionError("Exactly one of covariance_matrix or precision_matrix or scale_tril may be "
                                 "specified.")
        name = ("scale_tril" if scale_tril is not None else
                "covariance_matrix" if covariance_matrix is not None else "precision_matrix")
        matrix = given[0]
        if matrix.dim() < 2:
            raise ValueError("scale_tril must be at least two-dimensional, with optional leading batch dimensions")
        if isinstance(df, numbers.Number):
            batch_shape = tuple(matrix.shape[:-2])
            self.df = cgrad.tensor(df, dtype=matrix.dtype)
        else:
            batch_shape = tuple(cgrad.broadcast_shapes(matrix.shape[:-2], df.shape))
            self.df = df.expand(batch_shape)
        event_shape = tuple(matrix.shape[-2:])
        p = event_shape[-1]
        if (self.df <= p - 1).any():
            raise ValueError(f"Value of df={df} expected to be greater than ndim - 1 = {p - 1}.")
        if (self.df < p).any():
            warnings.warn("Low df values detected. Singular samples are highly likely to occur for ndim - 1 < df "
                          "< ndim.", stacklevel=2)
        setattr(self, name, matrix.expand(batch_shape + (-1, -1)))
        super().__init__(batch_shape, event_shape, validate_args=validate_args)
        self._batch_dims = [-(i + 1) for i in range(len(batch_shape))]
        if scale_tril is not None:
            self._unbroadcasted_scale_tril = scale_tril
        elif covariance_matrix is not None:
            self._unbroadcasted_scale_tril = cgrad.linalg.cholesky(covariance_matrix)
        else:
            self._unbroadcasted_scale_tril = _precision_to_scale_tril(precision_matrix)
        # the squared diagonal of Bartlett's factor; validated even when the distribution is not, as torch's
        self._dist_chi2 = Chi2(df=self.df.expand(batch_shape).unsqueeze(-1) - cgrad.arange(p, dtype=self.df.dtype))

    @property
    def arg_constraints(self):
        return {
            "covariance_matrix": constraints.positive_definite,
            "precision_matrix": constraints.positive_definite,
            "scale_tril": constraints.lower_cholesky,
            "df": constraints.greater_than(self._event_shape[-1] - 1),
        }

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Wishart, _instance)
        batch_shape = cgrad.Size(batch_shape)
        matrix_shape = tuple(batch_shape) + tuple(self._event_shape)
        new._unbroadcasted_scale_tril = self._unbroadcasted_scale_tril.expand(matrix_shape)
        new.df = self.df.expand(batch_shape)
        new._batch_dims = [-(i + 1) for i in range(len(batch_shape))]
        for name in ("covariance_matrix", "scale_tril", "precision_matrix"):
            if name in self.__dict__:
                setattr(new, name, getattr(self, name).expand(matrix_shape))
        p = self._event_shape[-1]
        new._dist_chi2 = self._dist_chi2.expand(tuple(batch_shape) + (p,))
        ExponentialFamily.__init__(new, batch_shape, self._event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def _matrix_shape(self):
        return tuple(self._batch_shape) + tuple(self._event_shape)

    @lazy_property
    def scale_tril(self):
        return self._unbroadcasted_scale_tril.expand(self._matrix_shape())

    @lazy_property
    def covariance_matrix(self):
        lower = self._unbroadcasted_scale_tril
        return (lower @ lower.mT).expand(self._matrix_shape())

    @lazy_property
    def precision_matrix(self):
        return _precision_from_scale_tril(self._unbroadcasted_scale_tril).expand(self._matrix_shape())

    def _df_matrix(self):
        return self.df.unsqueeze(-1).unsqueeze(-1)

    @property
    def mean(self):
        return self._df_matrix() * self.covariance_matrix

    @property
    def mode(self):
        # (df - p - 1) Sigma where the density has a maximum, df > p + 1; undefined (nan) elsewhere
        factor = self.df - self._event_shape[-1] - 1
        factor = cgrad.where(factor > 0, factor, cgrad.full_like(factor, math.nan))
        return factor.unsqueeze(-1).unsqueeze(-1) * self.covariance_matrix

    @property
    def variance(self):
        # Var X_ij = df (Sigma_ij^2 + Sigma_ii Sigma_jj)
        covariance = self.covariance_matrix
        diagonal = covariance.diagonal(dim1=-2, dim2=-1)
        return self._df_matrix() * (covariance.pow(2) + diagonal.unsqueeze(-1) * diagonal.unsqueeze(-2))

    def _bartlett_sample(self, sample_shape):
        chi2 = self._dist_chi2.rsample(sample_shape)
        noise = cgrad.randn(tuple(self._extended_shape(sample_shape)), dtype=chi2.dtype).tril(-1)
        factor = self._unbroadcasted_scale_tril @ (noise + cgrad.diag_embed(chi2.sqrt()))
        return factor @ factor.mT

    def rsample(self, sample_shape=(), max_try_correction=None):
        """A reparameterized sample by Bartlett's decomposition.

        Rounding can make a draw singular when df is close to p - 1 (a chi-squared draw with few
        degrees of freedom underflows); then it warns, and redraws the samples that fail the
        positive-definite check, at most max_try_correction times (3 by default). Samples still
        singular after that are returned as they are, and their log_prob may be -inf.
        """
        if max_try_correction is None:
            max_try_correction = _DEFAULT_MAX_TRY_CORRECTION
        sample = self._bartlett_sample(sample_shape)
        singular = ~self.support.check(sample.detach())
        if singular.any():
            warnings.warn("Singular sample detected.", stacklevel=2)
            for _ in range(max_try_correction):
                redrawn = self._bartlett_sample(sample_shape)
                sample = cgrad.where(singular.unsqueeze(-1).unsqueeze(-1), redrawn, sample)
                singular = singular & ~self.support.check(redrawn.detach())
                if not singular.any():
                    break
        return sample

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        df, p = self.df, self._event_shape[-1]
        trace = (_precision_from_scale_tril(self._unbroadcasted_scale_tril) * value).sum((-2, -1))
        half_log_det = self._unbroadcasted_scale_tril.diagonal(dim1=-2, dim2=-1).log().sum(-1)
        return (-df * (0.5 * p * math.log(2) + half_log_det) - cgrad.mvlgamma(0.5 * df, p)
                + 0.5 * (df - p - 1) * cgrad.linalg.slogdet(value).logabsdet - 0.5 * trace)

    def entropy(self):
        df, p = self.df, self._event_shape[-1]
        half_log_det = self._unbroadcasted_scale_tril.diagonal(dim1=-2, dim2=-1).log().sum(-1)
        return ((p + 1) * half_log_det + 0.5 * p * (p + 1) * math.log(2) + cgrad.mvlgamma(0.5 * df, p)
                - 0.5 * (df - p - 1) * _multivariate_digamma(0.5 * df, p) + 0.5 * df * p)

    @property
    def _natural_params(self):
        # sufficient statistics (X, log|X|)
        return -0.5 * self.precision_matrix, 0.5 * (self.df - self._event_shape[-1] - 1)

    def _log_normalizer(self, x, y):
        # with Sigma = (-2 x)^-1 and df = 2 y + p + 1: df / 2 (p log 2 + log|Sigma|) + log Gamma_p(df / 2)
        p = self._event_shape[-1]
        half_df = y + 0.5 * (p + 1)
        return half_df * (p * math.log(2) - cgrad.linalg.slogdet(-2 * x).logabsdet) + cgrad.mvlgamma(half_df, p)
