"""cgrad.cpu: PyTorch's CPU device module; the CPU is cgrad's one device."""
from cgrad.cpu import amp

__all__ = ["amp", "current_device", "device_count", "is_available", "is_initialized", "set_device", "synchronize"]


def is_available():
    return True


def is_initialized():
    return True


def device_count():
    return 1


def current_device():
    return "cpu"


def set_device(device):
    """There is one CPU device: nothing to select."""


def synchronize(device=None):
    """The CPU's work is done when an op returns: nothing to wait for."""
