# Reductions over dimensions. Included by _C.pyx.


cdef class _TensorReduce(_TensorMath):
    """Reductions over dimensions."""
    pass
