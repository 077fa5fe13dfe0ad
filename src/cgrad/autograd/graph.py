"""The graph behind a tensor: its nodes and edges, as torch.autograd.graph shows them."""
import contextlib
import threading
from collections import namedtuple

from cgrad import _C

__all__ = ["Node", "GradientEdge", "get_gradient_edge", "walk", "register_multi_grad_hook", "saved_tensors_hooks",
           "save_on_cpu", "disable_saved_tensors_hooks"]

Node = _C.Node

GradientEdge = namedtuple("GradientEdge", ["node", "output_nr"])
GradientEdge.__doc__ = "The edge a gradient flows into: a node and which of its outputs."


def get_gradient_edge(tensor):
    """The edge the gradient of `tensor` flows into: (grad_fn, output_nr), or
    the AccumulateGrad node of a leaf that requires grad."""
    if not tensor.requires_grad:
        raise RuntimeError("It is not possible to get the gradient edge for a Tensor that does not require "
                           "gradients")
    if tensor.grad_fn is not None:
        return GradientEdge(tensor.grad_fn, tensor._output_nr)
    with _C.enable_grad():  # the view's node, and through it the leaf's, exist in grad mode only
        acc = (tensor.view(tensor.shape)).grad_fn.next_functions[0][0]
    return GradientEdge(acc, 0)


def walk(roots):
    """Every node reachable from the given nodes, each once, parents before
    children (depth-first with an explicit stack: no recursion)."""
    seen = set()
    stack = [n for n in reversed(list(roots)) if n is not None]
    order = []
    keep = []  # the Node wrappers stay alive, so their ids stay unique
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        keep.append(node)
        order.append(node)
        for nxt, _ in reversed(node.next_functions):
            if nxt is not None and id(nxt) not in seen:
                stack.append(nxt)
    return order


def _node_of(tensor):
    """The node tensor's gradient reaches first: its grad_fn, or a leaf's AccumulateGrad."""
    if not tensor.requires_grad:
        raise AssertionError("Expected gradient function to be set")  # PyTorch's error
    return tensor.grad_fn if tensor.grad_fn is not None else get_gradient_edge(tensor).node


class _MultiHandle:
    """What register_multi_grad_hook returns: remove() takes off every hook it placed."""

    def __init__(self, handles):
        self.handles = handles

    def remove(self):
        for handle in self.handles:
            handle.remove()

    def __enter__(self):
        return self

    def __exit__(self, *args):
        self.remove()


def register_multi_grad_hook(tensors, fn, *, mode="all"):
    """One hook over several tensors' gradients, per backward pass.

    mode "all": fn(grads) once every gradient of `tensors` this pass computes
    has arrived, with None for the tensors the pass does not reach or need
    (which are not waited for). mode "any": fn(grad) with the first gradient
    of any of them. Returns a handle whose remove() takes the hook off."""
    modes = ("all", "any")
    if mode not in modes:
        raise ValueError(f"Expects mode to be one of {modes} but got {mode}")
    lock = threading.Lock()  # gradients of one pass may arrive from hooks on other threads' passes
    if mode == "any":
        fired = set()  # the passes fn has run in

        def first(grad):
            run = _C._current_graph_task_id()
            with lock:
                if run in fired:
                    return
                fired.add(run)
            fn(grad)

        return _MultiHandle(tuple(t.register_hook(first) for t in tensors if t.requires_grad))

    nodes = [_node_of(t) for t in tensors]
    waiting = {}  # pass id -> [the gradients so far, how many are still to come]

    def hook_for(i):
        def hook(grad):
            run = _C._current_graph_task_id()
            with lock:
                if run not in waiting:  # the first of this pass: count the ones it will compute
                    due = sum(_C._will_engine_execute_node(n) for n in nodes)
                    waiting[run] = [[None] * len(nodes), due]
                state = waiting[run]
                state[0][i] = grad
                state[1] -= 1
                if state[1] == 0:
                    del waiting[run]
            if state[1] == 0:
                fn(state[0])
        return hook

    return _MultiHandle(tuple(t.register_hook(hook_for(i)) for i, t in enumerate(tensors)))


class saved_tensors_hooks:
    """Within this context, every tensor the graph saves for backward goes
    through pack_hook(tensor), and the graph keeps what it returns; backward
    (and grad_fn's saved-tensor views) get the tensor back from
    unpack_hook(packed). Per thread; the innermost pair applies. Unlike
    PyTorch, unpack_hook must return the dtype and shape that were saved."""

    def __init__(self, pack_hook, unpack_hook):
        self.pack_hook = pack_hook
        self.unpack_hook = unpack_hook

    def __enter__(self):
        _C._push_saved_tensors_default_hooks(self.pack_hook, self.unpack_hook)

    def __exit__(self, *args):
        _C._pop_saved_tensors_default_hooks()


class save_on_cpu(saved_tensors_hooks):
    """Saves each tensor as a CPU copy, as PyTorch's does for device tensors;
    cgrad tensors are on the CPU already, so this keeps them as they are
    (pin_memory copies them, there being no pinned memory to use)."""

    def __init__(self, pin_memory=False, device_type="cuda"):
        def pack_to_cpu(tensor):
            if not pin_memory:
                return tensor.device, tensor.cpu()
            packed = tensor.new_empty(tensor.size())
            packed.copy_(tensor)
            return tensor.device, packed

        def unpack_from_cpu(packed):
            device, tensor = packed
            return tensor.to(device, non_blocking=pin_memory)

        super().__init__(pack_to_cpu, unpack_from_cpu)


@contextlib.contextmanager
def disable_saved_tensors_hooks(error_message):
    """Within this context, entering saved_tensors_hooks raises
    RuntimeError(error_message); so does entering it while hooks are on."""
    previous = _C._saved_tensors_hooks_get_disabled_error_message()
    try:
        _C._saved_tensors_hooks_disable(error_message)
        yield
    finally:
        if previous is None:
            _C._saved_tensors_hooks_enable()
        else:
            _C._saved_tensors_hooks_disable(previous)
