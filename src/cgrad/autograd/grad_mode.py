"""Grad mode: whether operations record the graph (a per-thread flag in C)."""
import functools

from cgrad import _C


class _GradMode:
    """A context manager that is also a decorator, setting grad mode to `_mode`."""

    _mode = None

    def __new__(cls, *args, **kwargs):
        if len(args) == 1 and callable(args[0]) and not kwargs and cls in (no_grad, enable_grad):
            return cls()(args[0])  # used as a bare decorator: @no_grad
        return super().__new__(cls)

    def __enter__(self):
        self._prev = _C._is_grad_enabled()
        _C._set_grad_enabled(self._mode)
        return None

    def __exit__(self, *exc):
        _C._set_grad_enabled(self._prev)
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.__class__():
                return fn(*args, **kwargs)

        return wrapper


class no_grad(_GradMode):
    """Operations inside do not record the graph."""

    _mode = False


class enable_grad(_GradMode):
    """Operations inside record the graph, even within no_grad."""

    _mode = True


class inference_mode(_GradMode):
    """Like no_grad (cgrad has no separate inference tensors)."""

    def __init__(self, mode=True):
        self._mode = not mode

    def __call__(self, fn):
        mode = self._mode

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with inference_mode(not mode):
                return fn(*args, **kwargs)

        return wrapper


class set_grad_enabled(_GradMode):
    """Sets grad mode on or off; as a function call it takes effect at once."""

    def __init__(self, mode):
        self._prev = _C._is_grad_enabled()
        self._mode = bool(mode)
        _C._set_grad_enabled(self._mode)

    def __enter__(self):
        return None

    def __exit__(self, *exc):
        _C._set_grad_enabled(self._prev)
        return False

    def __call__(self, fn):
        _C._set_grad_enabled(self._prev)
        mode = self._mode

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(mode):
                return fn(*args, **kwargs)

        return wrapper


def is_grad_enabled():
    return _C._is_grad_enabled()
