"""cgrad.utils: data loading (cgrad.utils.data)."""
from cgrad.utils import data

__all__ = ["data"]
