"""Activation checkpointing, as torch.utils.checkpoint: a checkpointed function keeps no activations for
backward; its forward runs again during backward to rebuild them.

Two variants, as in PyTorch. The reentrant one (use_reentrant=True) is PyTorch's CheckpointFunction: forward
under no_grad, and a backward that recomputes and runs a nested backward into the leaves.

The non-reentrant one needs no saved-tensor hooks: the forward runs with grad mode on once, to learn which
leaves the function reaches and which outputs require grad; that graph is then dropped and the outputs hang
off one node whose backward recomputes the function (with the forward's random state) and takes the
gradients of the arguments and of those leaves with a nested autograd.grad. Its result so matches an
unchecked run exactly, through torch.autograd.grad as well as backward. Unlike PyTorch's, the outputs'
grad_fn is that node (CheckpointBackward), not the function's last op, and the function sees its tensor
arguments detached (leaves that require grad as they did) in the forward too, not only in recomputation.
"""
import contextlib
import warnings

from cgrad import _C
from cgrad import autograd as _autograd
from cgrad import random as _random
from cgrad.autograd.function import Function

__all__ = ["checkpoint", "checkpoint_sequential", "CheckpointError", "CheckpointFunction", "check_backward_validity",
           "detach_variable", "noop_context_fn", "set_checkpoint_early_stop", "set_checkpoint_debug_enabled",
           "create_selective_checkpoint_contexts"]

_DEFAULT_DETERMINISM_MODE = "default"
_DETERMINISM_MODES = ("default", "none")

_DEBUG_TIP = """
Tip: To see a more detailed error message, either pass `debug=True` to
`torch.utils.checkpoint.checkpoint(...)` or wrap the code block
with `with torch.utils.checkpoint.set_checkpoint_debug_enabled(True):` to
enable checkpoint\u2011debug mode globally.
"""


class CheckpointError(RuntimeError):
    pass


_checkpoint_debug_enabled = None
_enable_checkpoint_early_stop = None


@contextlib.contextmanager
def set_checkpoint_debug_enabled(enabled):
    """Overrides checkpoint's `debug` inside the block (None defers to it)."""
    global _checkpoint_debug_enabled
    prev = _checkpoint_debug_enabled
    _checkpoint_debug_enabled = enabled
    try:
        yield
    finally:
        _checkpoint_debug_enabled = prev


@contextlib.contextmanager
def set_checkpoint_early_stop(enable):
    """Accepted for PyTorch's API. Recomputation here always runs the whole function (the outputs' gradients
    need all of it), so stopping early would change nothing."""
    global _enable_checkpoint_early_stop
    prev = _enable_checkpoint_early_stop
    _enable_checkpoint_early_stop = enable
    try:
        yield
    finally:
        _enable_checkpoint_early_stop = prev


def create_selective_checkpoint_contexts(policy_fn_or_list, allow_cache_entry_mutation=False):
    raise NotImplementedError("create_selective_checkpoint_contexts: selective checkpointing needs a dispatch mode "
                              "that sees each operator, which cgrad does not have")


def detach_variable(inputs):
    if not isinstance(inputs, tuple):
        raise RuntimeError(f"Only tuple of tensors is supported. Got Unsupported input type: {type(inputs).__name__}")
    out = []
    for inp in inputs:
        if not isinstance(inp, _C.Tensor):
            out.append(inp)
            continue
        x = inp.detach()
        x.requires_grad = inp.requires_grad
        out.append(x)
    return tuple(out)


def check_backward_validity(inputs):
    if not any(inp.requires_grad for inp in inputs if isinstance(inp, _C.Tensor)):
        warnings.warn("None of the inputs have requires_grad=True. Gradients will be None", stacklevel=2)


def noop_context_fn():
    return contextlib.nullcontext(), contextlib.nullcontext()


