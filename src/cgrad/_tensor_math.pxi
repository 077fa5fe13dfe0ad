# Element-wise math and comparisons. Included by _C.pyx.


cdef class _TensorMath(_TensorBase):
    """Element-wise math and comparisons."""
    pass
