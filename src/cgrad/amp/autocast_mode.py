"""Autocast: PyTorch's automatic mixed precision regions.

Autocast runs chosen ops in a lower precision: float16 or bfloat16 on CUDA,
bfloat16 (or float16) on the CPU. cgrad has neither device nor dtype, so a
region asked for on another device is disabled with PyTorch's warning (as
PyTorch does where that device is missing), one asked for in a dtype autocast
does not support is disabled likewise, and a real CPU region raises
NotImplementedError rather than run in a precision it was not asked for.
"""
import functools
import warnings

from cgrad import _C

__all__ = ["autocast", "custom_bwd", "custom_fwd", "is_autocast_available"]


def is_autocast_available(device_type):
    """Whether autocast knows device_type (PyTorch's answer: True for the CPU and CUDA)."""
    return device_type in ("cpu", "cuda", "xpu", "mps", "hpu", "xla", "mtia", "maia", "ipu", "privateuseone")


class autocast:
    """A region (context manager or decorator) whose ops would run in lower precision; see the module's note."""

    def __init__(self, device_type, dtype=None, enabled=True, cache_enabled=None):
        if not isinstance(device_type, str):
            raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
        kind = _C.device(device_type).type
        self.device = kind
        self.fast_dtype = dtype
        self._cache_enabled = cache_enabled
        self._enabled = bool(enabled)
        if not self._enabled:
            return
        if kind == "cpu":
            if dtype is None or dtype in (_C.bfloat16, _C.float16):
                raise NotImplementedError("autocast on the CPU runs ops in bfloat16 or float16, dtypes cgrad lacks")
            warnings.warn("In CPU autocast, but the target dtype is not supported. Disabling autocast.\n"
                          "CPU Autocast only supports dtypes of torch.bfloat16, torch.float16 currently.")
        elif kind == "cuda":
            warnings.warn("CUDA is not available or torch_xla is imported. Disabling autocast.")
        else:
            warnings.warn(f"User provided device_type of '{kind}', but {kind} is not available. Disabling autocast.")
        self._enabled = False

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc_val, exc_tb):
        return False

    def __call__(self, func):
        @functools.wraps(func)
        def decorate_autocast(*args, **kwargs):
            with self:
                return func(*args, **kwargs)
        return decorate_autocast


def custom_fwd(fwd=None, *, device_type, cast_inputs=None):
    """Decorates a custom Function's forward to run under the autocast state of its call. No autocast region
    is ever enabled in cgrad, so the forward runs as written (cast_inputs casts only inside one)."""
    if not isinstance(device_type, str):
        raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
    if fwd is None:
        return functools.partial(custom_fwd, device_type=device_type, cast_inputs=cast_inputs)
    return fwd


def custom_bwd(bwd=None, *, device_type):
    """Decorates a custom Function's backward to run under its forward's autocast state (never enabled here)."""
    if not isinstance(device_type, str):
        raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
    if bwd is None:
        return functools.partial(custom_bwd, device_type=device_type)
    return bwd


def is_autocast_enabled(device_type=None):
    """Whether an autocast region is on: never, in cgrad (see the module's note)."""
    if device_type is not None:
        _C.device(device_type)
    return False
