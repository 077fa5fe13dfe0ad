"""Module backward hooks: the gradients with respect to a module's inputs and outputs, on their way back.

The module's tensor inputs, and then its tensor outputs, each pass through
one identity node (BackwardHookFunctionBackward, as in PyTorch): the
outputs' node sees the gradients of the outputs and runs the pre-hooks,
which may replace them; the inputs' node sees the gradients of the inputs
and runs the hooks with both, which may replace the inputs' gradients.
"""
import warnings

from cgrad._C import Tensor
from cgrad.autograd import Function
from cgrad.autograd.grad_mode import is_grad_enabled


class BackwardHookFunction(Function):
    """The identity on tensors; its backward hands the gradients to a callback (the first argument)."""

    @staticmethod
    def forward(ctx, callback, materialize, *tensors):
        ctx.callback = callback
        # a tensor that did not require grad still does not: the hooks get zeros for its gradient as an
        # input (materialize), None as an output, as PyTorch's do
        ctx.mark_non_differentiable(*[t for t in tensors if not t.requires_grad])
        ctx.set_materialize_grads(materialize)
        return tensors

    @staticmethod
    def backward(ctx, *grads):
        return (None, None) + tuple(ctx.callback(grads))


def _spread(positions, values, size):
    """A tuple of size entries: values at positions, None elsewhere."""
    out = [None] * size
    for i, v in zip(positions, values):
        out[i] = v
    return tuple(out)


class BackwardHooks:
    """The hooks of one call of a module."""

    def __init__(self, module, hooks, pre_hooks):
        self.module = module
        self.hooks = hooks
        self.pre_hooks = pre_hooks
        self.grad_outputs = None
        self.n_inputs = self.n_outputs = -1
        self.input_positions = self.output_positions = None

    def _through_identity(self, callback, materialize, args):
        positions = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        tensors = [args[i] for i in positions]
        if not (any(t.requires_grad for t in tensors) and is_grad_enabled()):
            return args, None
        passed = BackwardHookFunction.apply(callback, materialize, *tensors)
        out = list(args)
        for i, t in zip(positions, passed):
            out[i] = t
        return tuple(out), positions

    def setup_input_hook(self, args):
        res, self.input_positions = self._through_identity(self._inputs_backward, True, tuple(args))
        self.n_inputs = len(args)
        return res

    def setup_output_hook(self, output):
        single = not isinstance(output, tuple)
        args = (output,) if single else output
        res, self.output_positions = self._through_identity(self._outputs_backward, False, args)
        self.n_outputs = len(args)
        return res[0] if single else res

    def _inputs_backward(self, grads):
        if self.grad_outputs is None:  # the outputs' gradients never came: no hook to run
            return grads
        grad_input = _spread(self.input_positions, grads, self.n_inputs)
        for hook in self.hooks:
            out = hook(self.module, grad_input, self.grad_outputs)
            if out is None:
                continue
            if len(out) != len(grad_input):
                raise RuntimeError(f"Backward hook returned an invalid number of grad_input, got {len(out)}, but "
                                   f"expected {len(grad_input)}")
            grad_input = out
        self.grad_outputs = None
        return [grad_input[i] for i in self.input_positions]

    def _outputs_backward(self, grads):
        self.grad_outputs = _spread(self.output_positions, grads, self.n_outputs)
        for hook in self.pre_hooks:
            out = hook(self.module, self.grad_outputs)
            if out is None:
                continue
            if len(out) != len(self.grad_outputs):
                raise RuntimeError(f"Backward pre hook returned an invalid number of grad_output, got {len(out)}, "
                                   f"but expected {len(self.grad_outputs)}")
            self.grad_outputs = out
        grad_outputs = self.grad_outputs
        if self.input_positions is None:  # no input wants a gradient: the hooks run now, with None for them
            warnings.warn("Full backward hook is firing when gradients are computed with respect to module outputs "
                          "since no inputs require gradients. See https://docs.pytorch.org/docs/main/generated/"
                          "torch.nn.Module.html#torch.nn.Module.register_full_backward_hook for more details.",
                          stacklevel=5)
            for hook in self.hooks:
                res = hook(self.module, (None,) * self.n_inputs, self.grad_outputs)
                if res is not None and not (isinstance(res, tuple) and all(r is None for r in res)):
                    raise RuntimeError("Backward hook for Modules where no input requires gradient should always "
                                       "return None or None for all gradients.")
            self.grad_outputs = None
        return [grad_outputs[i] for i in self.output_positions]