class CheckpointFunction(Function):
    """The reentrant variant."""

    @staticmethod
    def forward(ctx, run_function, preserve_rng_state, *args):
        check_backward_validity(args)
        ctx.run_function = run_function
        ctx.preserve_rng_state = preserve_rng_state
        if preserve_rng_state:
            ctx.fwd_cpu_state = _random.get_rng_state()
        ctx.inputs = []
        ctx.tensor_indices = []
        tensor_inputs = []
        for i, arg in enumerate(args):
            if isinstance(arg, _C.Tensor):
                tensor_inputs.append(arg)
                ctx.tensor_indices.append(i)
                ctx.inputs.append(None)
            else:
                ctx.inputs.append(arg)
        ctx.save_for_backward(*tensor_inputs)
        return run_function(*args)  # Function.apply runs forward under no_grad

    @staticmethod
    def backward(ctx, *args):
        if not _autograd._is_checkpoint_valid():
            raise RuntimeError(
                "When use_reentrant=True, torch.utils.checkpoint is incompatible with .grad() or passing an "
                "`inputs` parameter to .backward(). To resolve this error, you can either set use_reentrant=False, "
                "or call .backward() without passing the `inputs` argument.")
        inputs = list(ctx.inputs)
        for i, t in zip(ctx.tensor_indices, ctx.saved_tensors):
            inputs[i] = t
        with _random.fork_rng(enabled=ctx.preserve_rng_state):
            if ctx.preserve_rng_state:
                _random.set_rng_state(ctx.fwd_cpu_state)
            detached_inputs = detach_variable(tuple(inputs))
            with _C.enable_grad():
                outputs = ctx.run_function(*detached_inputs)
        if isinstance(outputs, _C.Tensor):
            outputs = (outputs,)
        outputs_with_grad = []
        args_with_grad = []
        for out, grad in zip(outputs, args):
            if isinstance(out, _C.Tensor) and out.requires_grad:
                outputs_with_grad.append(out)
                args_with_grad.append(grad)
        if not outputs_with_grad:
            raise RuntimeError("none of output has requires_grad=True, this checkpoint() is not necessary")
        _autograd.backward(outputs_with_grad, args_with_grad)
        grads = tuple(inp.grad if isinstance(inp, _C.Tensor) else None for inp in detached_inputs)
        return (None, None) + grads


def checkpoint(function, *args, use_reentrant=None, context_fn=noop_context_fn,
               determinism_check=_DEFAULT_DETERMINISM_MODE, debug=False, early_stop=True, **kwargs):
    """Runs function(*args, **kwargs) without keeping its activations; backward recomputes them."""
    if use_reentrant is None:
        warnings.warn(
            "torch.utils.checkpoint: the use_reentrant parameter should be passed explicitly. Starting in PyTorch "
            "2.9, calling checkpoint without use_reentrant will raise an exception. use_reentrant=False is "
            "recommended, but if you need to preserve the current default behavior, you can pass "
            "use_reentrant=True. Refer to docs for more details on the differences between the two variants.",
            stacklevel=2)
        use_reentrant = True
    preserve = kwargs.pop("preserve_rng_state", True)
    if kwargs and use_reentrant:
        raise ValueError("Unexpected keyword arguments: " + ",".join(arg for arg in kwargs))
    if use_reentrant:
        if context_fn is not noop_context_fn or debug is not False:
            raise ValueError("Passing `context_fn` or `debug` is only supported when use_reentrant=False.")
        return CheckpointFunction.apply(function, preserve, *args)
    return _checkpoint_without_reentrant(function, preserve, context_fn, determinism_check, debug, args, kwargs)


def checkpoint_sequential(functions, segments, input, use_reentrant=None, **kwargs):
    """Runs a sequence of modules or functions in `segments` chunks, checkpointing all but the last."""
    if use_reentrant is None:
        warnings.warn(
            "torch.utils.checkpoint.checkpoint_sequential: the use_reentrant parameter should be passed "
            "explicitly. In version 2.9 we will raise an exception if use_reentrant is not passed. "
            "use_reentrant=False is recommended, but if you need to preserve the current default behavior, you "
            "can pass use_reentrant=True. Refer to docs for more details on the differences between the two "
            "variants.", stacklevel=2)
        use_reentrant = True
    preserve = kwargs.pop("preserve_rng_state", True)
    if kwargs:
        raise ValueError("Unexpected keyword arguments: " + ",".join(arg for arg in kwargs))

    def run_function(start, end, functions):
        def forward(input):
            for j in range(start, end + 1):
                input = functions[j](input)
            return input
        return forward

    from cgrad.nn import Sequential
    if isinstance(functions, Sequential):
        functions = list(functions.children())
    segment_size = len(functions) // segments
    end = -1
    for start in range(0, segment_size * (segments - 1), segment_size):
        end = start + segment_size - 1
        input = checkpoint(run_function(start, end, functions), input, use_reentrant=use_reentrant,
                           preserve_rng_state=preserve)
    return run_function(end + 1, len(functions) - 1, functions)(input)


# ---- the non-reentrant variant ------------------------------------------------------------------------------
#
# The forward runs the function once with the graph on, to learn what it differentiates: its tensor arguments
# and the leaves it reaches (a leaf's AccumulateGrad node holds the leaf, wherever the function read it from).
# That graph is dropped, and the outputs hang off one node with edges to those tensors. Its backward runs the
# function again and takes the gradients with a nested pass, which may go through nodes the outer backward is
# still running, as in PyTorch. Both runs see the arguments detached: a gradient asked of a non-leaf also
# runs the graph above it when a leaf asked for lies there, and the outer pass runs that part too, so the
# graph a run records must end at leaves (or, differentiating twice, at gates that pass nothing back yet).

