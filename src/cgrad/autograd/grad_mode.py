"""Grad mode: whether operations record the graph (a per-thread flag in C).

The context managers are compiled with the core (src/cgrad/_C.pyx): each is
also a decorator, and no_grad and enable_grad work bare (`@no_grad`)."""
from cgrad import _C
from cgrad._C import enable_grad, inference_mode, no_grad, set_grad_enabled

__all__ = ["enable_grad", "inference_mode", "is_grad_enabled", "no_grad", "set_grad_enabled",
           "is_multithreading_enabled", "set_multithreading_enabled"]


def is_grad_enabled():
    return _C._is_grad_enabled()


# cgrad's backward always runs on the calling thread; the flag is kept, per thread, so code that sets and reads
# it behaves as with PyTorch on a CPU.
_multithreading = __import__("threading").local()


def is_multithreading_enabled():
    return getattr(_multithreading, "enabled", True)


class set_multithreading_enabled:
    """Sets whether backward may use worker threads (a per-thread flag) when constructed, and restores the
    previous value on leaving a `with` block; also a decorator, as PyTorch's."""

    def __init__(self, mode):
        if not isinstance(mode, bool):
            raise TypeError(f"set_multithreading_enabled(): argument 'enabled' (position 1) must be bool, not "
                            f"{type(mode).__name__}")
        self.prev = is_multithreading_enabled()
        self.mode = mode
        _multithreading.enabled = mode

    def __enter__(self):
        return None

    def __exit__(self, exc_type, exc_value, traceback):
        _multithreading.enabled = self.prev

    def clone(self):
        return self.__class__(self.mode)

    def __call__(self, fn):
        import functools

        @functools.wraps(fn)
        def run(*args, **kwargs):
            with self.clone():
                return fn(*args, **kwargs)
        return run
