"""Adamax: Adam with an exponentially weighted infinity norm in place of the second moment."""
from cgrad import _C
from cgrad.optim.optimizer import Optimizer, _check_lr, _step_counter, _value

__all__ = ["Adamax"]


class Adamax(Optimizer):
    _state_keys = ("step", "exp_avg", "exp_inf")

    # filled in when a state dict of an older version is loaded (Optimizer.__setstate__)
    _flag_defaults = {"foreach": None, "maximize": False, "differentiable": False, "capturable": False}
    _scalar_keys = ("step",)

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, foreach=None, *,
                 maximize=False, differentiable=False, capturable=False):
        _check_lr(lr)
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= betas[0] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
        if not 0.0 <= betas[1] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if capturable or differentiable:
            raise NotImplementedError("Adamax(capturable / differentiable) is not supported")
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay, "foreach": foreach,
                    "maximize": maximize, "differentiable": differentiable, "capturable": capturable}
        super().__init__(params, defaults)

    def _init_state(self, group, p, state):
        state["step"] = _step_counter()
        state["exp_avg"] = _C.zeros(tuple(p.shape), dtype=p.dtype)
        state["exp_inf"] = _C.zeros(tuple(p.shape), dtype=p.dtype)

    def step(self, closure=None):
        loss = self._begin_step(closure)
        for group in self.param_groups:
            st = self._group_state(group)
            beta1, beta2 = group["betas"]
            _C._adamax_step(group["params"], st["step"], st["exp_avg"], st["exp_inf"], _value(group["lr"]),
                            _value(beta1), _value(beta2), _value(group["eps"]), _value(group["weight_decay"]),
                            bool(group["maximize"]))
        return loss
