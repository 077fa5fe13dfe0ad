"""Custom differentiable operations: autograd.Function.

A Function's forward runs under no_grad; when grad mode is on and an input
requires grad, its outputs get a C node (named ``<ClassName>Backward``) whose
backward formula is the Function's ``backward``: the C engine calls it through a
callback that takes the GIL for the Python call only.
"""
import functools
import inspect
import warnings

from cgrad import _C
from cgrad.autograd.grad_mode import no_grad

__all__ = ["Function", "FunctionCtx", "once_differentiable"]


class FunctionCtx(_C._FunctionCtx):
    """The ``ctx`` given to forward and backward."""

    def save_for_backward(self, *tensors):
        """Keeps tensors (or None) for backward, where ``ctx.saved_tensors``
        returns them after checking none was modified in place since."""
        for i, t in enumerate(tensors):
            if t is not None and not isinstance(t, _C.Tensor):
                raise TypeError(f"save_for_backward can only save variables, but argument {i} is of type "
                                f"{type(t).__name__}")
        self.to_save = tensors

    @property
    def saved_tensors(self):
        return self._saved()

    def mark_dirty(self, *tensors):
        """Declares inputs forward modified in place (they are returned as outputs)."""
        self.dirty_tensors = tensors

    def mark_non_differentiable(self, *tensors):
        """Declares outputs that have no gradient (indices, masks, ...)."""
        self.non_differentiable = tensors

    def set_materialize_grads(self, value):
        """With True (the default) backward gets zeros, not None, for outputs without a gradient."""
        self.materialize_grads = bool(value)

    def save_for_forward(self, *tensors):
        raise NotImplementedError("save_for_forward: cgrad has no forward-mode AD")

    # -- called by the engine, through the node's callback --
    def _backward(self, grads):
        """Runs the Function's backward on the outputs' gradients; returns one
        gradient (or None) per tensor input."""
        if getattr(self, "materialize_grads", True):
            grads = [g if g is not None else _C.zeros(shape, dtype=dt)
                     for g, (shape, dt) in zip(grads, self._output_meta)]
        grads = iter(grads)  # one per output; None for the outputs that are not tensors
        result = self._function.backward(self, *[next(grads) if t else None for t in self._output_is_tensor])
        if not isinstance(result, tuple):
            result = (result,)
        name = self._name
        n = len(self._arg_is_tensor)
        if len(result) != n:
            if len(result) < n or any(r is not None for r in result[n:]):
                raise RuntimeError(f"function {name} returned an incorrect number of gradients "
                                   f"(expected {n}, got {len(result)})")
            result = result[:n]
        out = []
        for i, (g, is_tensor) in enumerate(zip(result, self._arg_is_tensor)):
            if not is_tensor:
                if g is not None:
                    raise RuntimeError(f"function {name} returned a gradient different than None at position "
                                       f"{i + 1}, but the corresponding forward input was not a Variable")
                continue
            if g is not None and not isinstance(g, _C.Tensor):
                raise RuntimeError(f"expected Variable or None (got {type(g).__name__})")
            out.append(g)
        return out


def _overrides(cls, name):
    return getattr(cls, name) is not getattr(Function, name)


