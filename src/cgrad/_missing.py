"""PyTorch functions and Tensor methods cgrad does not implement yet.

Each exists in cgrad, so that code written for PyTorch finds it, and raises
NotImplementedError when called; docs/ops.md lists them (cgrad._optable).
"""

FUNCTIONS = (
    "addbmm", "addmv", "addr", "aminmax", "argwhere", "bincount", "bitwise_left_shift",
    "bitwise_right_shift", "corrcoef", "cov", "det", "diag_embed", "diagflat", "diagonal",
    "diagonal_scatter", "dist", "dsplit", "frexp", 
    "heaviside", "histc", "hsplit", "inner", "inverse", "kron", 
    "logdet", "matrix_exp", "matrix_power", "msort", 
    "nanmedian", "nanquantile", "nextafter", "pinverse", "prelu", "quantile", "rot90",
    "scatter_reduce", "select_scatter", "slice_scatter", "slogdet", "take_along_dim",
    "tensor_split", "trace", "unique_consecutive", "vdot", "vsplit",
)

# Tensor methods; each has a line in the Tensor class of _C.pyx
METHODS = (
    "addbmm", "addbmm_", "addmv", "addmv_", "addr", "addr_", "aminmax", "argwhere", "bincount",
    "bitwise_left_shift", "bitwise_left_shift_",
    "bitwise_right_shift", "bitwise_right_shift_", "cauchy_", "corrcoef", "cov",
    "det", "diag_embed", "diagflat", "diagonal", "diagonal_scatter", "dist", "dsplit",
    "exponential_", "fill_diagonal_", "frexp", 
    "geometric_", "heaviside", "heaviside_", "histc", "hsplit", "inner", "inverse", 
    "kron", "log_normal_", 
    "logdet", "matrix_exp", "matrix_power",
    "msort", "nanmedian", "nanquantile", "nextafter", "pinverse", 
    "prelu", "quantile", "random_", "rot90", "scatter_reduce", "scatter_reduce_", "select_scatter",
    "slice_scatter", "slogdet", "squeeze_", "swapaxes_", "swapdims_", "t_", "take_along_dim",
    "tensor_split", "trace", "transpose_", "unfold", "unique_consecutive", "unsqueeze_", "vdot", "vsplit",
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