_SLOT = object()  # where an argument tensor was, in the arguments a checkpoint keeps


def _flatten(obj, out):
    """The tensors inside nested tuples, lists and dict values, in order."""
    if isinstance(obj, _C.Tensor):
        out.append(obj)
    elif isinstance(obj, (tuple, list)):
        for x in obj:
            _flatten(x, out)
    elif isinstance(obj, dict):
        for x in obj.values():
            _flatten(x, out)
    return out


def _replace(obj, it):
    """obj with each tensor (or _SLOT) replaced by the next item of it (the order _flatten gives)."""
    if obj is _SLOT or isinstance(obj, _C.Tensor):
        return next(it)
    if isinstance(obj, (tuple, list)):
        items = [_replace(x, it) for x in obj]
        if isinstance(obj, list):
            return items
        return type(obj)(*items) if hasattr(obj, "_fields") else tuple(items)
    if isinstance(obj, dict):
        return type(obj)((k, _replace(v, it)) for k, v in obj.items())
    return obj


def _marker():
    """The sequence number of a node recorded now: nodes the function records afterwards have larger ones."""
    with _C.enable_grad():
        return _C.zeros((), requires_grad=True).view(()).grad_fn._sequence_nr


def _segment(outputs, start, stops=()):
    """Walks the graph the function recorded (nodes numbered from `start`, up to the nodes in stops): its
    nodes in recording order and the leaves it reaches, the detached arguments among them."""
    stack = [t.grad_fn for t in outputs if t.grad_fn is not None]
    seen, nodes = set(), []
    leaves = [t for t in outputs if t.grad_fn is None and t.requires_grad]
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        if node in stops:
            continue
        leaf = getattr(node, "variable", None)  # AccumulateGrad nodes only
        if leaf is not None:
            leaves.append(leaf)
            continue
        if node._sequence_nr < start:
            raise NotImplementedError(
                "checkpoint(use_reentrant=False): the function reads a tensor that requires grad and is not a "
                "leaf from somewhere other than its arguments; pass it as an argument")
        nodes.append(node)
        stack += [nxt for nxt, _ in node.next_functions if nxt is not None and nxt not in seen]
    nodes.sort(key=lambda n: n._sequence_nr)
    unique = {id(t): t for t in leaves}
    return nodes, list(unique.values())


def _detached(tensors):
    return [t.detach().requires_grad_(t.requires_grad) for t in tensors]


def _saved_metadata(nodes):
    return [{"shape": m[0], "dtype": m[1]} for n in nodes for m in n._saved_meta() if m is not None]


class _Frame:
    """What recomputation needs: the function, its arguments without their tensors, the random state and
    the leaves the function reads besides its arguments."""

    def __init__(self, fn, args, kwargs, preserve, rng_state, recompute_context, check):
        self.fn, self.args, self.kwargs = fn, args, kwargs
        self.preserve, self.rng_state = preserve, rng_state
        self.recompute_context = recompute_context
        self.check = check
        self.leaves = ()
        self.n_inputs = self.n_args = 0
        self.metadata = None
        self.output_grad = ()

    def run(self, inputs):
        """The function's outputs on these argument tensors."""
        return self.fn(*_replace(self.args, iter(inputs)), **_replace(self.kwargs, iter(inputs[self.n_args:])))


class _Checkpoint(Function):
    """One node for a checkpointed call: inputs are the argument tensors, then the leaves the function reads
    from elsewhere."""

    _node_name = "CheckpointBackward"

    @staticmethod
    def forward(ctx, frame, outputs, *inputs):
        ctx.frame = frame
        ctx.save_for_backward(*inputs[:frame.n_inputs])  # PyTorch checks the arguments' versions, not the leaves'
        outputs = tuple(o.detach() for o in outputs)
        ctx.mark_non_differentiable(*[o for o, g in zip(outputs, frame.output_grad) if not g])
        return outputs

    @staticmethod
    def backward(ctx, *grads):
        frame = ctx.frame
        create_graph = _C._is_grad_enabled()  # the engine runs backward in grad mode only for create_graph
        gate = [False]
        with _random.fork_rng(enabled=frame.preserve):
            if frame.preserve:
                _random.set_rng_state(frame.rng_state)
            start = _marker()
            if create_graph:
                detached = [_Gate.apply(gate, t) if t.requires_grad else t.detach() for t in ctx.saved_tensors]
            else:
                detached = _detached(ctx.saved_tensors)
            with _C.enable_grad(), frame.recompute_context:
                outputs = _flatten(frame.run(detached), [])
        if frame.check:
            _check_recomputed(frame.metadata, outputs, start, {t.grad_fn for t in detached if t.grad_fn is not None})
        pairs = [(o, g) for o, g, needed in zip(outputs, grads, frame.output_grad) if needed and o.requires_grad]
        wrt = [t for t in detached if t.requires_grad] + list(frame.leaves)
        if not pairs or not wrt:
            return (None, None) + (None,) * (len(detached) + len(frame.leaves))
        # not autograd.grad: a reentrant checkpoint inside must see the pass this backward belongs to
        got = iter(_C._run_grad([o for o, _ in pairs], wrt, [g for _, g in pairs], create_graph, create_graph,
                                True))
        gate[0] = True
        result = [next(got) if t.requires_grad else None for t in detached] + [next(got) for _ in frame.leaves]
        return (None, None) + tuple(result)


