"""The chi-squared distribution."""
import cgrad
from cgrad.distributions import constraints
from cgrad.distributions.gamma import Gamma

__all__ = ["Chi2"]


class Chi2(Gamma):
    """Chi2(df): the sum of df squared standard normals, Gamma(df / 2, 1 / 2)."""
    arg_constraints = {"df": constraints.positive}

    def __init__(self, df, validate_args=None):
        df = df if isinstance(df, cgrad.Tensor) else cgrad.tensor(df, dtype=cgrad.get_default_dtype())
        super().__init__(0.5 * df, cgrad.full_like(df, 0.5), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Chi2, _instance)
        return super().expand(batch_shape, new)

    @property
    def df(self):
        return self.concentration * 2