class Function:
    """Base class of custom operations: subclass it with staticmethods
    ``forward(ctx, *args)`` and ``backward(ctx, *grad_outputs)`` (or
    ``forward(*args)`` plus ``setup_context(ctx, inputs, output)``), then call
    ``MyFunction.apply(*args)``."""

    def __init__(self, *args, **kwargs):
        warnings.warn(
            f"{self.__class__} should not be instantiated. Methods on autograd functions are all static, so "
            "you should invoke them on the class itself. Instantiating an autograd function will raise an "
            "error in a future version of PyTorch.", DeprecationWarning, stacklevel=2)

    def __call__(self, *args, **kwargs):
        raise RuntimeError(
            "Legacy autograd function with non-static forward method is deprecated. Please use new-style "
            "autograd function with static forward method. (Example: "
            "https://pytorch.org/docs/stable/autograd.html#torch.autograd.Function)")

    @staticmethod
    def forward(*args, **kwargs):
        raise NotImplementedError("You must implement the forward function for custom autograd.Function.")

    @staticmethod
    def setup_context(ctx, inputs, output):
        raise NotImplementedError("setup_context is not implemented.")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("You must implement either the backward or vjp method for your custom "
                                  "autograd.Function to use it with backward mode AD.")

    vjp = backward

    @staticmethod
    def jvp(ctx, *grad_inputs):
        raise NotImplementedError("You must implement the jvp function for custom autograd.Function to use "
                                  "it with forward mode AD.")

    @classmethod
    def apply(cls, *args, **kwargs):
        separate_setup = _overrides(cls, "setup_context")
        args = _bind(cls.forward, args, kwargs, skip_ctx=not separate_setup)
        ctx = FunctionCtx()
        grad_on = _C._is_grad_enabled()
        ctx.needs_input_grad = tuple(isinstance(a, _C.Tensor) and a.requires_grad and grad_on for a in args)
        with no_grad():
            if separate_setup:
                output = cls.forward(*args)
                cls.setup_context(ctx, args, output)
            else:
                output = cls.forward(ctx, *args)
        if not any(ctx.needs_input_grad):
            return output
        is_tuple = isinstance(output, tuple)
        outputs = list(output) if is_tuple else [output]
        ctx._function = cls
        ctx._name = getattr(cls, "_node_name", None) or cls.__name__ + "Backward"
        ctx._arg_is_tensor = tuple(isinstance(a, _C.Tensor) for a in args)
        ctx._output_meta = [(o.shape, o.dtype) for o in outputs if isinstance(o, _C.Tensor)]
        ctx._output_is_tensor = [isinstance(o, _C.Tensor) for o in outputs]
        saved = getattr(ctx, "to_save", None) or ()
        ctx.to_save = None
        _C._function_record(ctx, ctx._name, args, outputs, getattr(ctx, "dirty_tensors", ()),
                            getattr(ctx, "non_differentiable", ()), tuple(saved))
        ctx.dirty_tensors = ctx.non_differentiable = ()  # no references from ctx to its outputs
        return tuple(outputs) if is_tuple else outputs[0]


def _bind(forward, args, kwargs, skip_ctx):
    """args and kwargs of Function.apply as the positional arguments of forward."""
    if not kwargs:
        return args
    params = list(inspect.signature(forward).parameters.values())
    if skip_ctx:
        params = params[1:]
    sig = inspect.Signature(params)
    bound = sig.bind(*args, **kwargs)
    bound.apply_defaults()
    return tuple(bound.args) + tuple(bound.kwargs.values())


class _DelayedError(Function):
    """Raises when differentiated: marks results of a once_differentiable backward."""

    _node_name = "Error"

    @staticmethod
    def forward(ctx, message, n_results, *tensors):
        ctx.message = message
        return tuple(t.detach() for t in tensors[:n_results])

    @staticmethod
    def backward(ctx, *grads):
        raise RuntimeError(ctx.message)


def once_differentiable(fn):
    """Decorates a backward that cannot itself be differentiated: it runs under
    no_grad, and differentiating its results raises an error."""

    @functools.wraps(fn)
    def wrapper(ctx, *args):
        with no_grad():
            outputs = fn(ctx, *args)
        if not _C._is_grad_enabled():
            return outputs
        if not any(isinstance(a, _C.Tensor) and a.requires_grad for a in args):
            return outputs
        is_tuple = isinstance(outputs, tuple)
        outs = outputs if is_tuple else (outputs,)
        message = "trying to differentiate twice a function that was marked with @once_differentiable"
        tensors = [o for o in outs if isinstance(o, _C.Tensor)]
        grads = [a for a in args if isinstance(a, _C.Tensor)]
        marked = iter(_DelayedError.apply(message, len(tensors), *tensors, *grads))
        result = tuple(next(marked) if isinstance(o, _C.Tensor) else o for o in outs)
        return result if is_tuple else result[0]

    return wrapper
