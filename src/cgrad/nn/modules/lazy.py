"""LazyModuleMixin: modules whose parameter shapes are inferred from their first input."""
import itertools

from cgrad import _C
from cgrad.autograd.grad_mode import no_grad
from cgrad.nn.parameter import is_lazy

__all__ = ["LazyModuleMixin"]


class LazyModuleMixin:
    """Mixed in before a Module class: the module starts with uninitialized parameters, and its first
    call runs initialize_parameters(*input) to materialize them, then the module becomes cls_to_become.
    A state dict loaded before that materializes them with the loaded shapes."""

    cls_to_become = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._load_hook = self._register_load_state_dict_pre_hook(self._lazy_load_hook)
        self._initialize_hook = self.register_forward_pre_hook(self._infer_parameters, with_kwargs=True)

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        for name, param in self._parameters.items():
            if param is not None:
                destination[prefix + name] = param if is_lazy(param) or keep_vars else param.detach()
        for name, buf in self._buffers.items():
            if buf is not None and name not in self._non_persistent_buffers_set:
                destination[prefix + name] = buf if is_lazy(buf) or keep_vars else buf.detach()

    def _lazy_load_hook(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                        error_msgs):
        """The load-state-dict pre-hook: a loaded (initialized) tensor gives an uninitialized one its shape."""
        for name, param in itertools.chain(self._parameters.items(), self._buffers.items()):
            key = prefix + name
            if key in state_dict and param is not None and is_lazy(param) and not is_lazy(state_dict[key]):
                with no_grad():
                    self._materialize(name, tuple(state_dict[key].size()))

    def _materialize(self, name, shape):
        """Gives the uninitialized parameter or buffer `name` its shape. A buffer is replaced by a plain
        tensor: its class cannot become the compiled Tensor type in place, as a parameter's becomes Parameter."""
        if name in self._buffers:
            buf = self._buffers[name]
            self._buffers[name] = _C.empty(*shape, dtype=buf.dtype)
        else:
            self._parameters[name].materialize(shape)

    def initialize_parameters(self, *args, **kwargs):
        raise NotImplementedError(f"initialize_parameters is not implemented for {self.__class__.__name__}")

    def has_uninitialized_params(self):
        """Whether some parameter or buffer is still uninitialized."""
        return any(is_lazy(p) for p in itertools.chain(self._parameters.values(), self._buffers.values()))

    def _infer_parameters(self, module, args, kwargs=None):
        module.initialize_parameters(*args, **(kwargs or {}))
        if module.has_uninitialized_params():
            raise RuntimeError(f"module {self._get_name()} has not been fully initialized")
        module._initialize_hook.remove()
        module._load_hook.remove()
        delattr(module, "_initialize_hook")
        delattr(module, "_load_hook")
        if module.cls_to_become is not None:
            module.__class__ = module.cls_to_become
