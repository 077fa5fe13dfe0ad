"""PyTorch functions and Tensor methods cgrad does not implement yet.

Each exists in cgrad, so that code written for PyTorch finds it, and raises
NotImplementedError when called; docs/ops.md lists them (cgrad._optable).
"""

FUNCTIONS = (
    "bitwise_left_shift", "bitwise_right_shift", "copysign", "digamma", "float_power", "fmax", "fmin",
    "frexp", "gcd", "heaviside", "i0", "lcm", "ldexp", "lgamma", "logaddexp2", "logit", "mvlgamma",
    "nextafter", "polygamma", "signbit",
)

# Tensor methods; each has a line in the Tensor class of _C.pyx
METHODS = (
    "bitwise_and_", "bitwise_left_shift", "bitwise_left_shift_", "bitwise_or_", "bitwise_right_shift",
    "bitwise_right_shift_", "bitwise_xor_", "copysign", "copysign_", "digamma", "digamma_", "float_power",
    "float_power_", "fmax", "fmin", "frexp", "gcd", "gcd_", "heaviside", "heaviside_", "i0", "i0_", "lcm",
    "lcm_", "ldexp", "ldexp_", "lgamma", "lgamma_", "logaddexp2", "logical_and_", "logical_or_",
    "logical_xor_", "logit", "logit_", "mvlgamma", "nextafter", "polygamma", "signbit",
)


def not_implemented(name):
    return NotImplementedError(f"{name} is not implemented in cgrad yet (docs/ops.md lists what is)")


def function(name):
    """cgrad.<name>: raises NotImplementedError."""
    def missing(*args, **kwargs):
        raise not_implemented(f"cgrad.{name}")
    missing.__name__ = missing.__qualname__ = name
    missing.__doc__ = "Not implemented in cgrad yet: calling it raises NotImplementedError."
    return missing
