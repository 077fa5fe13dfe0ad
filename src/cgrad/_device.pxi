# ---- devices --------------------------------------------------------------------
# cgrad computes on the CPU only, but code written for PyTorch names devices
# everywhere: device("cuda" if cuda.is_available() else "cpu"), x.to(device),
# zeros(3, device=device). So devices are PyTorch's objects, every factory
# takes device=, and a device other than the CPU fails where PyTorch built
# for the CPU alone fails, with its error.

# None while new tensors go to the CPU; set_default_device or `with device(...)` may name another device,
# which then fails, as PyTorch's does, when a factory makes a tensor there
cdef object _default_device = None
_device_stack = []

_DEVICE_TYPES = ("cpu", "cuda", "ipu", "xpu", "mkldnn", "opengl", "opencl", "ideep", "hip", "ve", "fpga", "maia",
                 "xla", "lazy", "vulkan", "mps", "meta", "hpu", "mtia", "privateuseone")


def _parse_device_string(str s):
    """(type, index) of "cpu" or "cpu:0"; index None when the string has none."""
    if not s:
        raise RuntimeError("Device string must not be empty")
    kind, colon, rest = s.partition(":")
    well_formed = kind.isascii() and kind.replace("_", "a").isalnum() and (
        not colon or (rest.isascii() and rest.isdigit() and (len(rest) == 1 or rest[0] != "0")))
    if not well_formed:
        raise RuntimeError(f"Invalid device string: '{s}'")
    if kind not in _DEVICE_TYPES:
        raise RuntimeError(f"Expected one of {', '.join(_DEVICE_TYPES)} device type at start of device string: "
                           f"{kind}")
    return kind, int(rest) if colon else None


class device:
    """Where a tensor lives: device("cpu"), device("cpu", 0) or device("cpu:0"). Other device types can
    be named, as in PyTorch, but a tensor cannot be put there."""
    __slots__ = ("_type", "_index")

    def __new__(cls, type=None, index=None):
        if isinstance(type, device) and index is None:
            return type
        if isinstance(type, str):
            kind, idx = _parse_device_string(type)
            if index is not None:
                if not isinstance(index, int) or isinstance(index, bool):
                    raise TypeError(f"device(): argument 'index' (position 2) must be int, not "
                                    f"{index.__class__.__name__}")
                if idx is not None:
                    raise RuntimeError(f"type (string) must not include an index because index was passed "
                                       f"explicitly: {type}")
                if index < 0:
                    raise RuntimeError("Device index must not be negative")
                idx = index
            self = object.__new__(cls)
            self._type = kind
            self._index = idx
            return self
        if isinstance(type, int) and not isinstance(type, bool) and index is None:
            raise RuntimeError("Cannot access accelerator device when none is available.")
        got = ", ".join(x.__class__.__name__ for x in ((type,) if index is None else (type, index)))
        raise TypeError(f"device() received an invalid combination of arguments - got ({got}), but expected one "
                        f"of:\n * (cgrad.device device)\n * (str type, int index = -1)\n")

    @property
    def type(self):
        return self._type

    @property
    def index(self):
        return self._index

    def __eq__(self, other):
        if not isinstance(other, device):
            return NotImplemented
        return self._type == other._type and self._index == other._index

    def __hash__(self):
        return hash((self._type, self._index))

    def __repr__(self):
        if self._index is None:
            return f"device(type='{self._type}')"
        return f"device(type='{self._type}', index={self._index})"

    def __str__(self):
        return self._type if self._index is None else f"{self._type}:{self._index}"

    def __reduce__(self):
        return (device, (self._type,) if self._index is None else (self._type, self._index))

    def __setattr__(self, name, value):
        if name in ("_type", "_index") and not hasattr(self, name):
            object.__setattr__(self, name, value)
        else:
            raise AttributeError(f"attribute '{name}' of 'cgrad.device' objects is not writable")

    def __enter__(self):
        # new tensors go to this device inside the block (and fail there unless it is the CPU)
        _device_stack.append(_default_device)
        _set_default_device(self)
        return self

    def __exit__(self, *exc):
        _set_default_device(_device_stack.pop())


device.__module__ = "cgrad"
_cpu = device("cpu")


def _check_device(d):
    """Nothing, for the CPU (or None); else the error PyTorch built for the CPU alone raises for d."""
    if d is None or d is _cpu or (isinstance(d, str) and d == "cpu"):
        return
    if not isinstance(d, device):
        d = device(d)
    kind = d._type
    if kind == "cpu":
        return
    if kind in ("cuda", "hip"):
        raise AssertionError("Torch not compiled with CUDA enabled")
    if kind == "xpu":
        raise AssertionError("Torch not compiled with XPU enabled")
    if kind == "meta":
        raise NotImplementedError("cgrad has no meta device: its tensors hold data, on the CPU")
    raise RuntimeError(f"PyTorch is not linked with support for {kind} devices")


def _set_default_device(d):
    global _default_device
    _default_device = None if d is None else device(d)


def _get_default_device():
    return _cpu if _default_device is None else _default_device


cdef int factory_options(object layout, object device_, object pin_memory) except -1:
    """Checks a factory's layout=, device= and pin_memory= (all defaults: two compares)."""
    if device_ is None:
        device_ = _default_device
    if device_ is not None:
        _check_device(device_)
    if layout is not None and layout is not strided:
        raise TypeError(f"argument 'layout' must be cgrad.layout, not {type(layout).__name__}")
    if pin_memory:
        raise RuntimeError("pin_memory=True requires a CUDA or other accelerator backend; no pinned memory "
                           "allocator is available on this system.")
    return 0


def _factory_options(layout=None, device=None, pin_memory=False):
    """factory_options for the factories written in Python."""
    factory_options(layout, device, pin_memory)


def _check_generator_device(d):
    if d is _cpu or (isinstance(d, str) and d == "cpu"):
        return
    if device(d).type != "cpu":
        raise RuntimeError(f"cgrad runs on the CPU only; a Generator's device must be 'cpu', got {d!r}")
