"""Rprop: per-element step sizes that grow while the gradient keeps its sign and shrink when it flips."""
from cgrad import _C
from cgrad.optim.optimizer import Optimizer, _check_lr, _step_counter, _value

__all__ = ["Rprop"]


class Rprop(Optimizer):
    _state_keys = ("step", "prev", "step_size")

    # filled in when a state dict of an older version is loaded (Optimizer.__setstate__)
    _flag_defaults = {"foreach": None, "maximize": False, "differentiable": False, "capturable": False}
    _scalar_keys = ("step",)

    def __init__(self, params, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), *, capturable=False, foreach=None,
                 maximize=False, differentiable=False):
        _check_lr(lr)
        if not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ValueError(f"Invalid eta values: {etas[0]}, {etas[1]}")
        if capturable or differentiable:
            raise NotImplementedError("Rprop(capturable / differentiable) is not supported")
        defaults = {"lr": lr, "etas": etas, "step_sizes": step_sizes, "foreach": foreach, "maximize": maximize,
                    "differentiable": differentiable, "capturable": capturable}
        super().__init__(params, defaults)

    def _init_state(self, group, p, state):
        # the learning rate only seeds the step sizes: later changes to it do not reach them, as in PyTorch
        state["step"] = _step_counter()
        state["prev"] = _C.zeros(tuple(p.shape), dtype=p.dtype)
        state["step_size"] = _C.full(tuple(p.shape), float(_value(group["lr"])), dtype=p.grad.dtype)

    def step(self, closure=None):
        loss = self._begin_step(closure)
        for group in self.param_groups:
            st = self._group_state(group)
            etaminus, etaplus = group["etas"]
            step_size_min, step_size_max = group["step_sizes"]
            _C._rprop_step(group["params"], st["step"], st["prev"], st["step_size"], _value(etaminus),
                           _value(etaplus), _value(step_size_min), _value(step_size_max), bool(group["maximize"]))
        return loss
