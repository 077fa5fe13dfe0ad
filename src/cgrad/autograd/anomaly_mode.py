"""Anomaly mode: find the forward op behind a failing backward.

While it is on, every new graph node keeps the Python stack where it was made.
When a node's backward fails, or returns NaN (with check_nan), the error names
the node, and the stack of the forward call that made it is shown as PyTorch
shows it (a UserWarning) and attached to the exception as a note.
"""
import functools
import warnings

from cgrad import _C

__all__ = ["detect_anomaly", "set_detect_anomaly", "is_anomaly_enabled", "is_anomaly_check_nan_enabled"]


def is_anomaly_enabled():
    return _C._is_anomaly_enabled()


def is_anomaly_check_nan_enabled():
    return _C._is_anomaly_check_nan_enabled()


def set_anomaly_enabled(mode, check_nan=True):
    _C._set_anomaly_enabled(bool(mode), bool(check_nan))


class detect_anomaly:
    """A context manager (and decorator) that turns anomaly detection on."""

    def __init__(self, check_nan=True):
        self.prev = is_anomaly_enabled()
        self.check_nan = check_nan
        self.prev_check_nan = is_anomaly_check_nan_enabled()
        warnings.warn("Anomaly Detection has been enabled. This mode will increase the runtime and should only "
                      "be enabled for debugging.", stacklevel=2)

    def __enter__(self):
        set_anomaly_enabled(True, self.check_nan)

    def __exit__(self, *args):
        set_anomaly_enabled(self.prev, self.prev_check_nan)
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.__class__(self.check_nan):
                return fn(*args, **kwargs)

        return wrapper


class set_detect_anomaly:
    """Turns anomaly detection on or off: at once when called, and back to the
    previous state at the end of a `with` block."""

    def __init__(self, mode, check_nan=True):
        self.prev = is_anomaly_enabled()
        self.prev_check_nan = is_anomaly_check_nan_enabled()
        set_anomaly_enabled(mode, check_nan)

    def __enter__(self):
        return None

    def __exit__(self, *args):
        set_anomaly_enabled(self.prev, self.prev_check_nan)
        return False
