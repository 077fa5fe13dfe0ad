"""cgrad.testing: PyTorch's torch.testing helpers for cgrad tensors.

`assert_close` compares tensors, numpy arrays, Python numbers, None and nested
sequences or mappings of them, with PyTorch's default tolerances and messages;
`make_tensor` builds random test tensors; `assert_allclose` is the deprecated
older form of `assert_close`.
"""
from cgrad.testing._comparison import assert_allclose, assert_close
from cgrad.testing._creation import make_tensor

__all__ = ["assert_allclose", "assert_close", "make_tensor"]
