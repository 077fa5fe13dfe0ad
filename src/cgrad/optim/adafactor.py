"""Adafactor (Shazeer and Stern, 2018): the second moment of a matrix's gradient kept as its row and column means.

A step is a few reductions and an outer product per parameter, so it runs as Python over tensor ops (under
no_grad); the relative step size needs the parameter's RMS as a number each step, which also means a compiled
step that calls it runs eagerly. foreach=True is accepted and runs the same per-parameter update (PyTorch's
foreach variant may round its reductions differently from its own per-parameter one).
"""
from cgrad import _C
from cgrad._C import Tensor
from cgrad._dtypes import finfo
from cgrad.autograd.grad_mode import no_grad
from cgrad.optim.optimizer import Optimizer, _step_counter, _value

__all__ = ["Adafactor"]


class Adafactor(Optimizer):
    """Adafactor with PyTorch's choices: lr caps the relative step size and scales a decoupled weight decay;
    epsilon1 (the dtype's machine epsilon by default) floors the variance estimate, not the factors."""

    _flag_defaults = {"foreach": None, "maximize": False}
    _scalar_keys = ("step",)

    def __init__(self, params, lr=1e-2, beta2_decay=-0.8, eps=(None, 1e-3), d=1.0, weight_decay=0.0, *,
                 foreach=None, maximize=False):
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if not 0.0 <= lr:
            raise ValueError(f"Learning rate should be >= 0 but is: {lr}")
        if not 0.0 >= beta2_decay:
            raise ValueError(f"beta2_decay should be <= 0 but is: {beta2_decay}")
        if eps[0] is not None and not 0.0 <= eps[0]:
            raise ValueError(f"epsilon1 should be >= 0 but is: {eps[0]}")
        if not 0.0 <= eps[1]:
            raise ValueError(f"epsilon2 should be >= 0 but is: {eps[1]}")
        if not 1.0 <= d:
            raise ValueError(f"Clipping threshold d should be >= 1 but is: {d}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"weight_decay should be >= 0 but is: {weight_decay}")
        defaults = {"lr": lr, "beta2_decay": beta2_decay, "eps": eps, "d": d, "weight_decay": weight_decay,
                    "foreach": foreach, "maximize": maximize}
        super().__init__(params, defaults)

    def _init_state(self, group, p, state):
        state["step"] = _step_counter()
        if p.grad.dim() > 1:
            # the factors keep the reduced dimension (size 1), so that their product broadcasts to the grad
            shape = tuple(p.grad.shape)
            state["row_var"] = _C.zeros(shape[:-1] + (1,), dtype=p.grad.dtype)
            state["col_var"] = _C.zeros(shape[:-2] + (1, shape[-1]), dtype=p.grad.dtype)
        else:
            state["variance"] = _C.zeros(tuple(p.grad.shape), dtype=p.grad.dtype)

    def step(self, closure=None):
        loss = self._begin_composed_step(closure)
        with no_grad():
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is not None:
                        state = self.state[p]
                        if not state:
                            self._init_state(group, p, state)
                        self._update(group, p, state)
        return loss

    @staticmethod
    def _update(group, p, state):
        lr, weight_decay, d = _value(group["lr"]), group["weight_decay"], group["d"]
        eps1, eps2 = group["eps"]
        grad = -p.grad if group["maximize"] else p.grad
        if eps1 is None:
            eps1 = finfo(p.dtype).eps
        step = state["step"]
        step += 1
        t = float(step)
        one_minus_beta2_t = t ** group["beta2_decay"]  # beta2_t = 1 - t^beta2_decay
        rho_t = min(lr, 1 / (t ** 0.5))
        alpha = max(eps2, float(p.norm(2)) / (p.numel() ** 0.5)) * rho_t
        if weight_decay != 0:
            p.mul_(1 - lr * weight_decay)
        if grad.dim() > 1:
            # the mean of the squares along a dimension, as the squared norm over its length
            row_mean = grad.norm(dim=-1, keepdim=True).square_().div_(grad.size(-1))
            col_mean = grad.norm(dim=-2, keepdim=True).square_().div_(grad.size(-2))
            row_var, col_var = state["row_var"], state["col_var"]
            row_var.lerp_(row_mean, one_minus_beta2_t)
            col_var.lerp_(col_mean, one_minus_beta2_t)
            var_estimate = row_var @ col_var
            var_estimate.div_(row_var.mean(dim=-2, keepdim=True).clamp_(min=eps1))
        else:
            variance = state["variance"]
            variance.lerp_(grad.square(), one_minus_beta2_t)
            var_estimate = variance.clone()
        update = var_estimate.clamp_(min=eps1 * eps1).rsqrt_()
        update.mul_(grad)
        denom = max(1.0, float(update.norm(2)) / ((update.numel() ** 0.5) * d))
        p.add_(update, alpha=-alpha / denom)
