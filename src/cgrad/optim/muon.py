"""Muon: momentum SGD for 2-D parameters whose update is orthogonalised by a Newton-Schulz iteration.

The iteration is a handful of matrix products, which BLAS does, so a step runs as Python over tensor ops (under
no_grad). PyTorch runs the iteration in bfloat16; cgrad has no bfloat16 tensors, so it computes each product in
float32 and rounds the result to bfloat16's precision, which gives the values a bfloat16 product would: products
of bfloat16 numbers are exact in float32, and so are their sums unless their magnitudes differ widely, when the
BLAS's order of summation may differ from PyTorch's and, rarely, move a result by one bfloat16 ulp.
"""
import math

import numpy as np

from cgrad import _C
from cgrad._C import Tensor
from cgrad.autograd.grad_mode import no_grad
from cgrad.optim.optimizer import Optimizer, _value

__all__ = ["Muon"]

_ADJUST_LR_FNS = ("original", "match_rms_adamw")


def _round_to_bfloat16_(t):
    """Rounds the contiguous float32 tensor t in place to the nearest bfloat16 (ties to even), as a cast to
    bfloat16 does: bfloat16 is float32 with the low 16 bits of the significand dropped."""
    bits = t.numpy().view(np.uint32)
    nan = np.isnan(bits.view(np.float32))
    bits += np.uint32(0x7FFF) + ((bits >> np.uint32(16)) & np.uint32(1))
    bits &= np.uint32(0xFFFF0000)
    bits[nan] = np.uint32(0x7FC00000)
    return t


def _bfloat16(t):
    """A float32 copy of t holding t rounded to bfloat16 (from float64 through float32, as PyTorch casts)."""
    out = _C.empty(tuple(t.shape), dtype=_C.float32)
    out.copy_(t)
    return _round_to_bfloat16_(out)


def _newton_schulz(update, coefficients, steps, eps):
    """The update orthogonalised: normalised, then steps rounds of X <- a X + (b A + c A A) X with A = X X^T,
    on the wider orientation of the matrix, each product rounded to bfloat16."""
    if steps >= 100:
        raise ValueError("Number of steps must be less than 100 for computational efficiency")
    if len(coefficients) != 3:
        raise ValueError("Coefficients must be a tuple of exactly 3 values")
    a, b, c = coefficients
    x = _bfloat16(update)
    norm = _round_to_bfloat16_(x.norm().reshape(1))
    x = _round_to_bfloat16_(x / _round_to_bfloat16_(norm.clamp_(min=eps)))
    tall = update.size(0) > update.size(1)
    if tall:
        x = x.T
    for _ in range(steps):
        # PyTorch's bfloat16 addmm(input, m1, m2, beta, alpha) rounds alpha * (m1 @ m2) to float32, then adds
        # beta * input to it in one fma (add with alpha), and rounds that to bfloat16
        gram = _round_to_bfloat16_(x @ x.T)
        poly = _round_to_bfloat16_((gram @ gram).mul_(c).add_(gram, alpha=b))
        x = _round_to_bfloat16_((poly @ x).add_(x, alpha=a))
    return x.T if tall else x


def _adjusted_lr(lr, adjust_lr_fn, shape):
    rows, cols = shape[:2]
    if adjust_lr_fn is None or adjust_lr_fn == "original":
        return lr * max(1, rows / cols) ** 0.5  # Keller Jordan's: the update's RMS the same for any aspect ratio
    return lr * (0.2 * math.sqrt(max(rows, cols)))  # Moonshot's: the update's RMS that of AdamW's


class Muon(Optimizer):
    """Muon for 2-D parameters (the weights of hidden layers); others should use a standard optimizer."""

    _flag_defaults = {"nesterov": True, "adjust_lr_fn": None}

    def __init__(self, params, lr=1e-3, weight_decay=0.1, momentum=0.95, nesterov=True,
                 ns_coefficients=(3.4445, -4.775, 2.0315), eps=1e-7, ns_steps=5, adjust_lr_fn=None):
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if not 0.0 <= lr:
            raise ValueError(f"Learning rate should be >= 0 but is: {lr}")
        if not 0.0 <= momentum:
            raise ValueError(f"momentum should be >= 0 but is: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"weight decay should be >= 0 but is: {weight_decay}")
        if adjust_lr_fn is not None and adjust_lr_fn not in _ADJUST_LR_FNS:
            raise ValueError(f"Adjust learning rate function {adjust_lr_fn} is not supported")
        defaults = {"lr": lr, "weight_decay": weight_decay, "momentum": momentum, "nesterov": nesterov,
                    "ns_coefficients": ns_coefficients, "eps": eps, "ns_steps": ns_steps,
                    "adjust_lr_fn": adjust_lr_fn}
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                if p.ndim != 2:
                    raise ValueError(f"Muon only supports 2D parameters whereas we found a parameter with size: "
                                     f"{p.size()}")

    def step(self, closure=None):
        loss = self._begin_composed_step(closure)
        with no_grad():
            for group in self.param_groups:
                params = [p for p in group["params"] if p.grad is not None]
                for p in params:  # every buffer exists before any parameter is checked or moved
                    if not self.state[p]:
                        self.state[p]["momentum_buffer"] = _C.zeros(tuple(p.grad.shape), dtype=p.grad.dtype)
                for p in params:
                    if p.grad.ndim != 2:
                        raise ValueError("Param gradient must be a 2D matrix")
                    self._update(group, p, self.state[p]["momentum_buffer"])
        return loss

    @staticmethod
    def _update(group, p, buf):
        lr, momentum = _value(group["lr"]), group["momentum"]
        grad = p.grad
        buf.lerp_(grad, 1 - momentum)
        update = grad.lerp(buf, momentum) if group["nesterov"] else buf
        ortho = _newton_schulz(update, group["ns_coefficients"], group["ns_steps"], group["eps"])
        p.mul_(1 - lr * group["weight_decay"])
        p.add_(ortho.to(p.dtype), alpha=-_adjusted_lr(lr, group["adjust_lr_fn"], tuple(p.shape)))
