"""cgrad.amp: PyTorch's automatic mixed precision API (autocast and GradScaler); see their modules."""
from cgrad.amp.autocast_mode import autocast, custom_bwd, custom_fwd, is_autocast_available
from cgrad.amp.grad_scaler import GradScaler

__all__ = ["GradScaler", "autocast", "custom_bwd", "custom_fwd", "is_autocast_available"]
