"""cgrad.utils: data loading (cgrad.utils.data), activation checkpointing (cgrad.utils.checkpoint), the
handles hooks return (cgrad.utils.hooks) and DLPack exchange (cgrad.utils.dlpack)."""
from cgrad.utils import checkpoint, data, dlpack, hooks

__all__ = ["checkpoint", "data", "dlpack", "hooks"]
