"""cgrad.backends: PyTorch's backend switches. cgrad computes with its own kernels and OpenBLAS on the CPU,
so the GPU libraries report unavailable and their flags, which code written for PyTorch sets, are kept but
change nothing."""
from cgrad.backends import cpu, cuda, cudnn, mkl, mkldnn, mps, openmp

__all__ = ["cpu", "cuda", "cudnn", "mkl", "mkldnn", "mps", "openmp"]
