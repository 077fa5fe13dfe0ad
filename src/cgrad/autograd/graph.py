"""The graph behind a tensor: its nodes and edges, as torch.autograd.graph shows them."""
from collections import namedtuple

from cgrad import _C

__all__ = ["Node", "GradientEdge", "get_gradient_edge", "walk"]

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
