"""Process-wide settings PyTorch scripts set: deterministic algorithms, warn-always, the default device,
float32 matmul precision, denormal flushing, inter-op threads."""
import warnings
__all__ = [
    "are_deterministic_algorithms_enabled", "get_default_device", "get_deterministic_debug_mode",
    "is_deterministic_algorithms_warn_only_enabled", "is_warn_always_enabled", "set_default_device",
    "set_deterministic_debug_mode", "set_warn_always", "typename", "use_deterministic_algorithms",
    "get_float32_matmul_precision", "set_float32_matmul_precision", "set_flush_denormal",
    "get_num_interop_threads", "set_num_interop_threads",
]

_deterministic = False
_warn_only = False
_warn_always = False
_DEBUG_MODES = {"default": 0, "warn": 1, "error": 2}


def use_deterministic_algorithms(mode, *, warn_only=False):
    """Asks for deterministic algorithms only. Every cgrad kernel is deterministic (the same inputs
    and thread count give the same bits), so the setting is recorded and nothing else changes."""
    global _deterministic, _warn_only
    if not isinstance(mode, bool):
        raise TypeError(f"_set_deterministic_algorithms(): argument 'mode' (position 1) must be bool, not "
                        f"{type(mode).__name__}")
    if not isinstance(warn_only, bool):
        raise TypeError(f"_set_deterministic_algorithms(): argument 'warn_only' must be bool, not "
                        f"{type(warn_only).__name__}")
    _deterministic, _warn_only = mode, warn_only


def are_deterministic_algorithms_enabled():
    return _deterministic


def is_deterministic_algorithms_warn_only_enabled():
    return _warn_only


def set_deterministic_debug_mode(debug_mode):
    """0 or "default", 1 or "warn", 2 or "error": use_deterministic_algorithms by a number."""
    if isinstance(debug_mode, str):
        if debug_mode not in _DEBUG_MODES:
            raise RuntimeError(f"invalid value of debug_mode, expected one of `default`, `warn`, `error`, "
                               f"but got {debug_mode}")
        debug_mode = _DEBUG_MODES[debug_mode]
    elif not isinstance(debug_mode, int) or isinstance(debug_mode, bool):
        raise TypeError(f"debug_mode must be str or int, but got {type(debug_mode)}")
    if debug_mode not in (0, 1, 2):
        raise RuntimeError(f"invalid value of debug_mode, expected 0, 1, or 2, but got {debug_mode}")
    use_deterministic_algorithms(debug_mode != 0, warn_only=debug_mode == 1)


def get_deterministic_debug_mode():
    return 0 if not _deterministic else 1 if _warn_only else 2


def set_warn_always(b):
    """Records PyTorch's warn-always flag (cgrad's warnings go through Python's warnings module,
    whose filters decide how often they show)."""
    global _warn_always
    _warn_always = bool(b)


def is_warn_always_enabled():
    return _warn_always


def get_default_device():
    """The device new tensors go to: the CPU, unless set_default_device or `with cgrad.device(...)` named
    another, on which factories then fail."""
    from cgrad._C import _get_default_device
    return _get_default_device()


def set_default_device(device):
    """Makes device (None: the CPU) where factories put new tensors; only the CPU can hold them."""
    from cgrad._C import _set_default_device
    _set_default_device(device)


def typename(obj):
    """The type of obj as PyTorch names it: Tensor.type() for a tensor, else the qualified name."""
    from cgrad._C import Tensor
    if isinstance(obj, Tensor):
        return obj.type()
    module = getattr(obj, "__module__", "") or ""
    if hasattr(obj, "__qualname__"):
        qualname = obj.__qualname__
    elif hasattr(obj, "__name__"):
        qualname = obj.__name__
    else:
        module = type(obj).__module__ or ""
        qualname = type(obj).__qualname__
    if module in ("", "builtins"):
        return qualname
    return f"{module}.{qualname}"


_matmul_precision = "highest"
_interop_threads = None  # None: not set, and no inter-op work has run


def set_float32_matmul_precision(precision):
    """Records the precision float32 matmuls may use. cgrad's BLAS has no reduced-precision (TF32 or
    bfloat16) path on the CPU, so every precision computes as "highest"."""
    global _matmul_precision
    if not isinstance(precision, str):
        raise RuntimeError(f"set_float32_matmul_precision expects a str, but got {type(precision).__name__}")
    if precision not in ("highest", "high", "medium"):
        warnings.warn(f"{precision} is not one of 'highest', 'high', or 'medium'; the current"
                      f"setFloat32MatmulPrecision call has no effect.", UserWarning, stacklevel=2)
        return
    _matmul_precision = precision


def get_float32_matmul_precision():
    return _matmul_precision


def set_flush_denormal(mode):
    """Whether denormal floats are flushed to zero: not supported by cgrad (its kernels run on threads
    whose floating-point control words it does not set), so it returns False and changes nothing, as
    PyTorch does on a CPU without the feature."""
    if not isinstance(mode, bool):
        raise RuntimeError(f"flush_denormal expects a bool, but got {type(mode).__name__}")
    return False


def get_num_interop_threads():
    """The size of the pool for inter-op parallelism: cgrad runs ops one after another on the calling
    thread, so this is only the number set (PyTorch's default, the core count, until then)."""
    import os
    return _interop_threads if _interop_threads is not None else (os.cpu_count() or 1)


def set_num_interop_threads(num):
    """Sets it once, before any inter-op work, as PyTorch allows."""
    global _interop_threads
    if not isinstance(num, int) or isinstance(num, bool):
        raise RuntimeError(f"set_num_interop_threads expects an int, but got {type(num).__name__}")
    if num <= 0:
        raise RuntimeError("set_num_interop_threads expects a positive integer")
    if _interop_threads is not None:
        raise RuntimeError("Error: cannot set number of interop threads after parallel work has started or "
                           "set_num_interop_threads called")
    _interop_threads = num
