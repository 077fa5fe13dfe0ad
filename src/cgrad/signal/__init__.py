"""cgrad.signal: PyTorch's torch.signal (its windows module)."""
from cgrad.signal import windows

__all__ = ["windows"]
