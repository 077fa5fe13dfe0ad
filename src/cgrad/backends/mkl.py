"""cgrad.backends.mkl: MKL is not used (OpenBLAS is)."""


def is_available():
    return False
