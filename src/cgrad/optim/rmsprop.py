"""RMSprop."""
from cgrad import _C
from cgrad.optim.optimizer import Optimizer, _step_counter, _value

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False,
                 capturable=False, foreach=None, maximize=False, differentiable=False):
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= momentum:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= alpha:
            raise ValueError(f"Invalid alpha value: {alpha}")
        if capturable or differentiable:
            raise NotImplementedError("RMSprop(capturable / differentiable) is not supported")
        defaults = {"lr": lr, "momentum": momentum, "alpha": alpha, "eps": eps, "centered": centered,
                    "weight_decay": weight_decay, "capturable": capturable, "foreach": foreach,
                    "maximize": maximize, "differentiable": differentiable}
        super().__init__(params, defaults)

    def __setstate__(self, state):
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("momentum", 0)
            group.setdefault("centered", False)
            group.setdefault("foreach", None)
            group.setdefault("maximize", False)
            group.setdefault("differentiable", False)
            group.setdefault("capturable", False)

    def _keys(self, group):
        keys = ("step", "square_avg")
        if group["momentum"] > 0:
            keys += ("momentum_buffer",)
        if group["centered"]:
            keys += ("grad_avg",)
        return keys

    def _init_state(self, group, p, state):
        if state:
            return
        state["step"] = _step_counter()
        state["square_avg"] = _C.zeros(tuple(p.shape), dtype=p.dtype)
        if group["momentum"] > 0:
            state["momentum_buffer"] = _C.zeros(tuple(p.shape), dtype=p.dtype)
        if group["centered"]:
            state["grad_avg"] = _C.zeros(tuple(p.shape), dtype=p.dtype)

    def _group_state(self, group):
        self._state_keys = self._keys(group)
        return super()._group_state(group)

    def step(self, closure=None):
        loss = self._begin_step(closure)
        for group in self.param_groups:
            st = self._group_state(group)
            _C._rmsprop_step(group["params"], st["step"], st["square_avg"], st.get("grad_avg"),
                             st.get("momentum_buffer"), _value(group["lr"]), _value(group["alpha"]),
                             _value(group["eps"]), _value(group["weight_decay"]), _value(group["momentum"]),
                             bool(group["centered"]), bool(group["maximize"]))
        return loss