class _Gate(Function):
    """An argument as recomputation sees it when the checkpoint is differentiated twice (create_graph): the
    first-order gradients must then lead back to the real argument, but while they are taken no gradient may
    flow above it (the outer pass runs that part of the graph itself). Closed, it passes none; the checkpoint
    opens it once it has its gradients."""

    @staticmethod
    def forward(ctx, gate, t):
        ctx.gate = gate
        return t.detach()

    @staticmethod
    def backward(ctx, grad):
        return None, (grad if ctx.gate[0] else None)


def _check_recomputed(expected, outputs, start, gates):
    nodes, _ = _segment([o for o in outputs if o.requires_grad], start, gates)
    got = _saved_metadata(nodes)
    if len(got) != len(expected):
        raise CheckpointError(
            "torch.utils.checkpoint: A different number of tensors was saved during the original forward and "
            f"recomputation.\nNumber of tensors saved during forward: {len(expected)}\n"
            f"Number of tensors saved during recomputation: {len(got)}.\n{_DEBUG_TIP}")
    different = [(i, a, b) for i, (a, b) in enumerate(zip(expected, got)) if a != b]
    if different:
        lines = "".join(f"tensor at position {i}:\nsaved metadata: {a}\nrecomputed metadata: {b}\n"
                        for i, a, b in different)
        raise CheckpointError("torch.utils.checkpoint: Recomputed values for the following tensors have different "
                              f"metadata than during the forward pass.\n{lines}.\n{_DEBUG_TIP}")


def _checkpoint_without_reentrant(fn, preserve, context_fn, determinism_check, debug, args, kwargs):
    if _checkpoint_debug_enabled if _checkpoint_debug_enabled is not None else debug:
        if context_fn is not noop_context_fn:
            raise ValueError("debug=True is incompatible with non-default context_fn")
        raise NotImplementedError("checkpoint(debug=True): cgrad records no operator traces to print")
    if determinism_check not in _DETERMINISM_MODES:
        raise ValueError(f"determinism_check should be one of {list(_DETERMINISM_MODES)}, but got "
                         f"{determinism_check}")
    forward_context, recompute_context = context_fn()
    rng_state = _random.get_rng_state() if preserve else None
    if not _C._is_grad_enabled():
        return fn(*args, **kwargs)
    arg_tensors = _flatten(args, [])
    inputs = arg_tensors + _flatten(kwargs, [])
    slots = [_SLOT] * len(inputs)
    frame = _Frame(fn, _replace(args, iter(slots)), _replace(kwargs, iter(slots)), preserve, rng_state,
                   recompute_context, determinism_check == "default")
    frame.n_inputs = len(inputs)
    frame.n_args = len(arg_tensors)
    detached = _detached(inputs)
    start = _marker()
    suppressed = True
    with forward_context:
        out = frame.run(detached)
        suppressed = False
    if suppressed:
        raise RuntimeError("torch.utils.checkpoint: the forward context provided by context_fn suppressed an "
                           "exception raised during the checkpointed forward. This is not supported because "
                           "checkpoint cannot return a value for a failed forward.")
    outputs = _flatten(out, [])
    if not any(o.requires_grad for o in outputs):
        # nothing to differentiate, so nothing to recompute; an argument returned comes back itself
        originals = {id(d): t for d, t in zip(detached, inputs)}
        return _replace(out, iter([originals.get(id(o), o) for o in outputs]))
    nodes, leaves = _segment([o for o in outputs if o.requires_grad], start)
    aliases = {id(t) for t in detached}
    frame.leaves = tuple(t for t in leaves if id(t) not in aliases)
    frame.output_grad = tuple(o.requires_grad for o in outputs)
    if frame.check:
        frame.metadata = _saved_metadata(nodes)
    del nodes
    result = _Checkpoint.apply(frame, outputs, *inputs, *frame.leaves)
    return _replace(out, iter(result))
