# Views and copies that change shape. Included by _C.pyx.


cdef class _TensorShape(_TensorReduce):
    """Views and copies that change shape."""
    pass
