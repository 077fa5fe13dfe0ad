"""cgrad.backends.mkldnn: oneDNN is not used (cgrad's own kernels and OpenBLAS are); the flag is kept."""
enabled = True


def is_available():
    return False
