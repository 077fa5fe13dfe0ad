"""biject_to and transform_to: from a constraint to a transform whose codomain it is.

biject_to(c) is a bijection from an unconstrained space onto c, so a
distribution over its domain carries over with a log-Jacobian term (what HMC
needs); transform_to(c) only has to land in c, which admits simpler maps (what
an optimizer over constrained parameters needs). Both look up the constraint's
class, and its base classes, in a table that register() extends.
"""
import numbers

from cgrad.distributions import constraints, transforms

__all__ = ["ConstraintRegistry", "biject_to", "transform_to"]


class ConstraintRegistry:
    """A table from constraint classes to factories that take the constraint and return a transform."""

    def __init__(self):
        self._registry = {}
        super().__init__()

    def register(self, constraint, factory=None):
        """Registers factory for the class of constraint (a Constraint subclass or
        instance); without factory, returns a decorator that does."""
        if factory is None:
            return lambda factory: self.register(constraint, factory)
        if isinstance(constraint, constraints.Constraint):
            constraint = type(constraint)
        if not isinstance(constraint, type) or not issubclass(constraint, constraints.Constraint):
            raise TypeError("Expected constraint to be either a Constraint subclass or instance, "
                            f"but got {constraint}")
        self._registry[constraint] = factory
        return factory

    def __call__(self, constraint):
        for cls in type(constraint).__mro__:
            if cls in self._registry:
                return self._registry[cls](constraint)
        raise NotImplementedError(f"Cannot transform {type(constraint).__name__} constraints") from None


biject_to = ConstraintRegistry()
transform_to = ConstraintRegistry()


def _identity(constraint):
    return transforms.identity_transform


def _independent(registry):
    def factory(constraint):
        return transforms.IndependentTransform(registry(constraint.base_constraint),
                                               constraint.reinterpreted_batch_ndims)
    return factory


def _exp_then_shift(constraint):
    # x -> lower + exp(x), or upper - exp(x)
    if isinstance(constraint, constraints._LessThan):
        return transforms.ComposeTransform([transforms.ExpTransform(),
                                            transforms.AffineTransform(constraint.upper_bound, -1)])
    return transforms.ComposeTransform([transforms.ExpTransform(),
                                        transforms.AffineTransform(constraint.lower_bound, 1)])


def _sigmoid_then_scale(constraint):
    lower, upper = constraint.lower_bound, constraint.upper_bound
    exact = isinstance(lower, numbers.Number) and isinstance(upper, numbers.Number)
    if exact and lower == 0 and upper == 1:
        return transforms.SigmoidTransform()
    return transforms.ComposeTransform([transforms.SigmoidTransform(),
                                        transforms.AffineTransform(lower, upper - lower)])


def _cat(registry):
    def factory(constraint):
        return transforms.CatTransform([registry(c) for c in constraint.cseq], constraint.dim, constraint.lengths)
    return factory


def _stack(registry):
    def factory(constraint):
        return transforms.StackTransform([registry(c) for c in constraint.cseq], constraint.dim)
    return factory


for _registry in (biject_to, transform_to):
    _registry.register(constraints.real, _identity)
    _registry.register(constraints.independent, _independent(_registry))
    _registry.register(constraints.positive, _exp_then_shift)
    _registry.register(constraints.greater_than, _exp_then_shift)
    _registry.register(constraints.greater_than_eq, _exp_then_shift)
    _registry.register(constraints.less_than, _exp_then_shift)
    _registry.register(constraints.interval, _sigmoid_then_scale)
    _registry.register(constraints.half_open_interval, _sigmoid_then_scale)
    _registry.register(constraints.corr_cholesky, lambda c: transforms.CorrCholeskyTransform())
    _registry.register(constraints.cat, _cat(_registry))
    _registry.register(constraints.stack, _stack(_registry))

biject_to.register(constraints.simplex, lambda c: transforms.StickBreakingTransform())
transform_to.register(constraints.simplex, lambda c: transforms.SoftmaxTransform())
transform_to.register(constraints.lower_cholesky, lambda c: transforms.LowerCholeskyTransform())
transform_to.register(constraints.positive_definite, lambda c: transforms.PositiveDefiniteTransform())
transform_to.register(constraints.positive_semidefinite, lambda c: transforms.PositiveDefiniteTransform())
