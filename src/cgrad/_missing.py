"""PyTorch functions and Tensor methods cgrad does not implement yet.

Each exists in cgrad, so that code written for PyTorch finds it, and raises
NotImplementedError when called; docs/ops.md lists them (cgrad._optable).
"""

FUNCTIONS = ("frexp",)

# Tensor methods; each has a line in the Tensor class of _C.pyx
METHODS = ("frexp",)

# Tensor methods converting to dtypes cgrad has no tensors of; each has a line in the Tensor class of _C.pyx
# and raises NotImplementedError naming its dtype (see _dtype.pxi)
DTYPE_METHODS = ("int", "short", "char", "byte", "half", "bfloat16", "chalf", "cfloat", "cdouble")

# cgrad.linalg functions whose results would be complex, a dtype cgrad lacks;
# each is defined in linalg.py and raises NotImplementedError
LINALG = ("eig", "eigvals")

# functions and Tensor methods whose results or inputs are complex: cgrad.stft / istft (cgrad.functional) and
# the methods of the same names raise NotImplementedError, as do cgrad.fft's transforms (cgrad.fft.TRANSFORMS)
COMPLEX = ("stft", "istft")
# cgrad.jit names that would compile or serialize a TorchScript program; each raises
# NotImplementedError naming cgrad.compile (kept equal to cgrad.jit.NOT_IMPLEMENTED)
JIT = ("script", "trace", "trace_module", "save", "load", "freeze", "optimize_for_inference", "ScriptModule",
       "ScriptFunction", "CompilationUnit")


def not_implemented(name):
    return NotImplementedError(f"{name} is not implemented in cgrad yet (docs/ops.md lists what is)")


def no_complex(name):
    return NotImplementedError(f"{name} computes complex tensors, and cgrad has no complex dtypes "
                               f"(docs/ops.md lists what is not implemented)")


def function(name):
    """cgrad.<name>: raises NotImplementedError."""
    def missing(*args, **kwargs):
        raise not_implemented(f"cgrad.{name}")
    missing.__name__ = missing.__qualname__ = name
    missing.__doc__ = "Not implemented in cgrad yet: calling it raises NotImplementedError."
    return missing
