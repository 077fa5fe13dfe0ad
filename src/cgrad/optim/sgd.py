"""Stochastic gradient descent, with momentum, dampening, Nesterov and weight decay."""
from cgrad import _C
from cgrad.optim.optimizer import Optimizer, _value

__all__ = ["SGD"]


class SGD(Optimizer):
    _state_keys = ("momentum_buffer",)

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *,
                 maximize=False, foreach=None, differentiable=False, fused=None):
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if differentiable or fused:
            raise NotImplementedError("SGD(differentiable=True / fused=True) is not supported")
        defaults = {"lr": lr, "momentum": momentum, "dampening": dampening, "weight_decay": weight_decay,
                    "nesterov": nesterov, "maximize": maximize, "foreach": foreach,
                    "differentiable": differentiable, "fused": fused}
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, defaults)

    def __setstate__(self, state):
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("nesterov", False)
            group.setdefault("maximize", False)
            group.setdefault("foreach", None)
            group.setdefault("differentiable", False)
            group.setdefault("fused", False)

    def step(self, closure=None):
        loss = self._begin_step(closure)
        for group in self.param_groups:
            momentum = _value(group["momentum"])
            if momentum != 0:
                bufs = self._group_state(group)["momentum_buffer"]
                cache = self._caches[id(group)]
            else:
                bufs, cache = None, None
            _C._sgd_step(group["params"], bufs, _value(group["lr"]), momentum, _value(group["dampening"]),
                         _value(group["weight_decay"]), bool(group["nesterov"]), bool(group["maximize"]))
            if cache is not None and cache.missing:  # the first step made momentum buffers
                params, still = group["params"], []
                for i in cache.missing:
                    if bufs[i] is not None:
                        self.state[params[i]]["momentum_buffer"] = bufs[i]
                    else:
                        still.append(i)
                cache.missing = still
        return loss
