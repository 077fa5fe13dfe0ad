"""PyTorch's torch.testing: `assert_close`, `make_tensor` and the deprecated `assert_allclose`."""
from cgrad.testing._comparison import assert_allclose, assert_close
from cgrad.testing._creation import make_tensor

__all__ = ["assert_allclose", "assert_close", "make_tensor"]
