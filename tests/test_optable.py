"""docs/ops.md is generated from the code, and API.md's tensor API is all there."""
from pathlib import Path

import pytest

import cgrad
from cgrad import _optable

OPS_MD = Path(__file__).resolve().parent.parent / "docs" / "ops.md"

# Every name of API.md's sections "Creating tensors", "Tensor attributes and
# methods", "Operators and math" and "Shape and indexing".
FUNCTIONS = """tensor as_tensor from_numpy zeros ones empty full zeros_like ones_like full_like empty_like arange
linspace eye rand randn randint normal manual_seed Generator from_dlpack float32 float64 int64 bool
get_default_dtype set_default_dtype add sub mul div pow neg abs sign exp exp2 log log2 log1p expm1 sqrt rsqrt
sin cos tan tanh sigmoid relu sinh cosh asin acos atan atan2 erf reciprocal square clamp maximum minimum where
lerp sum mean prod var std amax amin max min argmax argmin logsumexp norm matmul mm bmm mv dot outer reshape
flatten unflatten squeeze unsqueeze transpose permute broadcast_to tile flip roll narrow
chunk split unbind cat stack gather scatter index_select masked_fill""".split()
METHODS = """requires_grad requires_grad_ grad grad_fn is_leaf retain_grad retains_grad backward detach detach_
register_hook data shape size dim ndim numel dtype T mT is_contiguous contiguous stride item tolist numpy
__array__ __dlpack__ __repr__ __len__ __iter__ __bool__ clone copy_ to float double long zero_ fill_ add_ sub_
mul_ div_ clamp_ __iadd__ __isub__ __imul__ __itruediv__ __add__ __sub__ __mul__ __truediv__ __floordiv__
__pow__ __matmul__ __neg__ __radd__ __rsub__ __rmul__ __rtruediv__ __rpow__ __eq__ __ne__ __lt__ __le__
__gt__ __ge__ reshape view flatten unflatten squeeze unsqueeze transpose permute expand expand_as broadcast_to
repeat tile flip roll narrow chunk split unbind __getitem__ __setitem__ gather scatter index_select
masked_fill""".split()


def test_ops_md_is_up_to_date():
    assert OPS_MD.is_file(), "docs/ops.md is missing: python -m cgrad._optable > docs/ops.md"
    assert OPS_MD.read_text() == _optable.generate(), (
        "docs/ops.md is stale: regenerate it with python -m cgrad._optable > docs/ops.md")


@pytest.mark.parametrize("name", FUNCTIONS)
def test_api_function_exists(name):
    assert hasattr(cgrad, name), f"cgrad.{name} is missing"


@pytest.mark.parametrize("name", METHODS)
def test_api_method_exists(name):
    assert hasattr(cgrad.Tensor, name), f"Tensor.{name} is missing"


def test_every_table_row_is_implemented_for_floats():
    missing = [name for _, name, accepted, _ in _optable.rows() if "float32" not in accepted]
    assert not missing, f"ops not implemented for float32: {missing}"
