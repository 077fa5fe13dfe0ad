"""cgrad.utils: data loading (cgrad.utils.data), activation checkpointing (cgrad.utils.checkpoint) and the
handles hooks return (cgrad.utils.hooks)."""
from cgrad.utils import checkpoint, data, hooks

__all__ = ["checkpoint", "data", "hooks"]
