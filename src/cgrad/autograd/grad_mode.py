"""Grad mode: whether operations record the graph (a per-thread flag in C).

The context managers are compiled with the core (src/cgrad/_C.pyx): each is
also a decorator, and no_grad and enable_grad work bare (`@no_grad`)."""
from cgrad import _C
from cgrad._C import enable_grad, inference_mode, no_grad, set_grad_enabled

__all__ = ["enable_grad", "inference_mode", "is_grad_enabled", "no_grad", "set_grad_enabled"]


def is_grad_enabled():
    return _C._is_grad_enabled()
