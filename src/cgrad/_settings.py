"""Process-wide settings PyTorch scripts set: deterministic algorithms, warn-always, the default device."""
__all__ = [
    "are_deterministic_algorithms_enabled", "get_default_device", "get_deterministic_debug_mode",
    "is_deterministic_algorithms_warn_only_enabled", "is_warn_always_enabled", "set_default_device",
    "set_deterministic_debug_mode", "set_warn_always", "typename", "use_deterministic_algorithms",
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
    """Where new tensors go: always the CPU."""
    return "cpu"


def set_default_device(device):
    """Only the CPU (or None, the CPU too): cgrad has no other device."""
    if device is not None and str(device) not in ("cpu", "cpu:0"):
        raise RuntimeError(f"cgrad runs on the CPU only; cannot make {device!r} the default device")


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
