"""cgrad.autograd: gradients of tensors, computed by the C engine."""
import threading

from cgrad import _C
from cgrad.autograd.grad_mode import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from cgrad.autograd.grad_mode import is_multithreading_enabled, set_multithreading_enabled
from cgrad.autograd.variable import Variable

__all__ = ["backward", "grad", "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled",
           "inference_mode", "Function", "FunctionCtx", "once_differentiable", "gradcheck", "gradgradcheck",
           "GradcheckError", "detect_anomaly", "set_detect_anomaly", "functional", "graph",
           "set_multithreading_enabled", "is_multithreading_enabled", "Variable"]


def _as_tuple(x):
    if x is None:
        return None
    if isinstance(x, _C.Tensor):
        return (x,)
    if type(x) is dict:
        return tuple(x.values())
    return tuple(x)


def _grads_for(tensors, grads):
    """The gradient to start each of tensors from (None: ones, for one-element tensors)."""
    grads = _as_tuple(grads) or (None,) * len(tensors)
    if len(grads) != len(tensors):
        raise RuntimeError(f"got {len(tensors)} tensors and {len(grads)} gradients")
    for g in grads:
        if g is not None and not isinstance(g, _C.Tensor):
            raise TypeError(f"gradients can be either Tensors or None, but got {type(g).__name__}")
    return grads


# Whether each running backward accumulates into every leaf it reaches (a plain backward) or only
# computes chosen gradients (grad, backward with inputs): reentrant checkpoint works only in the first.
_tasks = threading.local()


class _graph_task:
    __slots__ = ("accumulates",)

    def __init__(self, accumulates):
        self.accumulates = accumulates

    def __enter__(self):
        stack = getattr(_tasks, "stack", None)
        if stack is None:
            stack = _tasks.stack = []
        stack.append(self.accumulates)

    def __exit__(self, *exc):
        _tasks.stack.pop()


def _is_checkpoint_valid():
    """False inside a grad() or backward(inputs=...) call started from Python."""
    stack = getattr(_tasks, "stack", None)
    return stack[-1] if stack else True


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, grad_variables=None, inputs=None):
    """Accumulates the gradients of `tensors` into the .grad of the leaves (or
    of `inputs` only, when given)."""
    if grad_variables is not None:
        if grad_tensors is not None:
            raise RuntimeError("`grad_tensors` and `grad_variables` (deprecated) arguments both passed to "
                               "`backward()`. Please only use `grad_tensors`.")
        grad_tensors = grad_variables
    tensors = _as_tuple(tensors)
    if inputs is not None:
        inputs = _as_tuple(inputs)
        if not inputs:
            raise RuntimeError("`inputs` argument to `backward()` cannot be empty.")
    with _graph_task(inputs is None):
        _C._run_backward(tensors, _grads_for(tensors, grad_tensors), retain_graph, create_graph, inputs)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, only_inputs=True,
         allow_unused=None, is_grads_batched=False, materialize_grads=False):
    """The gradients of `outputs` with respect to `inputs` (a tuple, or a dict
    for a dict of inputs), without touching any .grad. Only the part of the
    graph between them runs."""
    if is_grads_batched:
        raise NotImplementedError("grad(is_grads_batched=True) is not supported: cgrad has no vmap")
    if materialize_grads and allow_unused is False:
        raise ValueError("Expected allow_unused to be True or not passed when materialize_grads=True, but got: "
                         "allow_unused=False.")
    if allow_unused is None:
        allow_unused = materialize_grads
    names = list(inputs.keys()) if type(inputs) is dict else None
    outputs = _as_tuple(outputs)
    inputs = _as_tuple(inputs)
    if not inputs:
        raise RuntimeError("`inputs` argument to `grad()` cannot be empty.")
    with _graph_task(False):
        result = _C._run_grad(outputs, inputs, _grads_for(outputs, grad_outputs), retain_graph, create_graph,
                              allow_unused)
    if materialize_grads:
        result = tuple(g if g is not None else _C.zeros(x.shape, dtype=x.dtype, requires_grad=bool(create_graph))
                       for g, x in zip(result, inputs))
    return dict(zip(names, result)) if names is not None else result


from cgrad.autograd import forward_ad, functional, graph, profiler  # noqa: E402
from cgrad.autograd.anomaly_mode import detect_anomaly, set_detect_anomaly  # noqa: E402
from cgrad.autograd.function import Function, FunctionCtx, once_differentiable  # noqa: E402
from cgrad.autograd.gradcheck import GradcheckError, gradcheck, gradgradcheck  # noqa: E402
