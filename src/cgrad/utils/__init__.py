"""cgrad.utils: data loading (cgrad.utils.data) and activation checkpointing (cgrad.utils.checkpoint)."""
from cgrad.utils import checkpoint, data

__all__ = ["checkpoint", "data"]
