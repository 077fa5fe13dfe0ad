# Indexing, gathering, scattering, joining. Included by _C.pyx.


cdef class _TensorIndex(_TensorShape):
    """Indexing, gathering, scattering, joining."""
    pass
