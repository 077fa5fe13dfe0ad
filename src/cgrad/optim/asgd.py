"""ASGD: SGD with a decaying step size that also keeps a running average of the parameters (ax)."""
from cgrad import _C
from cgrad.optim.optimizer import Optimizer, _check_lr, _step_counter, _value

__all__ = ["ASGD"]


class ASGD(Optimizer):
    _state_keys = ("step", "eta", "mu", "ax")

    # filled in when a state dict of an older version is loaded (Optimizer.__setstate__)
    _flag_defaults = {"foreach": None, "maximize": False, "differentiable": False, "capturable": False}
    _scalar_keys = ("step", "eta", "mu")

    def __init__(self, params, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0, foreach=None,
                 maximize=False, differentiable=False, capturable=False):
        _check_lr(lr)
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if capturable or differentiable:
            raise NotImplementedError("ASGD(capturable / differentiable) is not supported")
        defaults = {"lr": lr, "lambd": lambd, "alpha": alpha, "t0": t0, "weight_decay": weight_decay,
                    "foreach": foreach, "maximize": maximize, "differentiable": differentiable,
                    "capturable": capturable}
        super().__init__(params, defaults)

    def _init_state(self, group, p, state):
        # eta (the step size) and mu (the averaging weight) are 0-d tensors the C step reads and rewrites,
        # as the step counter
        state["step"] = _step_counter()
        state["eta"] = _step_counter(_value(group["lr"]))
        state["mu"] = _step_counter(1.0)
        state["ax"] = _C.zeros(tuple(p.shape), dtype=p.dtype)

    def step(self, closure=None):
        loss = self._begin_step(closure)
        for group in self.param_groups:
            st = self._group_state(group)
            _C._asgd_step(group["params"], st["step"], st["eta"], st["mu"], st["ax"], _value(group["lr"]),
                          _value(group["lambd"]), _value(group["alpha"]), _value(group["t0"]),
                          _value(group["weight_decay"]), bool(group["maximize"]))
        return loss
