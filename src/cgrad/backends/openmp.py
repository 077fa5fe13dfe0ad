"""cgrad.backends.openmp: OpenMP is not used (cgrad runs its kernels on the calling thread)."""


def is_available():
    return False
