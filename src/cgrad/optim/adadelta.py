"""Adadelta: steps scaled by the ratio of running RMS of updates and of gradients."""
from cgrad import _C
from cgrad.optim.optimizer import Optimizer, _check_lr, _step_counter, _value

__all__ = ["Adadelta"]


class Adadelta(Optimizer):
    _state_keys = ("step", "square_avg", "acc_delta")

    # filled in when a state dict of an older version is loaded (Optimizer.__setstate__)
    _flag_defaults = {"foreach": None, "maximize": False, "differentiable": False, "capturable": False}
    _scalar_keys = ("step",)

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *, capturable=False,
                 maximize=False, differentiable=False):
        _check_lr(lr)
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if capturable or differentiable:
            raise NotImplementedError("Adadelta(capturable / differentiable) is not supported")
        defaults = {"lr": lr, "rho": rho, "eps": eps, "weight_decay": weight_decay, "maximize": maximize,
                    "capturable": capturable, "foreach": foreach, "differentiable": differentiable}
        super().__init__(params, defaults)

    def _init_state(self, group, p, state):
        state["step"] = _step_counter()
        state["square_avg"] = _C.zeros(tuple(p.shape), dtype=p.dtype)
        state["acc_delta"] = _C.zeros(tuple(p.shape), dtype=p.dtype)

    def step(self, closure=None):
        loss = self._begin_step(closure)
        for group in self.param_groups:
            st = self._group_state(group)
            _C._adadelta_step(group["params"], st["step"], st["square_avg"], st["acc_delta"], _value(group["lr"]),
                              _value(group["rho"]), _value(group["eps"]), _value(group["weight_decay"]),
                              bool(group["maximize"]))
        return loss
