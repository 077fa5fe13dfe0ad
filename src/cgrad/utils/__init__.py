"""cgrad.utils: data loading (cgrad.utils.data) and the handles hooks return (cgrad.utils.hooks)."""
from cgrad.utils import data, hooks

__all__ = ["data", "hooks"]
