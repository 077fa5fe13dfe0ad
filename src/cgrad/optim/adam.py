"""Adam and AdamW."""
from cgrad import _C
from cgrad.optim.optimizer import Optimizer, _step_counter, _value

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    _state_keys = ("step", "exp_avg", "exp_avg_sq")

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, *,
                 foreach=None, maximize=False, capturable=False, differentiable=False, fused=None,
                 decoupled_weight_decay=False):
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= betas[0] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
        if not 0.0 <= betas[1] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if capturable or differentiable or fused:
            raise NotImplementedError(f"{type(self).__name__}(capturable / differentiable / fused) is not supported")
        defaults = {"lr": lr, "betas": tuple(betas), "eps": eps, "weight_decay": weight_decay, "amsgrad": amsgrad,
                    "maximize": maximize, "foreach": foreach, "capturable": capturable,
                    "differentiable": differentiable, "fused": fused,
                    "decoupled_weight_decay": decoupled_weight_decay}
        super().__init__(params, defaults)

    def __setstate__(self, state):
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("amsgrad", False)
            group.setdefault("maximize", False)
            group.setdefault("foreach", None)
            group.setdefault("capturable", False)
            group.setdefault("differentiable", False)
            group.setdefault("decoupled_weight_decay", False)
            group.setdefault("fused", None)
            for p in group["params"]:
                st = self.state.get(p)
                if st and "step" in st and not isinstance(st["step"], _C.Tensor):
                    st["step"] = _step_counter(float(st["step"]))

    def _init_state(self, group, p, state):
        state["step"] = _step_counter()
        state["exp_avg"] = _C.zeros(tuple(p.shape), dtype=p.dtype)
        state["exp_avg_sq"] = _C.zeros(tuple(p.shape), dtype=p.dtype)
        if group["amsgrad"]:
            state["max_exp_avg_sq"] = _C.zeros(tuple(p.shape), dtype=p.dtype)

    def _group_state(self, group):
        # the amsgrad buffer is part of the state only when the group asks for it
        self._state_keys = Adam._state_keys + (("max_exp_avg_sq",) if group["amsgrad"] else ())
        return super()._group_state(group)

    def step(self, closure=None):
        loss = self._begin_step(closure)
        for group in self.param_groups:
            st = self._group_state(group)
            beta1, beta2 = group["betas"]
            _C._adam_step(group["params"], st["step"], st["exp_avg"], st["exp_avg_sq"], st.get("max_exp_avg_sq"),
                          _value(group["lr"]), _value(beta1), _value(beta2), _value(group["eps"]),
                          _value(group["weight_decay"]), bool(group["amsgrad"]), bool(group["maximize"]),
                          bool(group["decoupled_weight_decay"]))
        return loss


class AdamW(Adam):
    """Adam with decoupled weight decay (param *= 1 - lr * weight_decay before the update)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *,
                 maximize=False, foreach=None, capturable=False, differentiable=False, fused=None):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach, maximize=maximize,
                         capturable=capturable, differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True)

    def __setstate__(self, state):
        super().__setstate__(state)
        for group in self.param_groups:
            group["decoupled_weight_decay"] = True
