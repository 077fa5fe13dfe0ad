# Fused neural-network kernels. Included by _C.pyx.


cdef class _TensorNN(_TensorIndex):
    """Fused neural-network kernels."""
    pass
