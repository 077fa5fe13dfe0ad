"""nn.utils.init: skip_init, a module built without running its parameter initialization."""
import inspect

__all__ = ["skip_init"]


def skip_init(module_cls, *args, **kwargs):
    """module_cls(*args, **kwargs) with uninitialized (empty) parameters and buffers, for a class whose
    constructor takes device. (PyTorch builds it on the meta device, so that initialization costs nothing;
    cgrad has no meta device: it builds the module, then empties it with to_empty.)"""
    from cgrad.nn.modules.module import Module
    if not issubclass(module_cls, Module):
        raise RuntimeError(f"Expected a Module; got {module_cls}")
    if "device" not in inspect.signature(module_cls).parameters:
        raise RuntimeError("Module must support a 'device' arg to skip initialization")
    final_device = kwargs.pop("device", "cpu")
    return module_cls(*args, **kwargs).to_empty(device=final_device)
